"""Capacity, alarm thresholds and utilisation: each case shows its arithmetic."""

from __future__ import annotations

import math

import pytest

from autoscaler.capacity import (
    AlarmKind,
    alarm_specs,
    alarm_threshold,
    bytes_capacity,
    records_capacity,
    shards_for_threshold,
    shards_needed,
    write_utilisation,
)
from autoscaler.model import MetricSeries

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


def test_no_datapoints_is_no_utilisation() -> None:
    assert write_utilisation(MetricSeries(60), MetricSeries(60), 4) is None


@pytest.mark.parametrize(
    ("peak", "shards", "target", "want"),
    [
        (1.2, 4, 0.6, 8),  # 4.8 shards of load / 0.6 = 8 exactly (float error must not make it 9)
        (1.3, 4, 0.6, 9),  # 5.2 / 0.6 = 8.67 → 9
        (0.6, 4, 0.6, 4),  # already at target
        (0.1, 1, 0.6, 1),  # never below 1
        (0.0, 5, 0.6, 1),
        (0.81, 10, 0.6, 14),  # 8.1 / 0.6 = 13.5 → 14
    ],
)
def test_shards_needed(peak: float, shards: int, target: float, want: int) -> None:
    assert shards_needed(peak, shards, target) == want


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
    assert specs[AlarmKind.INCOMING_BYTES].name == "kinesis-autoscaler-orders-incoming-bytes"
    assert specs[AlarmKind.INCOMING_BYTES].threshold == 201_326_592.0
    assert specs[AlarmKind.INCOMING_RECORDS].comparison == "GreaterThanOrEqualToThreshold"
    throttle = specs[AlarmKind.WRITE_THROTTLED]
    assert (throttle.metric_name, throttle.comparison, throttle.threshold) == (
        "WriteProvisionedThroughputExceeded",
        "GreaterThanThreshold",
        0.0,
    )
    assert throttle.evaluation_periods == 1  # throttling is already a breach: act on the first minute
