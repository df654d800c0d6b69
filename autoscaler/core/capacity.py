"""Write capacity of N shards, alarm thresholds for N shards (write and read side), and utilisation from raw Sum
datapoints. Pure."""

from __future__ import annotations

import enum
import math
from typing import NamedTuple

from autoscaler.core.defaults import MAX_ITERATOR_AGE_SECONDS
from autoscaler.core.limits import (
    INCOMING_BYTES,
    INCOMING_RECORDS,
    ITERATOR_AGE,
    READ_BYTES,
    READ_THROTTLED,
    SHARD_READ_BYTES_PER_S,
    SHARD_WRITE_BYTES_PER_S,
    SHARD_WRITE_RECORDS_PER_S,
    WRITE_THROTTLED,
)
from autoscaler.core.model import MetricSeries
from autoscaler.core.read_side import LAG_POINTS


class AlarmKind(enum.StrEnum):
    """The alarms the autoscaler keeps on a managed stream; the value is the alarm-name suffix. Every stream has the
    three write kinds; a stream with read_side: true has the three read kinds too (alarm_kinds)."""

    INCOMING_BYTES = "incoming-bytes"
    INCOMING_RECORDS = "incoming-records"
    WRITE_THROTTLED = "write-throttled"
    READ_BYTES = "read-bytes"
    READ_THROTTLED = "read-throttled"
    ITERATOR_AGE = "iterator-age"


WRITE_KINDS = (AlarmKind.INCOMING_BYTES, AlarmKind.INCOMING_RECORDS, AlarmKind.WRITE_THROTTLED)
READ_KINDS = (AlarmKind.READ_BYTES, AlarmKind.READ_THROTTLED, AlarmKind.ITERATOR_AGE)
# alarms that fire on any refusal, whatever the count: threshold 0, one datapoint
THROTTLE_KINDS = frozenset({AlarmKind.WRITE_THROTTLED, AlarmKind.READ_THROTTLED})


def alarm_kinds(read_side: bool) -> tuple[AlarmKind, ...]:
    """The kinds a stream keeps: the write side's always, the read side's when the config manages it."""
    return WRITE_KINDS + READ_KINDS if read_side else WRITE_KINDS


ALARM_METRIC: dict[AlarmKind, str] = {
    AlarmKind.INCOMING_BYTES: INCOMING_BYTES,
    AlarmKind.INCOMING_RECORDS: INCOMING_RECORDS,
    AlarmKind.WRITE_THROTTLED: WRITE_THROTTLED,
    AlarmKind.READ_BYTES: READ_BYTES,
    AlarmKind.READ_THROTTLED: READ_THROTTLED,
    AlarmKind.ITERATOR_AGE: ITERATOR_AGE,
}


def bytes_capacity(shards: int, period_seconds: int) -> float:
    """Bytes N shards may accept in one period: N × 1 MiB/s × period."""
    return float(shards * SHARD_WRITE_BYTES_PER_S * period_seconds)


def records_capacity(shards: int, period_seconds: int) -> float:
    """Records N shards may accept in one period: N × 1,000/s × period."""
    return float(shards * SHARD_WRITE_RECORDS_PER_S * period_seconds)


def alarm_threshold(
    kind: AlarmKind,
    shards: int,
    period_seconds: int,
    scale_up_threshold: float,
    max_iterator_age_ms: float = MAX_ITERATOR_AGE_SECONDS * 1000,
) -> float:
    """The threshold of an alarm for N shards.

    e.g. 4 shards, 60 s, 0.8 → bytes 0.8 × 4 × 1,048,576 × 60 = 201,326,592; records 0.8 × 4 × 1,000 × 60 = 192,000;
    bytes read 0.8 × 4 × 2,097,152 × 60 = 402,653,184 (the shared 2 MiB/s per shard). The throttle alarms fire on any
    refusal, whatever the count: threshold 0 with GreaterThanThreshold. The iterator-age alarm's threshold is the
    config's max_iterator_age_seconds in ms, whatever the count.
    """
    if kind is AlarmKind.INCOMING_BYTES:
        return scale_up_threshold * bytes_capacity(shards, period_seconds)
    if kind is AlarmKind.INCOMING_RECORDS:
        return scale_up_threshold * records_capacity(shards, period_seconds)
    if kind is AlarmKind.READ_BYTES:
        return scale_up_threshold * float(shards * SHARD_READ_BYTES_PER_S * period_seconds)
    if kind is AlarmKind.ITERATOR_AGE:
        return float(max_iterator_age_ms)
    return 0.0


