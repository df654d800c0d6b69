"""The fleet function: the scale-down schedule (rate(6 hours) by default) and its own continuations, and the
capacity-mode schedule (rate(1 hour): app/capacity_mode.py), told apart by the rule that fired.

Composition root, as handlers/scale_up.py: clients, config and the services built once per container; the
capacity-mode service gets its estimator here (the stream's CloudWatch history replayed by the simulator), so app/
never imports the simulator.
Environment (template.yaml): AUTOSCALER_CONFIG, COOLDOWN_TABLE, CAPACITY_MODE_RULE (the name of the capacity-mode
schedule's rule), AWS_LAMBDA_FUNCTION_NAME, POWERTOOLS_*.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit

from autoscaler.adapters.aws.history import fetch_history
from autoscaler.adapters.aws.notify import summary
from autoscaler.adapters.runtime import LambdaBudget, schedule_elsewhere
from autoscaler.app.capacity_mode import CapacityModeService, ModeOutcome
from autoscaler.app.scale_down import ScaleDownService, StreamOutcome
from autoscaler.core.errors import AutoscalerError
from autoscaler.events import Continuation, Rejected, ScheduledRun, continuation_payload, parse_scale_down_event
from autoscaler.handlers import container
from autoscaler.simulator.estimator import HistoryEstimator

logger, metrics = container.powertools(os.environ)
CONFIG, CONFIG_ERROR = container.load(os.environ)
CLIENTS = container.clients()
# One set of adapters for both jobs: the Kinesis adapter's rate limiters (DescribeStreamSummary, reshards) are per
# instance and stand for the function's share of the account's TPS; two sets would each claim the whole share.
PORTS = container.ports(CONFIG, CLIENTS) if CONFIG is not None else {}
SERVICE = ScaleDownService(**PORTS) if CONFIG is not None else None
MODES = (
    CapacityModeService(
        estimator=HistoryEstimator(
            lambda stream, days, now: fetch_history(CLIENTS.cloudwatch, stream, days=days, now=now),
            alarm_name_prefix=CONFIG.alarm_name_prefix,
        ),
        **PORTS,
    )
    if CONFIG is not None
    else None
)
MODE_RULE = os.environ.get("CAPACITY_MODE_RULE", "")
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
        if is_capacity_mode_rule(parsed):
            return capacity_mode_run(context)
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


def is_capacity_mode_rule(run: ScheduledRun) -> bool:
    """The capacity-mode schedule's rule fired (template.yaml names it; its ARN ends in :rule/<name>)."""
    return bool(MODE_RULE) and run.rule_arn.endswith(f":rule/{MODE_RULE}")


def capacity_mode_run(context: Any) -> dict[str, Any]:
    """Decide every stream with capacity_mode on-demand or auto, and switch the ones the decision moves."""
    assert MODES is not None and CONFIG is not None
    started = time.monotonic()
    results = MODES.run(LambdaBudget(context))  # never raises for one stream: each trouble is its own row
    seconds = time.monotonic() - started
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
        d = result.decision
        fields = result.log_fields()
        (logger.error if result.outcome is ModeOutcome.FAILED else logger.info)(
            "capacity mode " + result.outcome.value, extra=fields
        )
        if result.outcome is ModeOutcome.SWITCHED and d is not None:
            NOTIFIER.notify(
                f"kinesis-autoscaler: {result.stream} capacity mode {d.current.value} -> {d.target.value}",
                f"{result.stream} switched from {d.current.value} to {d.target.value} in {seconds:.0f} s "
                f"({result.after} open shards): {d.message}",
            )
        name = {ModeOutcome.SWITCHED: "ModeSwitch", ModeOutcome.FAILED: "Errors"}.get(result.outcome)
        if name and CONFIG.stream(result.stream) is not None:
            with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as m:
                m.add_dimension(name="Stream", value=result.stream)
        if result.outcome in (ModeOutcome.KEPT, ModeOutcome.SKIPPED) and d is not None:
            with single_metric(name="ModeKept", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as m:
                m.add_dimension(name="Reason", value=d.reason.value)
    metrics.add_metric(name="StreamsModeEvaluated", unit=MetricUnit.Count, value=len(results))
    logger.info("capacity-mode run", extra={"counts": counts})
    return {"job": "capacity-mode", "results": [r.log_fields() for r in results], "counts": counts}
