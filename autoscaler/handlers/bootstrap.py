"""What every Lambda function builds once per container, whatever it does: logger, metrics, config (or its error),
clients. The scaling functions wire their adapters on top of it (handlers/container.py); the read-only gauge takes
only the two it reads with (handlers/gauge.py)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

from autoscaler.adapters.aws.clients import Clients, build_clients
from autoscaler.config import AutoscalerConfig, config_path_from_env, load_config
from autoscaler.core.errors import ConfigError

# Powertools writes log lines with ensure_ascii=False, and Lambda's stdout is strict UTF-8: text from an event carrying
# a lone surrogate ("\ud800" is valid JSON) made every line that quoted it fail to encode and vanish, the refusal's
# own line included. ASCII escapes print every line; CloudWatch Logs Insights decodes them as JSON.
_log_json = functools.partial(json.dumps, default=str, separators=(",", ":"), ensure_ascii=True)


MAX_DETAIL_CHARS = 1_000  # a refusal's detail in a log line (the parsers bound what they quote; this bounds the rest)


def powertools(environ: Mapping[str, str]) -> tuple[Logger, Metrics]:
    logger = Logger(service=environ.get("POWERTOOLS_SERVICE_NAME", "kinesis-autoscaler"), json_serializer=_log_json)
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


def ignored(
    logger: Logger, metrics: Metrics, reason: str, detail: str, message_id: str | None = None
) -> dict[str, Any]:
    """An event refused before any AWS call, the same in every function: a warning naming the reason, Skipped
    counted in all and once more with a Reason dimension (the dashboard's refusals widget), and the answer. The
    detail is cut to MAX_DETAIL_CHARS: whatever a hostile event puts in it, the line stays bounded."""
    if len(detail) > MAX_DETAIL_CHARS:
        detail = f"{detail[:MAX_DETAIL_CHARS]}… ({len(detail):,} characters)"
    extra = {"reason": reason, "detail": detail}
    if message_id:
        extra["message_id"] = message_id
    logger.warning("ignored", extra=extra)
    metrics.add_metric(name="Skipped", unit=MetricUnit.Count, value=1)
    with single_metric(name="Skipped", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as per_reason:
        per_reason.add_dimension(name="Reason", value=reason)
    return {"outcome": "ignored", "reason": reason, "detail": detail}
