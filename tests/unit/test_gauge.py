"""The fleet gauge on the doubles: open shards and the busiest minute's utilisation per enabled stream, reads only."""

from __future__ import annotations

import pytest

from autoscaler.app.gauge import FleetGauge, GaugeReading, _peak
from autoscaler.config import parse_config
from autoscaler.core.errors import MetricsUnavailable
from tests.conftest import World

pytestmark = pytest.mark.unit

MiB = 1_048_576
FLEET = """
streams:
  - {name: orders, min_shards: 1, max_shards: 64, desired_shards: 4}
  - {name: clicks, min_shards: 1, max_shards: 64, desired_shards: 2}
  - {name: idle, min_shards: 1, max_shards: 64, desired_shards: 1}
  - {name: paused, min_shards: 1, max_shards: 64, desired_shards: 1, enabled: false}
  - {name: gone, min_shards: 1, max_shards: 64, desired_shards: 1}
"""


def gauge(world: World) -> FleetGauge:
    return FleetGauge(config=world.config, kinesis=world.kinesis, metrics=world.metrics, clock=world.clock)


def fleet(world: World) -> World:
    world.config = parse_config(FLEET, source="test.yaml")
    for name, shards in (("orders", 4), ("clicks", 2), ("idle", 1), ("paused", 1)):  # "gone" was never created
        world.kinesis.create_stream(name, shards)
    world.traffic(0.5, 4, minutes=30, stream="orders")  # half of 4 shards for half an hour
    world.traffic(0.9, 4, minutes=8, stream="orders")  # and eight minutes at 90% (the window ends 5 minutes back)
    world.traffic(0.25, 2, minutes=10, stream="clicks")
    return world


def test_each_enabled_stream_gets_its_shards_and_busiest_minute(world: World) -> None:
    readings = {r.stream: r for r in gauge(fleet(world)).read().readings}
    assert set(readings) == {"orders", "clicks", "idle", "gone"}, "a disabled stream is not managed: not gauged"
    # orders: the busiest minute carries 0.5 + 0.9 of 4 shards' bytes (two datapoints land in it): 1.4
    assert readings["orders"].shards == 4
    assert readings["orders"].peak_utilisation == pytest.approx(1.4)
    # clicks: two datapoints at 25% of 2 shards in no minute together: 0.25
    assert readings["clicks"] == GaugeReading("clicks", 2, pytest.approx(0.25))  # type: ignore[arg-type]
    assert readings["idle"] == GaugeReading("idle", 1, 0.0), "no datapoint is no writes: 0%, not a gap"
    gone = readings["gone"]
    assert (gone.shards, gone.peak_utilisation) == (None, None) and "cannot list its shards" in gone.error


def test_the_window_is_an_hour_of_whole_minutes_ending_five_minutes_back(world: World) -> None:
    start, end = gauge(world).window()
    assert end % 60 == 0 and end + 300 <= world.clock.now() < end + 360  # CloudWatch's late minutes are left out
    assert end - start == 3600
    world.clock.advance(3600)
    assert gauge(world).window()[0] == end, "hourly runs tile the timeline: each minute is read once"


def test_unreadable_metrics_still_give_the_shard_counts(world: World) -> None:
    fleet(world)
    world.metrics.fail_next.append(MetricsUnavailable("GetMetricData failed (ThrottlingException)"))
    out = gauge(world).read()
    assert "ThrottlingException" in out.metrics_error
    orders = next(r for r in out.readings if r.stream == "orders")
    assert (orders.shards, orders.peak_utilisation) == (4, None) and "ThrottlingException" in orders.error


def test_the_gauge_only_reads(world: World) -> None:
    fleet(world)
    gauge(world).read()
    assert world.kinesis.reshard_calls() == []
    assert world.alarms.alarms == {} and world.cooldown.acquired == 0


def test_peak_takes_the_larger_of_bytes_and_records_per_minute() -> None:
    # 2 shards: 90,000,000 bytes → 90e6 / (2 × 1 MiB × 60) = 0.715; 30,000 records → 30,000 / (2 × 1,000 × 60) = 0.25
    got = {"IncomingBytes": {0: 90_000_000.0, 120: 1.0}, "IncomingRecords": {0: 30_000.0, 60: 110_000.0}}
    assert _peak({"IncomingBytes": got["IncomingBytes"]}, 2, 0, 180) == pytest.approx(90e6 / (2 * MiB * 60))
    # minute 60: no bytes datapoint (0) but 110,000 records → 110,000 / 120,000 = 0.917, the busiest minute
    assert _peak(got, 2, 0, 180) == pytest.approx(110_000 / 120_000)
    assert _peak({}, 2, 0, 180) == 0.0