def shards_for_threshold(kind: AlarmKind, threshold: float, period_seconds: int, scale_up_threshold: float) -> float:
    """Inverse of alarm_threshold: how many shards an alarm's threshold was set for (a float; NaN if unknowable)."""
    if kind not in SCALED_KINDS or period_seconds <= 0 or scale_up_threshold <= 0:
        return math.nan
    per_shard = alarm_threshold(kind, 1, period_seconds, scale_up_threshold)
    return threshold / per_shard


class Utilisation(NamedTuple):
    """Peak and mean write utilisation of a window, as fractions of N shards' capacity, and which dimension led.

    `demand` is the peak the producers asked for: the accepted peak plus what was refused (IncomingBytes and
    IncomingRecords count accepted writes only; a throttled stream's accepted peak sits at its capacity however
    high the demand is). Equal to `peak` when nothing was refused.
    """

    peak: float
    mean: float
    peak_bytes: float
    peak_records: float
    datapoints: int
    demand: float = 0.0
    projected: float = 0.0  # the last datapoint plus rise_periods × its rise over the one before (0: not asked)


MAX_RECORD_BYTES = 1_048_576 + 256


def write_utilisation(
    bytes_series: MetricSeries,
    records_series: MetricSeries,
    shards: int,
    throttled_records: MetricSeries | None = None,
    rise_periods: float = 0.0,
) -> Utilisation | None:
    """Utilisation of N shards from raw Sum series: per datapoint max(bytes/cap_bytes, records/cap_records).

    Datapoints are paired by position from the newest end; a period present in only one series is judged on that
    one alone (the other is treated as 0, which is what CloudWatch's absent datapoint means for a Sum).
    Returns None when neither series has any datapoint: no evidence, no utilisation.

    Demand adds the largest refused datapoint (WriteProvisionedThroughputExceeded counts records) to the peak, in
    records and in bytes at the window's mean record size: e.g. 4 shards, 60 s, accepted peak 240,000 records (100%)
    and 120,000 refused → demand 1.0 + 120,000 / 240,000 = 1.5. Producers retry, so refusals may count a record
    more than once: demand errs high, which only buys capacity sooner (bounded by the per-action step).

    rise_periods > 0 sizes for where a rising load is going, not only where it has been: the projection is the last
    datapoint plus rise_periods × its rise over the one before, and demand is the larger of the two. e.g. the last
    two minutes at 0.6 and 1.0 of capacity, rise_periods 2: projected 1.0 + 2 × 0.4 = 1.8. The delay it covers is
    CloudWatch's (~2 min) plus the reshard's; measured in docs/capacity-modes.md (reaction levers).
    """
    if shards <= 0:
        raise ValueError("shards must be positive")
    b, r = bytes_series.values, records_series.values
    n = max(len(b), len(r))
    if n == 0:
        return None
    cap_b = bytes_capacity(shards, bytes_series.period_seconds)
    cap_r = records_capacity(shards, records_series.period_seconds)
    bu = [0.0] * (n - len(b)) + [v / cap_b for v in b]
    ru = [0.0] * (n - len(r)) + [v / cap_r for v in r]
    per_point = [max(x, y) for x, y in zip(bu, ru, strict=True)]
    peak = max(per_point)
    demand = peak
    refused = max(throttled_records.values, default=0.0) if throttled_records is not None else 0.0
    if refused > 0:
        # mean bytes per record over the window, never above the largest record Kinesis accepts (1 MiB of data plus
        # a 256-byte partition key): datapoints that disagree cannot inflate the demand without bound
        size = min(sum(b) / sum(r), MAX_RECORD_BYTES) if sum(r) > 0 else 0.0
        cap_t = records_capacity(shards, throttled_records.period_seconds) if throttled_records else cap_r
        cap_tb = bytes_capacity(shards, throttled_records.period_seconds) if throttled_records else cap_b
        demand = peak + max(refused / cap_t, refused * size / cap_tb)
    projected = 0.0
    if rise_periods > 0 and n >= 2:
        projected = per_point[-1] + rise_periods * max(0.0, per_point[-1] - per_point[-2])
        demand = max(demand, projected)
    return Utilisation(
        peak=peak,
        mean=sum(per_point) / n,
        peak_bytes=max(bu),
        peak_records=max(ru),
        datapoints=n,
        demand=demand,
        projected=projected,
    )


def shards_needed(peak_utilisation: float, current_shards: int, headroom: float) -> int:
    """Smallest count with `headroom` × the peak load: ⌈peak × N × headroom⌉, at least 1.

    e.g. peak 1.2 on 4 shards (4.8 shards of load) with headroom 2 → ⌈9.6⌉ = 10.
    A tiny epsilon keeps exact multiples exact despite float error (4.8 × 2.5 = 12.000000000000002 → 12, not 13).
    """
    load = peak_utilisation * current_shards
    return max(1, math.ceil(load * headroom - 1e-9))


