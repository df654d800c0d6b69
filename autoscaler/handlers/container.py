"""What both Lambda functions build once per container: logger, metrics, config (or its error), clients, ports."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from autoscaler.aws.clients import Clients, build_client, build_clients
from autoscaler.aws.compose import DEFAULT_TABLE, adapters
from autoscaler.aws.continuation import LambdaContinuation
from autoscaler.aws.notify import SnsNotifier
from autoscaler.config import AutoscalerConfig, config_path_from_env, load_config
from autoscaler.errors import ConfigError
from autoscaler.runtime import SystemClock


def powertools(environ: Mapping[str, str]) -> tuple[Logger, Metrics]:
    logger = Logger(service=environ.get("POWERTOOLS_SERVICE_NAME", "kinesis-autoscaler"))
    metrics = Metrics(namespace=environ.get("POWERTOOLS_METRICS_NAMESPACE", "KinesisAutoscaler"))
    copy_config_to_registered_loggers(source_logger=logger, include={"autoscaler"})  # service logs as JSON too
    return logger, metrics


def load(environ: Mapping[str, str]) -> tuple[AutoscalerConfig | None, str | None]:
    """The config, or why it is invalid: a broken streams.yaml must not crash every invocation into retries."""
    try:
        return load_config(config_path_from_env(environ)), None
    except ConfigError as exc:
        return None, str(exc)


def clients() -> Clients:
    """Built even when the config is broken, so a test can watch that such an invocation makes no call."""
    return build_clients()


def notifier(environ: Mapping[str, str] = os.environ) -> SnsNotifier:
    """The notification topic (template: NotificationTopic, env NOTIFY_TOPIC_ARN); without it, summaries are off."""
    return SnsNotifier(lambda: build_client("sns"), environ.get("NOTIFY_TOPIC_ARN", ""))


def ports(config: AutoscalerConfig, clients: Clients, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The service's keyword arguments: adapters on these clients, continuation to this very function."""
    kwargs = adapters(clients, SystemClock(), table=environ.get("COOLDOWN_TABLE", DEFAULT_TABLE))
    kwargs["config"] = config
    kwargs["continuation"] = LambdaContinuation(clients.lambda_, environ.get("AWS_LAMBDA_FUNCTION_NAME", ""))
    return kwargs
