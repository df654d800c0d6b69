"""Capacity, alarm thresholds and utilisation: each case shows its arithmetic."""

from __future__ import annotations

import math

import pytest

from autoscaler.core.capacity import (
    AlarmKind,
    alarm_specs,
    alarm_threshold,
    bytes_capacity,
    records_capacity,
    shards_for_threshold,
    shards_needed,
    write_utilisation,
)
from autoscaler.core.model import MetricSeries

pytestmark = pytest.mark.unit
MiB = 1_048_576


@pytest.mark.parametrize(
    ("shards", "period", "want_bytes", "want_records"),
    [
        (1, 60, 1 * MiB * 60, 1 * 1_000 * 60),  # 62,914,560 B and 60,000 records a minute
        (4, 60, 4 * MiB * 60, 4 * 1_000 * 60),  # 251,658,240 B, 240,000 records
        (3, 300, 3 * MiB * 300, 3 * 1_000 * 300),  # 5-minute period: 943,718,400 B, 900,000 records
        (10_000, 60, 10_000 * MiB * 60, 10_000 * 1_000 * 60),
    ],
)
def test_capacity_of_n_shards(shards: int, period: int, want_bytes: int, want_records: int) -> None:
    assert bytes_capacity(shards, period) == want_bytes
    assert records_capacity(shards, period) == want_records


@pytest.mark.parametrize(
    ("kind", "shards", "period", "threshold", "want"),
    [
        # the real notification in tests/events/sns-alarm-incoming-bytes.json: 0.8 × 4 × 1 MiB × 60 = 201,326,592
        (AlarmKind.INCOMING_BYTES, 4, 60, 0.8, 201_326_592.0),
        # tests/events/sns-alarm-incoming-records.json: 0.8 × 4 × 1,000 × 60 = 192,000
        (AlarmKind.INCOMING_RECORDS, 4, 60, 0.8, 192_000.0),
        (AlarmKind.INCOMING_BYTES, 8, 60, 0.8, 402_653_184.0),  # doubling the shards doubles the threshold
        (AlarmKind.INCOMING_RECORDS, 1, 300, 0.5, 150_000.0),  # 0.5 × 1 × 1,000 × 300
        (AlarmKind.WRITE_THROTTLED, 4, 60, 0.8, 0.0),  # any throttling, whatever the count
    ],
)
def test_alarm_thresholds(kind: AlarmKind, shards: int, period: int, threshold: float, want: float) -> None:
    assert alarm_threshold(kind, shards, period, threshold) == pytest.approx(want)


def test_threshold_inverts_to_shard_count() -> None:
    assert shards_for_threshold(AlarmKind.INCOMING_BYTES, 201_326_592.0, 60, 0.8) == pytest.approx(4.0)
    assert shards_for_threshold(AlarmKind.INCOMING_RECORDS, 384_000.0, 60, 0.8) == pytest.approx(8.0)
    assert math.isnan(shards_for_threshold(AlarmKind.WRITE_THROTTLED, 0.0, 60, 0.8))


@pytest.mark.parametrize(
    ("bytes_", "records", "shards", "peak", "mean"),
    [
        # one datapoint: 0.5 × 2 shards of bytes; records 10% → peak 50%
        ([0.5 * 2 * MiB * 60], [0.1 * 2 * 1_000 * 60], 2, 0.5, 0.5),
        # records lead: 90% records vs 20% bytes
        ([0.2 * MiB * 60], [0.9 * 1_000 * 60], 1, 0.9, 0.9),
        # per datapoint max, then peak and mean: points (30%, 90%) → peak 0.9, mean 0.6
        ([0.3 * MiB * 60, 0.9 * MiB * 60], [0, 0], 1, 0.9, 0.6),
        # a period present only in the records series counts on its own: bytes pad with 0 at the old end
        ([0.4 * MiB * 60], [0.2 * 1_000 * 60, 0.1 * 1_000 * 60], 1, 0.4, (0.2 + 0.4) / 2),
    ],
)
def test_write_utilisation(bytes_: list[float], records: list[float], shards: int, peak: float, mean: float) -> None:
    u = write_utilisation(MetricSeries(60, tuple(bytes_)), MetricSeries(60, tuple(records)), shards)
    assert u is not None
    assert u.peak == pytest.approx(peak)
    assert u.mean == pytest.approx(mean)