SCALED_KINDS = frozenset({AlarmKind.INCOMING_BYTES, AlarmKind.INCOMING_RECORDS, AlarmKind.READ_BYTES})  # N-dependent


class AlarmSpec(NamedTuple):
    """One scale-up alarm as the autoscaler wants it for a stream at N shards (PutMetricAlarm's fields)."""

    name: str
    kind: AlarmKind
    stream: str
    metric_name: str
    threshold: float
    period_seconds: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: str
    description: str


# "/" separates the parts of an alarm name: neither a prefix (config and template: a-z A-Z 0-9 _ . -) nor a stream
# name (Kinesis: the same characters) may contain it, so every name reads back one way only. With "-" as the
# separator, prefix "a" + stream "staging-orders" and prefix "a-staging" + stream "orders" gave the same name, and
# two deployments shared (and retuned) one alarm. CloudWatch allows any UTF-8 but control characters in a name.
ALARM_NAME_SEPARATOR = "/"


def alarm_name(prefix: str, stream: str, kind: AlarmKind) -> str:
    """<prefix>/<stream>/<kind>, e.g. kinesis-autoscaler/orders/incoming-bytes."""
    return f"{prefix}{ALARM_NAME_SEPARATOR}{stream}{ALARM_NAME_SEPARATOR}{kind.value}"


def legacy_alarm_name(prefix: str, stream: str, kind: AlarmKind) -> str:
    """The ambiguous <prefix>-<stream>-<kind> of earlier versions: create-streams renames those it made."""
    return f"{prefix}-{stream}-{kind.value}"


def alarm_stream(prefix: str, name: str) -> str | None:
    """The stream of any alarm named <prefix>/<stream>/<anything>: the autoscaler's own, or one an operator added
    for the stream (README, "Alarms the autoscaler acts on"); None for a name outside the prefix."""
    head = prefix + ALARM_NAME_SEPARATOR
    if not name.startswith(head):
        return None
    stream, sep, rest = name[len(head) :].partition(ALARM_NAME_SEPARATOR)
    return stream if stream and sep and rest else None


def parse_alarm_name(prefix: str, name: str) -> tuple[str, AlarmKind] | None:
    """(stream, kind) of a name alarm_name(prefix, …) made, or None: the one reading there is."""
    stream = alarm_stream(prefix, name)
    if stream is None:
        return None
    kind = name[len(prefix) + len(stream) + 2 :]
    known = {k.value: k for k in AlarmKind}
    return (stream, known[kind]) if kind in known else None


def alarm_specs(
    prefix: str,
    stream: str,
    shards: int,
    *,
    scale_up_threshold: float,
    period_seconds: int,
    evaluation_periods: int,
    datapoints_to_alarm: int,
    read_side: bool = False,
    max_iterator_age_ms: float = MAX_ITERATOR_AGE_SECONDS * 1000,
) -> list[AlarmSpec]:
    """The alarms of a stream at N shards: bytes and records at the scale-up threshold, and any throttling; with the
    read side, bytes read at the threshold of the shared read capacity, any refused read, and an iterator age above
    the bound for LAG_POINTS one-minute periods in a row (the planner then asks whether it keeps growing)."""
    out = []
    for kind in alarm_kinds(read_side):
        throttle = kind in THROTTLE_KINDS
        periods = LAG_POINTS if kind is AlarmKind.ITERATOR_AGE else evaluation_periods
        points = LAG_POINTS if kind is AlarmKind.ITERATOR_AGE else datapoints_to_alarm
        out.append(
            AlarmSpec(
                name=alarm_name(prefix, stream, kind),
                kind=kind,
                stream=stream,
                metric_name=ALARM_METRIC[kind],
                threshold=alarm_threshold(kind, shards, period_seconds, scale_up_threshold, max_iterator_age_ms),
                period_seconds=60 if kind is AlarmKind.ITERATOR_AGE else period_seconds,
                evaluation_periods=1 if throttle else periods,
                datapoints_to_alarm=1 if throttle else points,
                comparison="GreaterThanThreshold"
                if throttle or kind is AlarmKind.ITERATOR_AGE
                else "GreaterThanOrEqualToThreshold",
                description=f"Scale-up trigger for Kinesis stream {stream} (managed by kinesis-autoscaler)",
            )
        )
    return out


def kind_of_alarm(prefix: str, stream: str, name: str) -> AlarmKind | None:
    parsed = parse_alarm_name(prefix, name)
    return parsed[1] if parsed is not None and parsed[0] == stream else None
