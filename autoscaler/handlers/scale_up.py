"""Scale-up Lambda: SNS-delivered (or direct) CloudWatch alarm notifications, its own continuations, and its
schedule (AlarmSweepSchedule), which runs the re-arm sweep (app/sweeper.py).

Composition root: clients, config and the service are built once per container at import and reused while warm.
Environment (template.yaml sets these): AUTOSCALER_CONFIG, COOLDOWN_TABLE, AWS_LAMBDA_FUNCTION_NAME (Lambda's own),
POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit

from autoscaler.adapters.aws.notify import up_notice
from autoscaler.adapters.runtime import LambdaBudget, account_and_region, partition_of, schedule_elsewhere
from autoscaler.app.scale_up import Outcome, ScaleUpRequest, ScaleUpResult, ScaleUpService, request_from_alarm
from autoscaler.app.sweeper import AlarmSweeper, SweepRow
from autoscaler.config import AutoscalerConfig
from autoscaler.core.errors import AutoscalerError
from autoscaler.core.model import TriggerKind
from autoscaler.events import AlarmNotification, Continuation, Rejected, ScheduledRun, parse_scale_up_event, screen
from autoscaler.handlers import container

logger, metrics = container.powertools(os.environ)
CONFIG, CONFIG_ERROR = container.load(os.environ)
CLIENTS = container.clients()
PORTS = container.ports(CONFIG, CLIENTS) if CONFIG is not None else None
SERVICE = ScaleUpService(**PORTS) if CONFIG is not None and PORTS is not None else None
SWEEPER = (
    AlarmSweeper(
        config=CONFIG,
        kinesis=PORTS["kinesis"],
        alarms=PORTS["alarms"],
        cooldown=PORTS["cooldown"],
        clock=PORTS["clock"],
    )
    if CONFIG is not None and PORTS is not None
    else None
)
NOTIFIER = container.notifier(os.environ)


def _count(name: str, stream: str | None = None, reason: str | None = None) -> None:
    """One count in the function's metrics, one more with a Stream dimension when the stream is known, and one
    with a Reason dimension for refusals (Skipped by reason: rejected input codes, cooldown, lock-held, ...)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if stream:
        with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as per_stream:
            per_stream.add_dimension(name="Stream", value=stream)
    if reason:
        with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as per_reason:
            per_reason.add_dimension(name="Reason", value=reason)


def _rejected(item: Rejected) -> dict[str, Any]:
    return container.ignored(logger, metrics, item.reason, item.detail, item.message_id)


def _result(result: ScaleUpResult, seconds: float = 0.0) -> dict[str, Any]:
    fields = result.log_fields()
    if result.outcome is Outcome.SCALED and result.plan is not None:
        p = result.plan
        NOTIFIER.notify(
            *up_notice(
                result.stream, result.before, result.after, reason=p.decision, seconds=seconds, readers=p.for_readers
            )
        )
    if result.outcome in (Outcome.SCALED, Outcome.CONTINUED, Outcome.NOOP, Outcome.SKIPPED):
        logger.info("scale-up " + result.outcome.value, extra=fields)
    else:
        logger.error("scale-up " + result.outcome.value, extra=fields)
    if result.after is not None:  # the dashboard's shard counts (template.yaml Dashboard)
        with single_metric(
            name="OpenShards", unit=MetricUnit.Count, value=result.after, namespace=metrics.namespace
        ) as g:
            g.add_dimension(name="Stream", value=result.stream)
    name = {Outcome.SCALED: "ScaleUp", Outcome.FAILED: "Errors"}.get(result.outcome, "Skipped")
    reason = result.skip_reason or (result.outcome.value if name == "Skipped" else None)  # noop, continued
    _count(name, stream=result.stream, reason=reason)
    return fields


def _swept(rows: tuple[SweepRow, ...]) -> dict[str, Any]:
    """One line per stream found in ALARM; the metric Rearmed, in all and per Stream."""
    for row in rows:
        fields = {"stream": row.stream, "alarms": list(row.alarmed), "rearmed": row.rearmed, "why": row.why}
        if row.error:
            logger.error("sweep: stream not swept", extra=fields)
            _count("Errors", stream=row.stream)
        elif row.rearmed:
            logger.warning("sweep: re-armed alarms left in ALARM", extra=fields)
            _count("Rearmed", stream=row.stream)
        else:
            logger.info("sweep: alarms in ALARM left alone", extra=fields)
    return {
        "outcome": "swept",
        "rearmed": [r.stream for r in rows if r.rearmed],
        "left": {r.stream: r.why for r in rows if not r.rearmed and not r.error},
        "failed": [r.stream for r in rows if r.error],
    }


