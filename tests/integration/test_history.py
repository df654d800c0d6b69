"""CloudWatch history for backtests: from_periods arithmetic, the segments and chunks by retention (pure), the exact
GetMetricData requests, paging and errors (Stubber), and per-minute values read back from moto."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from autoscaler.adapters.aws import history
from autoscaler.adapters.aws.history import Segment, chunk_window, fetch_history, history_segments
from autoscaler.core.errors import MetricsUnavailable, TraceError
from autoscaler.simulator.trace import from_history, from_periods

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 21, 2, 3, 25, tzinfo=UTC)
DAY = 86_400


def client() -> Any:
    return botocore.session.get_session().create_client("cloudwatch", region_name="us-east-1")


def at(text: str) -> datetime:
    """'11-06 02:10' in November 2026, UTC."""
    return datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def epoch(text: str) -> int:
    return int(at(text).timestamp())


def queries(period: int, stream: str = "orders") -> list[dict[str, Any]]:
    dims = [{"Name": "StreamName", "Value": stream}]
    return [
        {
            "Id": qid,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Kinesis", "MetricName": metric, "Dimensions": dims},
                "Period": period,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for qid, metric in (("b", "IncomingBytes"), ("r", "IncomingRecords"))
    ]


def request(period: int, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    params = {"MetricDataQueries": queries(period), "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending"}
    return {**params, **extra}


def result(qid: str, points: dict[datetime, float], status: str = "Complete") -> dict[str, Any]:
    return {"Id": qid, "StatusCode": status, "Timestamps": list(points), "Values": list(points.values())}


# --- from_periods ----------------------------------------------------------------------------------------------------


def test_from_periods_spreads_each_row_over_its_minutes() -> None:
    t = 1_700_000_100  # a whole minute (28,333,335 × 60)
    rows = [
        (t + 420, 60, 60.0, 0.0),  # minute 7 (rows may come in any order)
        (t + 30, 300, 5_000.0, 50.0),  # starts mid-minute: the trace starts at t, minutes 0–4 get 1,000 and 10 each
        (t + 300, 60, 120.0, 6.0),  # minute 5; minute 6 has no row: 0
    ]
    trace = from_periods("orders", rows, source="test")
    assert (trace.name, trace.start, trace.source_period_seconds) == ("orders", t, 60)
    assert list(trace.bytes) == [1_000.0] * 5 + [120.0, 0.0, 60.0]
    assert list(trace.records) == [10.0] * 5 + [6.0, 0.0, 0.0]
    assert sum(trace.bytes) == 5_000 + 120 + 60  # spreading keeps the Sums


def test_from_periods_only_coarse_rows_and_bad_input() -> None:
    trace = from_periods("s", [(600, 300, 300.0, 3.0), (1_200, 300, 600.0, 6.0)], source="test")
    # 600 → minutes 0–4 at 60 each, 900 missing → minutes 5–9 zero, 1,200 → minutes 10–14 at 120 each
    assert list(trace.bytes) == [60.0] * 5 + [0.0] * 5 + [120.0] * 5
    assert trace.source_period_seconds == 300
    with pytest.raises(TraceError, match="no rows"):
        from_periods("s", [], source="test")
    with pytest.raises(TraceError, match="whole number of minutes"):
        from_periods("s", [(0, 90, 1.0, 1.0)], source="test")


# --- segments and chunks (pure arithmetic) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        # end = now floored to the minute (02:03:00 Nov 21); 1 day back from 02:03:25 rounds up to 02:04
        (1, [Segment(epoch("11-20 02:04"), epoch("11-21 02:03"), 60)]),
        # 15 days back would start 02:03:25 Nov 6, but 1-minute data must start ≥ 5 min inside the 15 days: 02:09
        (15, [Segment(epoch("11-06 02:09"), epoch("11-21 02:03"), 60)]),
        # beyond 15 days: 5-minute Sums up to the first 300 s boundary ≥ 02:08:25 Nov 6 (02:10), 1-minute after it
        (
            20,
            [
                Segment(epoch("11-01 02:05"), epoch("11-06 02:10"), 300),
                Segment(epoch("11-06 02:10"), epoch("11-21 02:03"), 60),
            ],
        ),
        # 63 days back is 02:03:25 Sep 19, the very edge of 5-minute retention: start ≥ 5 min inside it (02:10)
        (
            63,
            [
                Segment(epoch("09-19 02:10"), epoch("11-06 02:10"), 300),
                Segment(epoch("11-06 02:10"), epoch("11-21 02:03"), 60),
            ],
        ),
    ],
)
def test_history_segments_follow_cloudwatch_retention(days: int, expected: list[Segment]) -> None:
    segments = history_segments(days, NOW.timestamp())
    assert segments == expected
    assert all(s.start % s.period == 0 and s.end % s.period == 0 for s in segments)


@pytest.mark.parametrize("days", [0, 64, 90])
def test_history_segments_refuse_days_outside_retention(days: int) -> None:
    with pytest.raises(TraceError, match=r"at most 63 days|at least 1 day"):
        history_segments(days, NOW.timestamp())


def test_chunk_window_keeps_each_call_within_100800_datapoints() -> None:
    # 40 days at 60 s = 57,600 periods × 2 queries = 115,200 > 100,800: calls of 50,400 periods (35 days), then 7,200
    assert chunk_window(0, 40 * DAY, 60, queries=2) == [(0, 50_400 * 60), (50_400 * 60, 40 * DAY)]
    # what fetch_history actually asks for stays in one call: 15 days at 60 s = 43,200; 48 days at 300 s = 27,648
    assert chunk_window(0, 15 * DAY, 60, queries=2) == [(0, 15 * DAY)]
    assert chunk_window(0, 48 * DAY, 300, queries=2) == [(0, 48 * DAY)]


# --- Stubber: requests, paging, errors ------------------------------------------------------------------------------


def test_fetch_history_requests_both_metrics_per_call_by_segment_and_follows_pages() -> None:
    c = client()
    with Stubber(c) as stub:
        # older segment: 5-minute Sums, both queries in one call
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    result("b", {at("11-01 02:05"): 3_000.0, at("11-01 02:10"): 1_500.0}),
                    result("r", {at("11-01 02:05"): 30.0}),  # no records datapoint at 02:10: counted as 0
                ]
            },
            request(300, at("11-01 02:05"), at("11-06 02:10")),
        )
        # recent segment: 1-minute Sums, answered in two pages (PartialData + NextToken, then Complete)
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    result("b", {at("11-06 02:10"): 70.0}, "PartialData"),
                    result("r", {at("11-06 02:10"): 7.0}, "PartialData"),
                ],
                "NextToken": "page2",
            },
            request(60, at("11-06 02:10"), at("11-21 02:03")),
        )
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [result("b", {at("11-21 02:02"): 80.0}), result("r", {})]},
            request(60, at("11-06 02:10"), at("11-21 02:03"), NextToken="page2"),
        )
        trace = from_history(fetch_history(c, "orders", days=20, now=NOW.timestamp()))
        stub.assert_no_pending_responses()
    assert (trace.name, trace.start, trace.source_period_seconds) == ("orders", epoch("11-01 02:05"), 60)
    assert list(trace.bytes[:10]) == [600.0] * 5 + [300.0] * 5  # 3,000 / 5 and 1,500 / 5
    assert list(trace.records[:10]) == [6.0] * 5 + [0.0] * 5
    recent = (epoch("11-06 02:10") - trace.start) // 60  # 5 days 5 minutes = 7,205
    assert recent == 7_205
    assert trace.bytes[10:recent] == [0.0] * (recent - 10)  # no datapoints: no writes
    assert (trace.bytes[recent], trace.records[recent]) == (70.0, 7.0)
    assert trace.minutes == (epoch("11-21 02:03") - trace.start) // 60  # ends with the last datapoint's minute
    assert (trace.bytes[-1], trace.records[-1]) == (80.0, 0.0)


def test_fetch_history_chunks_a_call_that_would_exceed_the_datapoint_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # fetch_history never gets near 100,800 within 63 days (see above), so lower the limit: 1,000 datapoints over 2
    # queries = 500 minutes a call; 1 day = [Nov 20 02:04, Nov 21 02:03) = 1,439 minutes → 500 + 500 + 439
    monkeypatch.setattr(history, "MAX_DATAPOINTS_PER_CALL", 1_000)
    first = at("11-20 02:04")
    bounds = [first, first + timedelta(minutes=500), first + timedelta(minutes=1_000), at("11-21 02:03")]
    c = client()
    with Stubber(c) as stub:
        for (start, end), value in zip(itertools.pairwise(bounds), (1.0, 2.0, 3.0), strict=True):
            stub.add_response(
                "get_metric_data",
                {"MetricDataResults": [result("b", {start: value}), result("r", {start: value})]},
                request(60, start, end),
            )
        trace = from_history(fetch_history(c, "orders", days=1, now=NOW.timestamp()))
        stub.assert_no_pending_responses()
    assert trace.start == epoch("11-20 02:04")
    assert (trace.bytes[0], trace.bytes[500], trace.bytes[1_000]) == (1.0, 2.0, 3.0)
    assert trace.minutes == 1_001


@pytest.mark.parametrize("status", ["Forbidden", "InternalError"])
def test_failed_statuses_raise_metrics_unavailable_saying_what_to_fix(status: str) -> None:
    c = client()
    with Stubber(c) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": [result("b", {}, status)]})
        with pytest.raises(MetricsUnavailable, match=rf"{status}.*cloudwatch:GetMetricData") as err:
            fetch_history(c, "orders", days=1, now=NOW.timestamp())
    assert "orders" in str(err.value)


def test_client_errors_raise_metrics_unavailable_with_the_code() -> None:
    c = client()
    with Stubber(c) as stub:
        stub.add_client_error("get_metric_data", "AccessDenied", http_status_code=403)
        with pytest.raises(MetricsUnavailable, match=r"AccessDenied.*cloudwatch:GetMetricData"):
            fetch_history(c, "orders", days=1, now=NOW.timestamp())


def test_more_than_63_days_is_refused_before_any_call() -> None:
    c = client()
    with Stubber(c) as stub:  # no response queued: any call would raise UnStubbedResponseError, not TraceError
        with pytest.raises(TraceError, match=r"--days 64: CloudWatch keeps .* 63 days .* at most 63 days"):
            fetch_history(c, "orders", days=64, now=NOW.timestamp())
        stub.assert_no_pending_responses()


def test_no_datapoints_at_all_is_a_trace_error() -> None:
    c = client()
    with Stubber(c) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": [result("b", {}), result("r", {})]})
        with pytest.raises(TraceError) as err:
            fetch_history(c, "ordres", days=1, now=NOW.timestamp())
    assert str(err.value) == (
        "stream ordres has no IncomingBytes/IncomingRecords datapoints in the last 1 days: nothing to backtest "
        "(is the name right, is it in this region?)"
    )


# --- moto: values put are values read -------------------------------------------------------------------------------


def test_fetch_history_reads_back_what_was_put_on_moto() -> None:
    def put(c: Any, metric: str, when: datetime, value: float, stream: str = "orders") -> None:
        c.put_metric_data(
            Namespace="AWS/Kinesis",
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": "StreamName", "Value": stream}],
                    "Timestamp": when,
                    "Value": value,
                }
            ],
        )

    with mock_aws():
        c = client()
        # older segment (5-minute Sums): 12:00 + 12:01 + 12:04 = 500 bytes in the 12:00 bucket, 100 a minute
        put(c, "IncomingBytes", at("11-03 12:00"), 100.0)
        put(c, "IncomingBytes", at("11-03 12:01"), 200.0)
        put(c, "IncomingBytes", at("11-03 12:04"), 200.0)
        put(c, "IncomingRecords", at("11-03 12:01"), 50.0)
        # recent segment (1-minute Sums): two datapoints in the 10:00 minute add up; records only in 10:01
        put(c, "IncomingBytes", at("11-20 10:00"), 600.0)
        put(c, "IncomingBytes", at("11-20 10:00") + timedelta(seconds=30), 60.0)
        put(c, "IncomingRecords", at("11-20 10:01"), 9.0)
        # left out: older than 20 days, another stream, the minute under way at `now`
        put(c, "IncomingBytes", at("10-30 12:00"), 9e9)
        put(c, "IncomingBytes", at("11-20 10:00"), 9e9, stream="other")
        put(c, "IncomingBytes", at("11-21 02:03") + timedelta(seconds=10), 9e9)
        trace = from_history(fetch_history(c, "orders", days=20, now=NOW.timestamp()))
    assert trace.start == epoch("11-03 12:00")
    assert list(trace.bytes[:6]) == [100.0] * 5 + [0.0]
    assert list(trace.records[:6]) == [10.0] * 5 + [0.0]
    i = (epoch("11-20 10:00") - trace.start) // 60
    assert (trace.bytes[i], trace.records[i]) == (660.0, 0.0)
    assert (trace.bytes[i + 1], trace.records[i + 1]) == (0.0, 9.0)
    assert trace.minutes == i + 2
    assert sum(trace.bytes) == pytest.approx(500 + 660)
    assert sum(trace.records) == pytest.approx(50 + 9)
