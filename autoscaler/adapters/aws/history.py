"""A stream's write history from CloudWatch, for `kinesis-autoscaler backtest` (simulator/trace.py from_history).

CloudWatch keeps 1-minute datapoints for 15 days and 5-minute datapoints for 63 days, and a GetMetricData query whose
StartTime lies beyond its period's retention returns no datapoints at all (MetricStat.Period in the API reference).
So the window [now - days, now) is read in up to two segments, oldest first:

    [start, edge)  Period 300   only when days > 15; start aligned up to 300 s (never beyond 63 days)
    [edge, end)    Period 60    edge = the first 300 s boundary inside the last 15 days; end = now floored to the minute

Both metrics ride in one call (two queries), with StartTime and EndTime aligned to the period (CloudWatch, and moto,
start buckets at StartTime). Paging, PartialData, InternalError/Forbidden and ClientErrors are handled by
MetricsAdapter.get_metric_data (aws/cloudwatch.py); throttling is retried by the client's standard retry mode
(aws/clients.py). No clock is read here: `now` is a parameter.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from autoscaler.adapters.aws.cloudwatch import MetricsAdapter, _query
from autoscaler.core.errors import MetricsUnavailable, TraceError
from autoscaler.core.limits import INCOMING_BYTES, INCOMING_RECORDS
from autoscaler.core.model import History

# The backtest command's, and the fleet function's capacity-mode estimator's (handlers/scale_down.py). It declares
# OPERATOR_ACTIONS, not IAM_ACTIONS: its one action is the MetricsAdapter's it reads through (cloudwatch.py
# METRICS_IAM_ACTIONS), which tests/integration/test_template.py already holds each function's role to.
OPERATOR_ACTIONS = ("cloudwatch:GetMetricData",)

DAY = 86_400
MINUTE_RETENTION_DAYS = 15  # 1-minute datapoints are kept 15 days
MAX_DAYS = 63  # 5-minute datapoints are kept 63 days; older history only exists as 1-hour Sums
FINE_PERIOD = 60
COARSE_PERIOD = 300
# Kept clear of a retention edge: the request reaches CloudWatch a little after `now` (and SigV4 tolerates 5 minutes
# of clock skew); a StartTime past the edge would return nothing for the whole segment.
RETENTION_SLACK_SECONDS = 300
MAX_DATAPOINTS_PER_CALL = 100_800  # GetMetricData: at most 100,800 datapoints per call (all queries together)
METRICS = (("b", INCOMING_BYTES), ("r", INCOMING_RECORDS))


class Segment(NamedTuple):
    """[start, end) read with one Period; start and end are multiples of period."""

    start: int
    end: int
    period: int


def _ceil(t: float, step: int) -> int:
    return -(-math.ceil(t) // step) * step


def history_segments(days: int, now: float) -> list[Segment]:
    """The segments fetch_history reads, oldest first. Raises TraceError for days outside 1..63, before any call.

    Example, now = 2026-11-21 02:03:25, days = 20:
      end   = 02:03:00 Nov 21 (now floored to the minute: only whole minutes)
      edge  = ceil(02:03:25 Nov 6 + 300 s, 300 s) = 02:10:00 Nov 6
      start = ceil(02:03:25 Nov 1, 300 s) = 02:05:00 Nov 1
      → [Nov 1 02:05, Nov 6 02:10) at 300 s, [Nov 6 02:10, Nov 21 02:03) at 60 s
    """
    if days < 1:
        raise TraceError(f"--days {days}: a backtest needs at least 1 day of history")
    if days > MAX_DAYS:
        raise TraceError(
            f"--days {days}: CloudWatch keeps a stream's 5-minute datapoints for {MAX_DAYS} days (1-minute ones for "
            f"{MINUTE_RETENTION_DAYS}), so a backtest can look back at most {MAX_DAYS} days; use --days {MAX_DAYS} "
            "or less"
        )
    end = math.floor(now) // FINE_PERIOD * FINE_PERIOD
    oldest_fine = now - MINUTE_RETENTION_DAYS * DAY + RETENTION_SLACK_SECONDS
    if days <= MINUTE_RETENTION_DAYS:
        start = _ceil(max(now - days * DAY, oldest_fine), FINE_PERIOD)
        return [Segment(start, end, FINE_PERIOD)] if start < end else []
    edge = _ceil(oldest_fine, COARSE_PERIOD)  # a 300 s boundary, so both segments stay aligned to their periods
    oldest_coarse = now - MAX_DAYS * DAY + RETENTION_SLACK_SECONDS
    start = _ceil(max(now - days * DAY, oldest_coarse), COARSE_PERIOD)
    return [Segment(start, edge, COARSE_PERIOD), Segment(edge, end, FINE_PERIOD)]


def chunk_window(
    start: int, end: int, period: int, *, queries: int, max_datapoints: int = MAX_DATAPOINTS_PER_CALL
) -> list[tuple[int, int]]:
    """Split [start, end) into calls that each return at most `max_datapoints` datapoints in total.

    Each query returns one datapoint per period, so a call may span max_datapoints // queries periods: with 2 queries,
    50,400 periods (35 days at 60 s, 175 days at 300 s). Within 63 days that is never exceeded (at most 15 days × 1,440
    × 2 = 43,200 at 60 s and 48 days × 288 × 2 = 27,648 at 300 s): chunking is a guard, and the test lowers the limit.
    """
    step = max(1, max_datapoints // queries) * period
    return [(t, min(t + step, end)) for t in range(start, end, step)]


def fetch_history(cloudwatch_client: Any, stream: str, *, days: int, now: float) -> History:
    """The stream's IncomingBytes and IncomingRecords Sums over the last `days` days, one row per period with a
    datapoint (5-minute periods beyond the last 15 days, 1-minute after); a period with a bytes datapoint but no
    records datapoint (or the reverse) counts the missing one as 0. Raises TraceError for days outside 1..63 (before
    any AWS call) or when there is no datapoint at all, MetricsUnavailable when CloudWatch cannot answer.
    """
    segments = history_segments(days, now)
    adapter = MetricsAdapter(cloudwatch_client)
    dims = [{"Name": "StreamName", "Value": stream}]
    rows: list[tuple[int, int, float, float]] = []
    for segment in segments:
        queries = [_query(qid, metric, dims, segment.period) for qid, metric in METRICS]
        chunks = chunk_window(
            segment.start, segment.end, segment.period, queries=len(queries), max_datapoints=MAX_DATAPOINTS_PER_CALL
        )
        for start, end in chunks:
            try:
                results = adapter.get_metric_data(queries, start=start, end=end)
            except MetricsUnavailable as exc:
                raise MetricsUnavailable(
                    f"cannot read stream {stream}'s history from CloudWatch: {exc}. Check that these credentials "
                    "may call cloudwatch:GetMetricData (Forbidden, AccessDenied) in the stream's region; on "
                    "InternalError or Throttling, try again in a minute"
                ) from exc
            b, r = results.get("b", {}), results.get("r", {})
            for t in sorted(b.keys() | r.keys()):
                if start <= t < end:  # the chunks tile the window: a stray bucket must not be counted twice
                    rows.append((t, segment.period, b.get(t, 0.0), r.get(t, 0.0)))
    if not rows:
        raise TraceError(
            f"stream {stream} has no IncomingBytes/IncomingRecords datapoints in the last {days} days: nothing to "
            "backtest (is the name right, is it in this region?)"
        )
    return History(stream, tuple(rows), f"CloudWatch {stream} (last {days} days)")