@pytest.mark.parametrize(
    ("bytes_", "records", "refused", "shards", "peak", "demand"),
    [
        # records-bound: 4 shards × 1,000 × 60 = 240,000 records a minute, all accepted (100%) at 100 B each
        # (24,000,000 B = 9.5% of 251,658,240). 120,000 refused: records 120,000 / 240,000 = 0.5, bytes at the mean
        # size 120,000 × 100 / 251,658,240 = 0.048 → demand 1.0 + max(0.5, 0.048) = 1.5
        ([240_000 * 100.0], [240_000.0], (120_000.0,), 4, 1.0, 1.5),
        # bytes-bound: 2 shards × 1 MiB × 60 = 125,829,120 B a minute, all accepted in 12,288 records of 10,240 B
        # (records 12,288 / 120,000 = 10%). The largest refused datapoint is 6,144 (the 3,000 is ignored):
        # bytes 6,144 × 10,240 = 62,914,560 / 125,829,120 = 0.5, records 6,144 / 120,000 = 0.05 → 1.0 + 0.5 = 1.5
        ([2 * MiB * 60.0], [12_288.0], (3_000.0, 6_144.0), 2, 1.0, 1.5),
        # the mean record size is the window's: (60,000,000 + 0) B / (60,000 + 60,000) records = 500 B. Peak: the
        # first minute's bytes 60,000,000 / 62,914,560 = 0.954 vs records 1.0 → 1.0. Refused 30,000: records
        # 30,000 / 60,000 = 0.5, bytes 30,000 × 500 / 62,914,560 = 0.238 → demand 1.5
        ([60_000_000.0, 0.0], [60_000.0, 60_000.0], (0.0, 30_000.0), 1, 1.0, 1.5),
        # not at capacity and still refused (a hot shard): peak 50% of 1 shard's records, 6,000 refused at 10 B:
        # 6,000 / 60,000 = 0.1 → demand 0.5 + 0.1 = 0.6
        ([30_000 * 10.0], [30_000.0], (6_000.0,), 1, 0.5, 0.6),
        # nothing refused: demand is the peak (0.5 × 2 shards of bytes, records 10%)
        ([0.5 * 2 * MiB * 60], [0.1 * 2 * 1_000 * 60], (0.0, 0.0), 2, 0.5, 0.5),
        ([0.5 * 2 * MiB * 60], [0.1 * 2 * 1_000 * 60], (), 2, 0.5, 0.5),  # no throttle datapoint at all
        ([0.5 * 2 * MiB * 60], [0.1 * 2 * 1_000 * 60], None, 2, 0.5, 0.5),  # no throttle series given
    ],
)
def test_demand_adds_refused_writes(
    bytes_: list[float],
    records: list[float],
    refused: tuple[float, ...] | None,
    shards: int,
    peak: float,
    demand: float,
) -> None:
    throttled = MetricSeries(60, refused) if refused is not None else None
    u = write_utilisation(MetricSeries(60, tuple(bytes_)), MetricSeries(60, tuple(records)), shards, throttled)
    assert u is not None
    assert u.peak == pytest.approx(peak)
    assert u.demand == pytest.approx(demand)


def test_no_datapoints_is_no_utilisation() -> None:
    assert write_utilisation(MetricSeries(60), MetricSeries(60), 4) is None


@pytest.mark.parametrize(
    ("peak", "shards", "headroom", "want"),
    [
        (1.2, 4, 2.0, 10),  # 4.8 shards of load × 2 = 9.6 → 10
        (0.8, 6, 2.5, 12),  # 4.8 × 2.5 = 12 exactly (in floats 12.000000000000002: must not make it 13)
        (1.0, 4, 2.0, 8),  # 4 × 2 = 8 exactly
        (1.3, 4, 2.0, 11),  # 5.2 × 2 = 10.4 → 11
        (0.5, 4, 2.0, 4),  # 2 × 2 = 4: already there
        (0.1, 1, 2.0, 1),  # 0.1 × 2 = 0.2 → 1: never below 1
        (0.0, 5, 2.0, 1),  # no load → 1
        (0.81, 10, 2.0, 17),  # 8.1 × 2 = 16.2 → 17
        (0.6, 3, 1.5, 3),  # 1.8 × 1.5 = 2.7 → 3
    ],
)
def test_shards_needed(peak: float, shards: int, headroom: float, want: int) -> None:
    assert shards_needed(peak, shards, headroom) == want


def test_alarm_specs_for_a_stream() -> None:
    specs = {
        s.kind: s
        for s in alarm_specs(
            "kinesis-autoscaler",
            "orders",
            4,
            scale_up_threshold=0.8,
            period_seconds=60,
            evaluation_periods=2,
            datapoints_to_alarm=2,
        )
    }
    assert specs[AlarmKind.INCOMING_BYTES].name == "kinesis-autoscaler/orders/incoming-bytes"
    assert specs[AlarmKind.INCOMING_BYTES].threshold == 201_326_592.0
    assert specs[AlarmKind.INCOMING_RECORDS].comparison == "GreaterThanOrEqualToThreshold"
    throttle = specs[AlarmKind.WRITE_THROTTLED]
    assert (throttle.metric_name, throttle.comparison, throttle.threshold) == (
        "WriteProvisionedThroughputExceeded",
        "GreaterThanThreshold",
        0.0,
    )
    assert throttle.evaluation_periods == 1  # throttling is already a breach: act on the first minute


@pytest.mark.parametrize(
    ("utils", "rise_periods", "demand"),
    [
        # the last two minutes at 0.6 and 1.0 of 4 shards' capacity, 2 periods ahead: 1.0 + 2 × 0.4 = 1.8
        ([0.2, 0.6, 1.0], 2.0, 1.8),
        # falling: no projection above the last value; the window's peak (0.9) stands
        ([0.9, 0.8, 0.5], 2.0, 0.9),
        # flat at the top: nothing to add
        ([1.0, 1.0, 1.0], 2.0, 1.0),
        # turned off: the peak, as before
        ([0.2, 0.6, 1.0], 0.0, 1.0),
        # one datapoint: no rise to read
        ([0.7], 2.0, 0.7),
    ],
)
def test_a_rising_load_is_sized_for_where_it_is_going(utils: list[float], rise_periods: float, demand: float) -> None:
    cap = 4 * 1_048_576 * 60  # 4 shards' bytes per minute
    u = write_utilisation(
        MetricSeries(60, tuple(x * cap for x in utils)), MetricSeries(60, (1.0,) * len(utils)), 4, None, rise_periods
    )
    assert u is not None and u.demand == pytest.approx(demand)
    assert u.peak == pytest.approx(max(utils))
