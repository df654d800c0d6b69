"""FakeMetrics and FakeAlarms: the metrics and alarm ports in memory, on a SimClock.

Metrics are stored as per-minute Sums and read back as raw Sum series aligned to the period, as GetMetricData
returns them (missing periods absent). A publication delay hides the newest datapoints, as CloudWatch does.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from autoscaler.adapters.fakes.clock import SimClock
from autoscaler.app.ports import AlarmInfo
from autoscaler.core.capacity import AlarmSpec
from autoscaler.core.errors import AlarmNotFound
from autoscaler.core.limits import INCOMING_BYTES, INCOMING_RECORDS, READ_METRICS, WRITE_THROTTLED, stat_of
from autoscaler.core.model import MetricSeries, ReadMetrics, StreamMetrics


class FakeMetrics:
    def __init__(self, clock: SimClock, *, delay_seconds: float = 0.0) -> None:
        self.clock = clock
        self.delay_seconds = delay_seconds
        # (stream, metric, shard_id or "") -> {minute_start_epoch: sum}
        self.data: dict[tuple[str, str, str], dict[int, float]] = defaultdict(dict)
        self.reads = 0
        self.fail_next: list[Exception] = []
        # Shard-level series computed on demand (the simulator: months × shards of datapoints would be too many to
        # store): (stream, shard id, minute start) -> IncomingBytes of that shard in that minute, or None.
        self.shard_source: Callable[[str, str, int], float | None] | None = None

    def put(self, stream: str, metric: str, at: float, value: float, shard_id: str = "") -> None:
        minute = int(at) // 60 * 60
        series = self.data[(stream, metric, shard_id)]
        if stat_of(metric) == "Maximum":  # a lag: the worst reader's, as CloudWatch's Maximum
            series[minute] = max(series.get(minute, value), value)
        else:
            series[minute] = series.get(minute, 0.0) + value

    def _period_sum(
        self, points: Mapping[int, float], bucket: int, period: int, visible_until: float, stat: str = "Sum"
    ) -> float | None:
        """Sum (or Maximum) of the published minutes of one period (None: no datapoint), by direct lookup: the
        simulator holds months of minutes, and a scan per query would make each read O(trace)."""
        values = []
        for t in range(bucket, bucket + period, 60):
            if t + 60 > visible_until:
                break
            v = points.get(t)
            if v is not None:
                values.append(v)
        if not values:
            return None
        return max(values) if stat == "Maximum" else sum(values)

    def write_metrics(
        self,
        stream: str,
        *,
        end: float,
        lookback_seconds: int,
        period_seconds: int,
        shard_ids: Sequence[str] = (),
        read: bool = False,
    ) -> StreamMetrics:
        self.reads += 1
        if self.fail_next:
            raise self.fail_next.pop(0)
        end_aligned = int(end) // period_seconds * period_seconds
        start = end_aligned - lookback_seconds // period_seconds * period_seconds  # whole periods, as the adapter
        visible_until = self.clock.now() - self.delay_seconds

        def series(metric: str, shard: str = "") -> list[float]:
            points: Mapping[int, float] = self.data.get((stream, metric, shard), {})
            if shard and self.shard_source is not None and metric == INCOMING_BYTES:
                source = self.shard_source
                lo = start // 60 * 60
                computed = {t: source(stream, shard, t) for t in range(lo, end_aligned, 60)}
                points = {t: v for t, v in computed.items() if v is not None}
            out = []
            for bucket in range(start, end_aligned, period_seconds):
                value = self._period_sum(points, bucket, period_seconds, visible_until, stat_of(metric))
                if value is not None:
                    out.append(value)
            return out

        return StreamMetrics(
            incoming_bytes=MetricSeries(period_seconds, tuple(series(INCOMING_BYTES))),
            incoming_records=MetricSeries(period_seconds, tuple(series(INCOMING_RECORDS))),
            shard_incoming_bytes={s: sum(series(INCOMING_BYTES, s)) for s in shard_ids if series(INCOMING_BYTES, s)},
            throttled_records=MetricSeries(period_seconds, tuple(series(WRITE_THROTTLED))),
            read=ReadMetrics(*(MetricSeries(period_seconds, tuple(series(m))) for m in READ_METRICS)) if read else None,
        )

    def fleet_series(
        self, streams: Sequence[str], metrics: Sequence[str], *, start: int, end: int, period_seconds: int
    ) -> dict[str, dict[str, dict[int, float]]]:
        self.reads += 1
        if self.fail_next:
            raise self.fail_next.pop(0)
        visible_until = self.clock.now() - self.delay_seconds
        out: dict[str, dict[str, dict[int, float]]] = {}
        for stream in streams:
            out[stream] = {}
            for metric in metrics:
                points = self.data.get((stream, metric, ""), {})
                series: dict[int, float] = {}
                if points:
                    for bucket in range(start, end, period_seconds):
                        value = self._period_sum(points, bucket, period_seconds, visible_until, stat_of(metric))
                        if value is not None:
                            series[bucket] = value
                out[stream][metric] = series
        return out


@dataclass(frozen=True)
class FakeAlarm:
    spec: AlarmSpec
    actions: tuple[str, ...]
    state: str = "INSUFFICIENT_DATA"  # AWS: new alarms start INSUFFICIENT_DATA (moto says OK)
    state_reason: str = ""


class FakeAlarms:
    def __init__(self) -> None:
        self.alarms: dict[str, FakeAlarm] = {}
        self.puts = 0
        self.set_ok_calls = 0
        self.version = 0  # bumped on every change: the simulator's evaluator re-reads the alarms when it moves
        self._lock = threading.Lock()

    def get_alarms(self, names: Sequence[str]) -> dict[str, AlarmInfo]:
        with self._lock:
            return {
                n: AlarmInfo(n, a.spec.threshold, a.spec.period_seconds, a.state)
                for n in names
                if (a := self.alarms.get(n)) is not None
            }

    def put_thresholds(self, thresholds: Mapping[str, float]) -> None:
        with self._lock:
            for name, threshold in thresholds.items():
                alarm = self.alarms.get(name)
                if alarm is None:
                    raise AlarmNotFound(f"alarm {name} does not exist")
                # PutMetricAlarm on an existing name overwrites the configuration and keeps the state.
                self.alarms[name] = replace(alarm, spec=alarm.spec._replace(threshold=threshold))
                self.puts += 1
                self.version += 1

    def set_ok(self, names: Sequence[str], reason: str) -> None:
        with self._lock:
            for name in names:
                alarm = self.alarms.get(name)
                if alarm is None:
                    raise AlarmNotFound(f"alarm {name} does not exist")
                self.alarms[name] = replace(alarm, state="OK", state_reason=reason)
                self.set_ok_calls += 1
                self.version += 1

    def alarmed(self, name_prefix: str) -> list[str]:
        with self._lock:
            return sorted(n for n, a in self.alarms.items() if n.startswith(name_prefix) and a.state == "ALARM")

    def ensure_alarms(self, specs: Sequence[AlarmSpec], action_arns: Sequence[str]) -> None:
        with self._lock:
            for spec in specs:
                old = self.alarms.get(spec.name)
                self.alarms[spec.name] = FakeAlarm(spec, tuple(action_arns), old.state if old else "INSUFFICIENT_DATA")
                self.puts += 1
                self.version += 1

    def set_state(self, name: str, state: str, reason: str) -> None:
        """CloudWatch's own evaluation moving an alarm (not part of the port: the evaluator calls it)."""
        with self._lock:
            alarm = self.alarms.get(name)
            if alarm is not None and alarm.state != state:
                self.alarms[name] = replace(alarm, state=state, state_reason=reason)
                self.version += 1
