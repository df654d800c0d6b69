"""Gauge Lambda: on a schedule (GaugeSchedule, hourly by default), every managed stream's open shards and peak write
utilisation, published as the metrics OpenShards and WriteUtilisation per Stream for the dashboard. Reads only.

Composition root, as handlers/scale_up.py. Environment (template.yaml): AUTOSCALER_CONFIG, POWERTOOLS_*.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit

from autoscaler.adapters.aws.cloudwatch import MetricsAdapter
from autoscaler.adapters.aws.kinesis import KinesisAdapter
from autoscaler.adapters.runtime import SystemClock, schedule_elsewhere
from autoscaler.app.gauge import FleetGauge
from autoscaler.events import Rejected, ScheduledRun, parse_scale_down_event
from autoscaler.handlers import bootstrap

logger, metrics = bootstrap.powertools(os.environ)
CONFIG, CONFIG_ERROR = bootstrap.load(os.environ)
CLIENTS = bootstrap.clients()
GAUGE = (
    FleetGauge(
        config=CONFIG,
        kinesis=KinesisAdapter(CLIENTS.kinesis, SystemClock()),
        metrics=MetricsAdapter(CLIENTS.cloudwatch),
        clock=SystemClock(),
    )
    if CONFIG is not None
    else None
)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Any, context: Any) -> dict[str, Any]:
    if GAUGE is None:
        logger.error("config invalid; nothing done", extra={"error": CONFIG_ERROR})
        metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
        return {"outcome": "error", "error": CONFIG_ERROR}
    parsed = parse_scale_down_event(event)
    if not isinstance(parsed, ScheduledRun):  # the scale-down's continuations are not the gauge's to take
        reason, detail = (
            (parsed.reason, parsed.detail)
            if isinstance(parsed, Rejected)
            else ("unexpected-continuation", "a scale-down continuation sent to the gauge")
        )
        return bootstrap.ignored(logger, metrics, reason, detail)
    elsewhere = schedule_elsewhere(parsed.account_id, parsed.region, context)
    if elsewhere is not None:
        return bootstrap.ignored(logger, metrics, "other-account", elsewhere)
    fleet = GAUGE.read()
    failed = []
    for r in fleet.readings:
        if r.shards is not None:
            with single_metric(
                name="OpenShards", unit=MetricUnit.Count, value=r.shards, namespace=metrics.namespace
            ) as m:
                m.add_dimension(name="Stream", value=r.stream)
        if r.peak_utilisation is not None:
            with single_metric(
                name="WriteUtilisation",
                unit=MetricUnit.Percent,
                value=round(100 * r.peak_utilisation, 2),
                namespace=metrics.namespace,
            ) as m:
                m.add_dimension(name="Stream", value=r.stream)
        if r.error:
            failed.append(r.stream)
            logger.warning("stream not fully gauged", extra={"stream": r.stream, "error": r.error})
    if fleet.metrics_error:
        logger.error("write metrics unreadable; shard counts only", extra={"error": fleet.metrics_error})
        metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="StreamsGauged", unit=MetricUnit.Count, value=len(fleet.readings) - len(failed))
    logger.info("gauge run", extra={"streams": len(fleet.readings), "not_gauged": failed, "window": fleet.window})
    return {
        "outcome": "gauged",
        "window": list(fleet.window),
        "readings": [r._asdict() for r in fleet.readings],
        "not_gauged": failed,
    }
