"""MetricsPort contract: the same cases on FakeMetrics and on MetricsAdapter over moto's CloudWatch (frozen at NOW).

Times are written as the clock reads them: NOW is 14:03:25 UTC, so with 60 s periods a window ending "now" ends at
14:03:00 and the minute under way (14:03) is not in it. GetMetricData's batching, paging and failed statuses are the
adapter's alone and are proven on Stubber in tests/integration/test_cloudwatch_adapter.py and test_fleet_metrics.py.
"""

from __future__ import annotations

import pytest

from autoscaler.core.model import MetricSeries, StreamMetrics
from tests.contract.impls import T0, MetricsHarness

pytestmark = [pytest.mark.integration, pytest.mark.contract]
MINUTE = 60.0
M_1400 = T0 - 205  # 14:00:00 (NOW is 14:03:25 = 14:00 + 205 s)


def at(hh_mm: str, seconds: int = 0) -> float:
    """Epoch seconds of 14:MM or 13:MM (plus seconds) on NOW's day."""
    hours, minutes = (int(x) for x in hh_mm.split(":"))
    return M_1400 + (hours - 14) * 3600 + minutes * MINUTE + seconds


def test_write_metrics_is_aligned_oldest_first_and_leaves_missing_periods_out(metrics_impl: MetricsHarness) -> None:
    put = metrics_impl.put
    put("orders", "IncomingBytes", at("13:57", 30), 9e9, "")  # before the window [13:58, 14:03)
    put("orders", "IncomingBytes", at("14:00", 5), 300.0, "")
    put("orders", "IncomingBytes", at("14:00", 45), 1.0, "")  # same minute: summed
    put("orders", "IncomingBytes", at("14:01", 30), 200.0, "")
    put("orders", "IncomingBytes", at("14:02", 10), 100.0, "")
    put("orders", "IncomingBytes", at("14:03", 10), 7e9, "")  # the minute under way: after the window
    put("orders", "IncomingRecords", at("14:01"), 50.0, "")
    put("orders", "WriteProvisionedThroughputExceeded", at("14:02"), 40.0, "")
    put("other", "IncomingBytes", at("14:01"), 5e9, "")  # another stream's datapoint
    m = metrics_impl.port.write_metrics("orders", end=T0, lookback_seconds=300, period_seconds=60)
    # 13:58 and 13:59 have no datapoint: absent, not zero; 14:00 → 300 + 1, 14:01 → 200, 14:02 → 100
    assert m == StreamMetrics(
        incoming_bytes=MetricSeries(60, (301.0, 200.0, 100.0)),
        incoming_records=MetricSeries(60, (50.0,)),
        shard_incoming_bytes={},
        throttled_records=MetricSeries(60, (40.0,)),
    )


def test_write_metrics_sums_minutes_into_longer_periods(metrics_impl: MetricsHarness) -> None:
    for minute, value in [("13:46", 1.0), ("13:47", 2.0), ("13:55", 4.0), ("13:59", 8.0), ("14:00", 16.0)]:
        metrics_impl.put("orders", "IncomingBytes", at(minute), value, "")
    m = metrics_impl.port.write_metrics("orders", end=T0, lookback_seconds=900, period_seconds=300)
    # end 14:03:25 aligns down to 14:00; window [13:45, 14:00): 13:45 → 1 + 2, 13:50 → none, 13:55 → 4 + 8
    assert m.incoming_bytes == MetricSeries(300, (3.0, 12.0))


def test_write_metrics_window_is_whole_periods_when_the_lookback_is_not(metrics_impl: MetricsHarness) -> None:
    for minute, value in [("13:53", 1.0), ("13:56", 2.0), ("13:59", 4.0)]:
        metrics_impl.put("orders", "IncomingBytes", at(minute), value, "")
    m = metrics_impl.port.write_metrics("orders", end=T0, lookback_seconds=420, period_seconds=300)
    # 420 s is 1.4 periods: the window is the one whole period before 14:00, [13:55, 14:00) → 2 + 4; a window
    # starting at 13:53 would cut buckets that are not aligned to the period
    assert m.incoming_bytes == MetricSeries(300, (6.0,))


def test_write_metrics_sums_each_listed_shard_over_the_window(metrics_impl: MetricsHarness) -> None:
    put = metrics_impl.put
    put("orders", "IncomingBytes", at("14:00"), 30.0, "shardId-000000000001")
    put("orders", "IncomingBytes", at("14:02"), 40.0, "shardId-000000000001")
    put("orders", "IncomingBytes", at("13:50"), 9e9, "shardId-000000000001")  # before the window
    put("orders", "IncomingBytes", at("14:01"), 5.0, "shardId-000000000009")  # a shard not asked for
    put("orders", "IncomingBytes", at("14:01"), 1000.0, "")  # the stream-level series is another metric
    m = metrics_impl.port.write_metrics(
        "orders",
        end=T0,
        lookback_seconds=300,
        period_seconds=60,
        shard_ids=["shardId-000000000000", "shardId-000000000001"],
    )
    # shard 1: 30 + 40 over [13:58, 14:03); shard 0 has no datapoint: absent
    assert m.shard_incoming_bytes == {"shardId-000000000001": 70.0}
    assert m.incoming_bytes == MetricSeries(60, (1000.0,))


def test_write_metrics_of_a_silent_stream_is_empty_series(metrics_impl: MetricsHarness) -> None:
    m = metrics_impl.port.write_metrics("orders", end=T0, lookback_seconds=300, period_seconds=60, shard_ids=["s"])
    assert m == StreamMetrics(MetricSeries(60), MetricSeries(60), {}, MetricSeries(60))


def test_fleet_series_gives_every_stream_and_metric_keyed_by_period_start(metrics_impl: MetricsHarness) -> None:
    put = metrics_impl.put
    for minute, value in [("13:40", 1.0), ("13:41", 2.0), ("13:52", 4.0), ("13:59", 8.0)]:
        put("a", "IncomingBytes", at(minute), value, "")
    put("a", "IncomingBytes", at("13:30"), 9e9, "")  # before start
    put("a", "IncomingBytes", at("14:00"), 9e9, "")  # at end: excluded, the window is [start, end)
    put("b", "IncomingRecords", at("13:45", 20), 16.0, "")
    start, end = int(at("13:40")), int(at("14:00"))
    out = metrics_impl.port.fleet_series(
        ["a", "b", "quiet"], ["IncomingBytes", "IncomingRecords"], start=start, end=end, period_seconds=300
    )
    p = 300
    # a: 13:40 → 1 + 2, 13:45 → none, 13:50 → 4, 13:55 → 8; b: its record at 13:45:20 falls in [13:45, 13:50)
    assert out == {
        "a": {"IncomingBytes": {start: 3.0, start + 2 * p: 4.0, start + 3 * p: 8.0}, "IncomingRecords": {}},
        "b": {"IncomingBytes": {}, "IncomingRecords": {start + p: 16.0}},
        "quiet": {"IncomingBytes": {}, "IncomingRecords": {}},
    }
