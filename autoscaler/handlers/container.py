"""What the scaling functions build once per container: handlers/bootstrap.py's logger, metrics, config and clients,
plus the notifier and the services' ports."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from autoscaler.adapters.aws.clients import Clients, build_client
from autoscaler.adapters.aws.compose import DEFAULT_TABLE, adapters
from autoscaler.adapters.aws.continuation import LambdaContinuation
from autoscaler.adapters.aws.notify import SnsNotifier
from autoscaler.adapters.runtime import SystemClock
from autoscaler.config import AutoscalerConfig
from autoscaler.handlers.bootstrap import clients, ignored, load, powertools

__all__ = ["clients", "ignored", "load", "notifier", "ports", "powertools"]


def notifier(environ: Mapping[str, str] = os.environ) -> SnsNotifier:
    """The notification topic (template: NotificationTopic, env NOTIFY_TOPIC_ARN); without it, summaries are off."""
    return SnsNotifier(lambda: build_client("sns"), environ.get("NOTIFY_TOPIC_ARN", ""))


def ports(config: AutoscalerConfig, clients: Clients, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The service's keyword arguments: adapters on these clients, continuation to this very function."""
    kwargs = adapters(clients, SystemClock(), table=environ.get("COOLDOWN_TABLE", DEFAULT_TABLE))
    kwargs["config"] = config
    kwargs["continuation"] = LambdaContinuation(clients.lambda_, environ.get("AWS_LAMBDA_FUNCTION_NAME", ""))
    return kwargs