def _handle(
    event: Any, context: Any, service: ScaleUpService, sweeper: AlarmSweeper, config: AutoscalerConfig
) -> list[dict[str, Any]]:
    account, region = account_and_region(context)
    budget = LambdaBudget(context)
    out: list[dict[str, Any]] = []
    try:
        items = parse_scale_up_event(event)
    except Exception as exc:  # parse_scale_up_event never raises by contract; keep the handler's promise regardless
        items = [Rejected("unparseable", f"{type(exc).__name__}: {str(exc)[:200]}")]
    # the first SNS MessageId, as the parser bounded it, tags every line of the invocation
    ids = (i.message_id for i in items if isinstance(i, (AlarmNotification, Rejected)) and i.message_id)
    logger.set_correlation_id(next(ids, None))
    for item in items:
        try:
            if isinstance(item, Rejected):
                out.append(_rejected(item))
            elif isinstance(item, ScheduledRun):
                elsewhere = schedule_elsewhere(item.account_id, item.region, context)
                out.append(_rejected(Rejected("other-account", elsewhere)) if elsewhere else _swept(sweeper.sweep()))
            elif isinstance(item, Continuation):
                (handover,) = item.handovers  # the parser builds a scale-up continuation with exactly one
                if config.stream(handover.stream) is None:
                    out.append(_rejected(Rejected("unknown-stream", f"continuation for unmanaged {handover.stream!r}")))
                    continue
                request = ScaleUpRequest(
                    handover.stream, TriggerKind.OPERATOR, continuation=item, source="continuation"
                )
                started = time.monotonic()
                out.append(_result(service.scale_up(request, budget), time.monotonic() - started))
            elif isinstance(item, AlarmNotification):
                refusal = screen(
                    item,
                    account_id=account,
                    region=region,
                    managed=config.names,
                    partition=partition_of(context),
                    now=time.time(),
                    read_side=config.read_side_names,
                )
                if refusal is not None:
                    out.append(_rejected(refusal))
                    continue
                cfg = config.stream(item.stream)
                assert cfg is not None  # screen() checked membership
                logger.info(
                    "alarm",
                    extra={
                        "stream": item.stream,
                        "alarm": item.alarm_name,
                        "trigger": item.trigger.value,
                        "message_id": item.message_id,
                    },
                )
                started = time.monotonic()
                result = service.scale_up(request_from_alarm(item, cfg, config.alarm_name_prefix), budget)
                out.append(_result(result, time.monotonic() - started))
        except Exception as exc:  # one failing record must not lose the others: finish the batch first
            named = (
                None
                if isinstance(item, (Rejected, ScheduledRun))
                else item.handovers[0].stream
                if isinstance(item, Continuation)
                else item.stream
            )
            stream = named if named and config.stream(named) else None  # only a configured name becomes a dimension
            logger.exception("scale-up failed", extra={"stream": stream, "error": f"{type(exc).__name__}: {exc}"})
            _count("Errors", stream=stream)
            out.append({"outcome": "error", "retry": True, "error": f"{type(exc).__name__}: {exc}"})
    return out


class RetryLater(AutoscalerError):
    """A valid request failed for a reason a retry may cure (lock table down, an AWS error): Lambda retries the
    event twice, then hands it to the on-failure destination. Everything the handler does is idempotent."""


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Any, context: Any) -> dict[str, Any]:
    if SERVICE is None or SWEEPER is None or CONFIG is None:
        logger.error("config invalid; nothing done", extra={"error": CONFIG_ERROR})
        _count("Errors")
        return {"results": [{"outcome": "error", "error": CONFIG_ERROR}]}
    results = _handle(event, context, SERVICE, SWEEPER, CONFIG)
    failed = [r for r in results if r.get("retry")]
    if failed:
        raise RetryLater(f"{len(failed)} of {len(results)} requests failed: " + "; ".join(r["error"] for r in failed))
    return {"results": results}
