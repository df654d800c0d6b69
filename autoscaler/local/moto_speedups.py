"""An indexed GetMetricData for the local moto server: the same results, without moto's quadratic scan.

moto 5.x answers each MetricStat query by scanning every datapoint of the window once per period: O(queries ×
periods × datapoints). Reading 24 h of 5-minute Sums for 500 streams (1,000 queries × 289 periods) takes ~16 s with
ONE datapoint per stream, minutes with a day of them: the emulator, not the autoscaler, would set every fleet figure.
This replacement groups the window's datapoints by metric once per call and buckets them by period arithmetic, then
lets moto's own Statistics compute each value. It handles MetricStat-only requests whose dimensions all carry
values; anything else (metric math, Metrics Insights, wildcard dimensions) goes to moto's implementation.
tests/integration/test_moto_speedups.py checks both give the same answers on random data.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

_STATE: dict[str, Any] = {}  # the replaced method, to fall back to and to restore


def _key(dimensions: list[Any]) -> tuple[tuple[str, str], ...] | None:
    """moto compares sorted(dimension lists) element by element; without None values that is (name, value)
    equality of the same sorted order — moto's own sort is used so the order matches its comparison exactly."""
    ordered = sorted(dimensions)
    if any(d.name is None or d.value is None for d in ordered):
        return None
    return tuple((d.name, d.value) for d in ordered)


def indexed_get_metric_data(
    self: Any,
    queries: list[dict[str, Any]],
    start_time: datetime,
    end_time: datetime,
    scan_by: str = "TimestampAscending",
) -> list[dict[str, Any]]:
    from moto.cloudwatch.models import Dimension, Statistics

    if not queries or any("MetricStat" not in q for q in queries):
        return _STATE["original"](self, queries, start_time, end_time, scan_by)  # type: ignore[no-any-return]
    start_time = start_time.replace(microsecond=0)
    end_time = end_time.replace(microsecond=0)
    if start_time >= end_time:
        return _STATE["original"](self, queries, start_time, end_time, scan_by)  # type: ignore[no-any-return]
    wanted = []
    for q in queries:
        dims = [Dimension(name=d["Name"], value=d["Value"]) for d in q["MetricStat"]["Metric"].get("Dimensions", [])]
        key = _key(dims) if dims else ()
        if key is None:
            return _STATE["original"](self, queries, start_time, end_time, scan_by)  # type: ignore[no-any-return]
        wanted.append((q, key))
    by_dims: dict[tuple[str, Any], list[Any]] = defaultdict(list)
    by_namespace: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for md in self.get_all_metrics():
        if not start_time <= md.timestamp < end_time:
            continue
        key = _key(md.dimensions)
        if key is None:  # a stored wildcard dimension: only moto's comparison knows what it matches
            return _STATE["original"](self, queries, start_time, end_time, scan_by)  # type: ignore[no-any-return]
        by_dims[(md.name, key)].append(md)
        by_namespace[(md.namespace, md.name)].append(md)
    results = []
    for q, key in wanted:
        stat_spec = q["MetricStat"]
        name, stat = stat_spec["Metric"]["MetricName"], stat_spec["Stat"]
        # moto matches on name + dimensions when the query has dimensions, else on namespace + name
        found = by_dims[(name, key)] if key else by_namespace[(stat_spec["Metric"]["Namespace"], name)]
        if stat_spec.get("Unit"):
            found = [md for md in found if md.unit == stat_spec["Unit"]]
        period = int(stat_spec["Period"])
        buckets: dict[int, list[Any]] = defaultdict(list)
        for md in found:
            buckets[int((md.timestamp - start_time).total_seconds()) // period].append(md)
        values, stamps = [], []
        for k in sorted(buckets):
            stats = Statistics([stat], start_time + timedelta(seconds=k * period))
            stats.metric_data = buckets[k]
            values.append(stats.get_statistics_for_type(stat))
            stamps.append(stats.timestamp)
        if scan_by == "TimestampDescending":
            values.reverse()
            stamps.reverse()
        if q.get("ReturnData", True):
            results.append(
                {
                    "id": q["Id"],
                    "label": q.get("Label") or f"{name} {stat}",
                    "values": values,
                    "timestamps": stamps,
                    "status_code": "Complete",
                }
            )
    return results


def install() -> None:
    """Replace moto's CloudWatch GetMetricData with the indexed one (idempotent)."""
    from moto.cloudwatch.models import CloudWatchBackend

    if _STATE.get("original") is None:
        _STATE["original"] = CloudWatchBackend.get_metric_data
        setattr(CloudWatchBackend, "get_metric_data", indexed_get_metric_data)  # noqa: B010 - patching a method


def uninstall() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    original = _STATE.pop("original", None)
    if original is not None:
        setattr(CloudWatchBackend, "get_metric_data", original)  # noqa: B010
