"""Scale-down Lambda: the schedule (rate(6 hours) by default) and its own continuations.

Composition root, as handlers/scale_up.py: clients, config and the service built once per container.
Environment (template.yaml): AUTOSCALER_CONFIG, COOLDOWN_TABLE, AWS_LAMBDA_FUNCTION_NAME, POWERTOOLS_*.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit

from autoscaler.adapters.aws.notify import summary
from autoscaler.adapters.runtime import LambdaBudget, schedule_elsewhere
from autoscaler.app.scale_down import ScaleDownService, StreamOutcome
from autoscaler.core.errors import AutoscalerError
from autoscaler.events import Continuation, Rejected, continuation_payload, parse_scale_down_event
from autoscaler.handlers import container

logger, metrics = container.powertools(os.environ)
CONFIG, CONFIG_ERROR = container.load(os.environ)
CLIENTS = container.clients()
SERVICE = ScaleDownService(**container.ports(CONFIG, CLIENTS)) if CONFIG is not None else None
NOTIFIER = container.notifier(os.environ)

_METRIC = {StreamOutcome.MERGED: "ScaleDown", StreamOutcome.FAILED: "Errors"}


class RetryLater(AutoscalerError):
    """The run could not read the fleet's metrics or the lock table: Lambda retries the event (idempotent)."""


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Any, context: Any) -> dict[str, Any]:
    if SERVICE is None or CONFIG is None:
        logger.error("config invalid; nothing done", extra={"error": CONFIG_ERROR})
        metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
        return {"outcome": "error", "error": CONFIG_ERROR}
    parsed = parse_scale_down_event(event)
    if isinstance(parsed, Rejected):
        return container.ignored(logger, metrics, parsed.reason, parsed.detail)
    if not isinstance(parsed, Continuation):
        detail = schedule_elsewhere(parsed.account_id, parsed.region, context)
        if detail is not None:
            return container.ignored(logger, metrics, "other-account", detail)
    started = time.monotonic()
    try:
        run = SERVICE.run(LambdaBudget(context), continuation=parsed if isinstance(parsed, Continuation) else None)
    except AutoscalerError as exc:
        logger.exception("scale-down run failed", extra={"error": str(exc)})
        metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
        raise RetryLater(str(exc)) from exc
    seconds = time.monotonic() - started
    for result in run.results:
        if result.outcome is StreamOutcome.MERGED and result.decision is not None:
            d = result.decision
            NOTIFIER.notify(
                # a continuation's decision knows the count it started from only from newer hand-overs (else 0)
                f"kinesis-autoscaler: {result.stream} scaled down "
                + (f"{d.current} -> {result.after}" if d.current else f"to {result.after}"),
                summary(result.stream, "down", d.current or None, result.after, reason=d.message, seconds=seconds),
            )
        fields = result.log_fields()
        (logger.error if result.outcome is StreamOutcome.FAILED else logger.info)(
            "scale-down " + result.outcome.value, extra=fields
        )
        if result.after is not None:  # the dashboard's shard counts (template.yaml Dashboard)
            with single_metric(
                name="OpenShards", unit=MetricUnit.Count, value=result.after, namespace=metrics.namespace
            ) as g:
                g.add_dimension(name="Stream", value=result.stream)
        name = _METRIC.get(result.outcome, "Skipped" if result.outcome is StreamOutcome.SKIPPED else None)
        if name and CONFIG.stream(result.stream) is not None:  # a forged name never becomes a (billed) metric
            with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as m:
                m.add_dimension(name="Stream", value=result.stream)
        if name == "Skipped" or result.outcome is StreamOutcome.KEPT:  # refusals and keeps, by their reason
            why = result.decision.reason.value if result.decision else "unmanaged"
            with single_metric(name=name or "Kept", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as m:
                m.add_dimension(name="Reason", value=why)
    counts: dict[str, int] = {}
    for result in run.results:
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
    metrics.add_metric(name="StreamsEvaluated", unit=MetricUnit.Count, value=len(run.results))
    logger.info("scale-down run", extra={"counts": counts, "handed_on": run.continuation is not None})
    return {
        "results": [r.log_fields() for r in run.results],
        "counts": counts,
        "continuation": continuation_payload(run.continuation) if run.continuation else None,
        "metric_reads": run.metric_reads,
    }
