"""The fleet gauge: each managed stream's open shards and its peak write utilisation over the last hour.

Reads only: one ListShards per enabled stream (in parallel; 1,000 TPS per stream) and the fleet's IncomingBytes and
IncomingRecords in one batched GetMetricData (≤ 500 queries a call). The gauge function (template.yaml
GaugeFunction) publishes the readings as the metrics OpenShards and WriteUtilisation per Stream, which the dashboard
graphs per stream: CloudWatch cannot join a stream's IncomingBytes with a shard count by dimension in one SEARCH, so
the division is done here.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from autoscaler.app.ports import Clock, KinesisPort, MetricsPort
from autoscaler.config import AutoscalerConfig, StreamConfig
from autoscaler.core.capacity import write_utilisation
from autoscaler.core.errors import AutoscalerError
from autoscaler.core.limits import INCOMING_BYTES, INCOMING_RECORDS, WRITE_METRICS
from autoscaler.core.model import MetricSeries, Shard

GAUGE_WINDOW_SECONDS = 3_600  # one hour: the schedule's default period, so hourly runs see each minute once
GAUGE_PERIOD_SECONDS = 60  # Kinesis's write limits are per second; a minute's Sum is the finest stream-level grain
# CloudWatch publishes Kinesis's minutes a few minutes late: the window ends this long before the run, so its last
# minutes are complete (an absent minute would read as no writes, and the next window starts after it)
GAUGE_LAG_SECONDS = 300
GAUGE_READ_WORKERS = 8


class GaugeReading(NamedTuple):
    stream: str
    shards: int | None  # open shards now; None when they could not be listed (see error)
    # The busiest minute's max(bytes, records) as a share of the open shards' capacity (1.0 = at the limit). Minutes
    # without a datapoint count as no writes (a Sum's absent datapoint), so an idle stream reads 0.0. None: no shards.
    peak_utilisation: float | None
    error: str = ""


class FleetReadings(NamedTuple):
    readings: tuple[GaugeReading, ...]
    window: tuple[int, int]  # [start, end) epoch seconds
    metrics_error: str = ""  # the fleet's metrics could not be read: shard counts only


class FleetGauge:
    def __init__(
        self,
        *,
        config: AutoscalerConfig,
        kinesis: KinesisPort,
        metrics: MetricsPort,
        clock: Clock,
        workers: int = GAUGE_READ_WORKERS,
    ) -> None:
        self.config = config
        self.kinesis = kinesis
        self.metrics = metrics
        self.clock = clock
        self.workers = workers

    def window(self) -> tuple[int, int]:
        """GAUGE_WINDOW_SECONDS of whole minutes, [start, end), ending GAUGE_LAG_SECONDS before the current minute."""
        end = int(self.clock.now()) // GAUGE_PERIOD_SECONDS * GAUGE_PERIOD_SECONDS - GAUGE_LAG_SECONDS
        return end - GAUGE_WINDOW_SECONDS, end

    def read(self) -> FleetReadings:
        """A reading for every enabled stream of the config (disabled ones are not managed). An AWS error the adapters
        classify (not found, denied, throttled, metrics unavailable) is in the reading, not raised; an unclassified
        one (a lost connection) fails the run, which Lambda retries and the next hour repeats.

        The utilisation divides by the shards open now: a stream resharded within the window reads its minutes
        before the reshard against the new count (lower after a scale-up, higher after a scale-down)."""
        streams: Sequence[StreamConfig] = [c for c in self.config.streams if c.enabled]

        def list_one(cfg: StreamConfig) -> list[Shard] | AutoscalerError:
            try:
                return self.kinesis.list_open_shards(cfg.name)
            except AutoscalerError as exc:  # not found, denied, throttled: this stream only
                return exc

        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            listed = dict(zip([c.name for c in streams], pool.map(list_one, streams), strict=True))
        counted = [name for name, got in listed.items() if not isinstance(got, AutoscalerError) and got]
        start, end = self.window()
        series: dict[str, dict[str, dict[int, float]]] = {}
        metrics_error = ""
        if counted:
            try:
                series = self.metrics.fleet_series(
                    counted, WRITE_METRICS, start=start, end=end, period_seconds=GAUGE_PERIOD_SECONDS
                )
            except (AutoscalerError, OSError) as exc:
                metrics_error = f"write metrics unreadable: {exc}"
        readings = []
        for name, got in listed.items():
            if isinstance(got, AutoscalerError):
                readings.append(GaugeReading(name, None, None, f"cannot list its shards: {got}"))
            elif not got:
                readings.append(GaugeReading(name, None, None, "no open shards (is it being deleted?)"))
            elif metrics_error:
                readings.append(GaugeReading(name, len(got), None, metrics_error))
            else:
                readings.append(GaugeReading(name, len(got), _peak(series.get(name, {}), len(got), start, end)))
        return FleetReadings(tuple(readings), (start, end), metrics_error)


def _peak(got: dict[str, dict[int, float]], shards: int, start: int, end: int) -> float:
    """The window's minutes in order, an absent datapoint as 0 (no writes): e.g. 2 shards, the busiest minute
    90,000,000 bytes and 30,000 records → max(90e6 / (2 × 1 MiB × 60), 30,000 / (2 × 1,000 × 60)) = 0.715."""
    minutes = range(start, end, GAUGE_PERIOD_SECONDS)
    b, r = got.get(INCOMING_BYTES, {}), got.get(INCOMING_RECORDS, {})
    u = write_utilisation(
        MetricSeries(GAUGE_PERIOD_SECONDS, tuple(b.get(t, 0.0) for t in minutes)),
        MetricSeries(GAUGE_PERIOD_SECONDS, tuple(r.get(t, 0.0) for t in minutes)),
        shards,
    )
    return u.peak if u is not None else 0.0
