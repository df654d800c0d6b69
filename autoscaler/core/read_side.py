"""The read side: what a stream's polling consumers ask of it, from the stream-level read metrics and the config's
declared consumers, and the verdict both rules build on — the scale-up for readers, and the scale-down's guard.

A shard serves 2 MiB/s and 5 GetRecords calls a second, shared by every polling consumer (docs/read-side-facts.md).
Three different troubles look alike from outside, and only one is fixed by shards:
- reads near the shared 2 MiB/s (throttled, or lag growing with reads near it): more shards, sized from read demand;
- throttled on the 5 calls/s while bytes are far below: each consumer polls every shard, so more shards do not
  lower the calls per shard; fewer polling consumers or enhanced fan-out do (reported, never resharded);
- lag growing while reads are far below the limit: the consumer is slow (reported, never resharded).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple

from autoscaler.core.limits import SHARD_READ_BYTES_PER_S, SHARD_READ_CALLS_PER_S
from autoscaler.core.model import MetricSeries, ReadMetrics

LAG_POINTS = 3  # "keeps growing": the last 3 one-minute iterator ages rise, each above the one before


class ReadVerdict(enum.StrEnum):
    NONE = "none"  # nothing on the read side asks for shards
    READ_BOUND = "read_bound"  # reads at the shared limit (throttled, or lag growing near it): shards for readers
    CALLS_BOUND = "calls_bound"  # throttled on GetRecords calls with bytes far below: shards would not help
    CONSUMER_LAG = "consumer_lag"  # lag growing with reads far below the limit: the consumer's problem
    BURSTS = "read_bursts"  # refusals with bytes and calls far below on average: sub-minute bursts, reported
    CATCHING_UP = "catching_up"  # refusals while the lag falls: one backlog asked again, not lasting demand


class ReadDemand(NamedTuple):
    """The read side of N shards over a window, as fractions of their shared read capacity."""

    peak: float  # the busiest period's GetRecords.Bytes / (N × 2 MiB/s × period)
    declared: float  # consumers × the busiest period's IncomingBytes / (N × 2 MiB/s × period): each reads every record
    demand: float  # max(peak + what the refused calls would have read, declared)
    calls_peak: float  # the busiest period's GetRecords.Success / (N × 5/s × period)
    throttled_calls: float  # the largest ReadProvisionedThroughputExceeded datapoint (calls refused)
    max_age_ms: float  # the worst iterator age seen
    lag_growing: bool
    verdict: ReadVerdict
    message: str


def read_bytes_capacity(shards: float, period_seconds: int) -> float:
    """Bytes N shards serve their polling consumers in one period: N × 2 MiB/s × period."""
    return float(shards * SHARD_READ_BYTES_PER_S * period_seconds)


def read_calls_capacity(shards: float, period_seconds: int) -> float:
    """GetRecords calls N shards accept in one period: N × 5/s × period."""
    return float(shards * SHARD_READ_CALLS_PER_S * period_seconds)


def lag_growing(ages_ms: Sequence[float], bound_ms: float) -> bool:
    """The last LAG_POINTS ages each above the one before, the last above the bound: readers falling further behind.
    e.g. bound 60 s: 20, 45, 90 s → growing; 90, 70, 95 s → not (it fell once: catching up in bursts)."""
    last = list(ages_ms[-LAG_POINTS:])
    if len(last) < LAG_POINTS or last[-1] <= bound_ms:
        return False
    return all(b > a for a, b in itertools.pairwise(last))


def _finite(values: Sequence[float]) -> list[float]:
    """Datapoints a rule may use: a NaN, an infinity or a negative count from a corrupt reply is dropped, never
    turned into a target or a pass for the guard."""
    return [v for v in values if math.isfinite(v) and v >= 0]


def read_demand(
    read: ReadMetrics | None,
    incoming_bytes: MetricSeries | None,
    shards: int,
    *,
    consumers: int,
    max_age_ms: float,
    threshold: float,
) -> ReadDemand | None:
    """Read demand and its verdict (None: no read datapoint and nothing declared).

    Measured demand is the busiest minute's bytes read, or the declared consumers × the write peak, whichever is
    larger. While the calls are not saturated, demand also adds what the refused calls would have read, as the write
    side adds refused records: e.g. 4 shards, one 60 s period (capacity 4 × 2 MiB × 60 = 503,316,480 bytes):
    452,984,832 bytes read (0.9) in 600 calls (754,975 bytes a call; calls at 600 / 1,200 = 50%), 200 calls refused →
    0.9 + 200 × 754,975 / 503,316,480 = 0.9 + 0.3 = 1.2. With the calls saturated the refusals are retries of the
    same data, and are not added. `threshold` is what "near the limit" means (the stream's scale_up_threshold).

    Only reads near the limit reshard. Refusals with the bytes far below are either the calls' limit (every polling
    consumer calls every shard: more shards do not help) or sub-minute bursts (a consumer catching up is throttled
    for 5 s after each 10 MiB call): reported, never resharded — a shard added per refusal would never stop.
    """
    if shards <= 0:
        raise ValueError("shards must be positive")
    cap_b = 0.0
    peak = calls_peak = refused = 0.0
    ages: list[float] = []
    bytes_per_call = 0.0
    if read is not None:
        period = read.bytes_read.period_seconds
        cap_b, cap_c = read_bytes_capacity(shards, period), read_calls_capacity(shards, period)
        read_bytes, calls = _finite(read.bytes_read.values), _finite(read.calls.values)
        peak = max(read_bytes, default=0.0) / cap_b
        calls_peak = max(calls, default=0.0) / cap_c
        refused = max(_finite(read.throttled_calls.values), default=0.0)
        ages = _finite(read.iterator_age_ms.values)
        bytes_per_call = sum(read_bytes) / sum(calls) if sum(calls) > 0 else 0.0
    declared = 0.0
    written = _finite(incoming_bytes.values) if incoming_bytes is not None else []
    if incoming_bytes is not None and written and consumers > 0:
        declared = consumers * max(written) / read_bytes_capacity(shards, incoming_bytes.period_seconds)
    if read is None and declared == 0.0:
        return None
    measured = max(peak, declared)
    calls_saturated = calls_peak >= threshold
    with_refused = peak + (refused * bytes_per_call / cap_b if cap_b and not calls_saturated else 0.0)
    demand = max(with_refused, declared)
    growing = lag_growing(ages, max_age_ms)
    # A reader behind and gaining reads a backlog as fast as the shard allows: its refusals repeat one backlog, which
    # more shards would clear sooner, then hold for a day (the scale-down guard). It shows as an age falling from
    # above the bound, or as an age that rose by more than the period in one period: a reader that reads nothing
    # ages 60 s a minute at most, so a larger jump is a reader resumed from an old position (a restart, a pause).
    period_ms = (read.iterator_age_ms.period_seconds if read is not None else 60) * 1000
    catching_up = len(ages) >= 2 and (
        (ages[-1] < ages[-2] and ages[-2] > max_age_ms) or (ages[-1] - ages[-2] > period_ms and ages[-1] > max_age_ms)
    )
    worst = max(ages, default=0.0)
    near = demand >= threshold
    reads = f"reads at {demand:.0%} of the shared {SHARD_READ_BYTES_PER_S * shards / 1_048_576:g} MiB/s"
    if refused > 0 and measured < threshold and calls_saturated:
        verdict = ReadVerdict.CALLS_BOUND
        message = (
            f"{refused:.0f} GetRecords calls refused with calls at {calls_peak:.0%} of {SHARD_READ_CALLS_PER_S}/s "
            f"per shard but {reads}: every polling consumer calls every shard, so more shards do not lower the "
            "calls per shard; use fewer polling consumers or enhanced fan-out"
        )
    elif refused > 0 and near and catching_up and declared < threshold:
        verdict = ReadVerdict.CATCHING_UP
        message = (
            f"{refused:.0f} GetRecords calls refused while the readers catch up (iterator age {worst / 1000:.0f} s, "
            f"falling to {ages[-1] / 1000:.0f} s) with {reads}: one backlog asked for again, not lasting demand; "
            "not resharded"
        )
    elif refused > 0 and near:
        verdict = ReadVerdict.READ_BOUND
        message = f"read throttling: {refused:.0f} GetRecords calls refused, {reads} with them"
    elif refused > 0:
        verdict = ReadVerdict.BURSTS
        message = (
            f"{refused:.0f} GetRecords calls refused with only {reads} and calls at {calls_peak:.0%}: sub-minute "
            "bursts (a consumer catching up is throttled for 5 s after each 10 MiB call), not a stream short of "
            "shards; not resharded"
        )
    elif growing and near:
        verdict = ReadVerdict.READ_BOUND
        message = f"readers falling behind (iterator age {worst / 1000:.0f} s and rising) with {reads}"
    elif growing:
        verdict = ReadVerdict.CONSUMER_LAG
        message = (
            f"readers falling behind (iterator age {worst / 1000:.0f} s and rising) with only {reads}: the "
            "consumer is slow, not the stream; not resharded"
        )
    elif near:
        verdict = ReadVerdict.READ_BOUND
        message = f"{reads} (threshold {threshold:.0%})"
    else:
        verdict = ReadVerdict.NONE
        message = reads
    if declared > 0 and declared >= with_refused:
        message += f"; {consumers} declared consumer(s) × the write peak = {declared:.0%}"
    return ReadDemand(
        peak=peak,
        declared=declared,
        demand=demand,
        calls_peak=calls_peak,
        throttled_calls=refused,
        max_age_ms=worst,
        lag_growing=growing,
        verdict=verdict,
        message=message,
    )


def read_guard(throttled_calls: float, max_age_ms: float | None, bound_ms: float) -> tuple[str, str] | None:
    """The scale-down's guard: (reason code, message) when the lookback shows readers throttled or behind, so the
    stream must not lose shards; None when the read side allows a merge."""
    if math.isfinite(throttled_calls) and throttled_calls > 0:
        return "read_throttled", f"kept: {throttled_calls:.0f} GetRecords calls throttled in the lookback"
    if max_age_ms is not None and math.isfinite(max_age_ms) and max_age_ms > bound_ms:
        return (
            "readers_behind",
            f"kept: iterator age reached {max_age_ms / 1000:.0f} s in the lookback (max_iterator_age_seconds "
            f"{bound_ms / 1000:.0f}): merging would slow readers that are already behind",
        )
    return None
