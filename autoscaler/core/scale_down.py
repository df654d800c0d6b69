"""Scale-down decisions: is a stream's capacity proven unneeded over the lookback, to what count, which merges. Pure.

The rule (issue 3): every 5-minute datapoint of the lookback below the scale-down threshold of the current capacity,
for bytes AND records; never below min_shards, never below half the current count in one run; and the lookback's
peak must fit the new count under the scale-up threshold minus a safety margin, so the next ordinary peak does not
trip the alarm (no flapping).

Missing datapoints (the fail-safe policy):
- Kinesis publishes no datapoint for a period with no writes, so a period missing *inside* the window counts as
  zero traffic, and a window with no datapoint at all is a stream with no traffic: it scales down.
- CloudWatch lags (about 2 minutes): the window reaches up to now, so a burst minutes ago is seen (a partial Sum
  only ever underestimates, so a datapoint already at the threshold proves the stream busy); periods older than
  10 minutes are taken as final. Whether CloudWatch is lagging more than that is judged on the whole fleet, not on
  one stream (a stream with sparse traffic has recent gaps that are not lag): if no managed stream has a datapoint
  in the newest LAG_GUARD_PERIODS settled periods while older ones exist, the service passes
  metrics_lagging=True and no stream is judged this run.
- A bytes series with datapoints but a records series with none (or the reverse) is half a picture: not judged.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from autoscaler.core.capacity import bytes_capacity, records_capacity
from autoscaler.core.defaults import HEADROOM, SCALE_DOWN_SAFETY_MARGIN
from autoscaler.core.limits import INCOMING_BYTES, INCOMING_RECORDS, MAX_HASH_KEY
from autoscaler.core.model import MergeOp, OpKind, Shard
from autoscaler.core.read_side import read_bytes_capacity, read_guard

FAR_OVER_FACTOR = 4  # the peak's need × 4 ≤ the count: "far over its need"
LAG_GUARD_PERIODS = 2  # with 5-minute periods: the newest 10 minutes of the window must not all be missing


class ScaleDownReason(enum.StrEnum):
    MERGE = "merge"  # quiet: merging to the target
    NO_TRAFFIC = "no_traffic"  # no datapoint in the whole lookback: merging (bounded by min and halving)
    BUSY = "busy"  # a datapoint at or above the scale-down threshold: kept
    PEAK_TOO_HIGH = "peak_too_high"  # quiet, but the peak would not fit one shard fewer under the margin: kept
    AT_MIN = "at_min"  # already at min_shards: kept
    INCOMPLETE_METRICS = "incomplete_metrics"  # not judged on half a picture
    THROTTLED = "throttled"  # write throttling in the lookback: kept
    DISABLED = "disabled"
    ON_DEMAND = "on_demand"
    COOLDOWN = "cooldown"  # the lock refused: a cooldown runs or another run holds it
    NOT_FOUND = "not_found"
    QUOTA = "update_shard_count_quota"  # only UpdateShardCount keeps the peak under the limit, and its 24 h quota
    # has no call to spare beyond those kept for scale-up: kept until the next run
    OPERATOR = "operator"  # an operator's explicit target (`kinesis-autoscaler scale --to N`)
    READ_THROTTLED = "read_throttled"  # GetRecords calls throttled in the lookback: kept (read_side)
    READERS_BEHIND = "readers_behind"  # the iterator age passed max_iterator_age_seconds in the lookback: kept


class ScaleDownInput(NamedTuple):
    """Everything one scale-down decision depends on (times are parameters, the window already aligned)."""

    stream: str
    shards: tuple[Shard, ...]
    min_shards: int
    scale_down_threshold: float
    scale_up_threshold: float
    window_start: int
    window_end: int
    period_seconds: int
    incoming_bytes: dict[int, float]
    incoming_records: dict[int, float]
    safety_margin: float = SCALE_DOWN_SAFETY_MARGIN
    headroom: float = HEADROOM
    # the read side (read_consumers 0: not managed): bytes read per period, GetRecords calls throttled and the worst
    # iterator age over the lookback, and the config's bound on it
    read_consumers: int = 0
    read_bytes: Mapping[int, float] = {}
    read_throttled: float = 0.0
    max_iterator_age_ms: float | None = None
    iterator_age_bound_ms: float = 60_000.0
    metrics_lagging: bool = False  # the fleet's metrics stop short of the settled window (see the module docstring)


class ScaleDownDecision(NamedTuple):
    stream: str
    current: int
    target: int
    reason: ScaleDownReason
    message: str
    merges: tuple[MergeOp, ...] = ()
    peak: float | None = None  # utilisation of the current layout at the lookback's busiest datapoint
    mean: float | None = None
    datapoints: int = 0
    # MERGE: the merges reach a layout that keeps the peak under the limit. UPDATE_SHARD_COUNT: only an even layout
    # does (merging adjacent pairs of even shards leaves double-width shards that carry twice the traffic), so the
    # service must reach the target by UpdateShardCount, or not at all.
    method: OpKind = OpKind.MERGE
    # The lookback's peak fits a quarter of the shards (with headroom): far over its need, as after a burst. After
    # such a scale-down the cooldown is far_over_cooldown_seconds (5 h) rather than scale_down_cooldown_seconds
    # (30 h), so the next halving comes at the next 6-hourly run (issue 13: fast post-burst decay).
    far_over: bool = False

    @property
    def acts(self) -> bool:
        return bool(self.merges)


def effective_capacity(shards: Sequence[Shard]) -> float:
    """Shard-equivalents a layout takes before its widest shard is full, keys being uniform: 1 / the widest share.
    e.g. 8 even shards → 8.0; 8 even shards with two pairs merged (6 shards) → 4.0, not 6."""
    widest = max((s.end - s.start + 1 for s in shards), default=0)
    return (MAX_HASH_KEY + 1) / widest if widest else 0.0


def utilisation_points(inp: ScaleDownInput) -> list[float]:
    """Per period of the window: max(bytes / capacity, records / capacity) of the current layout's effective capacity
    (its widest shard fills first); missing → 0. With the read side, the reads too: bytes read, and the declared
    consumers × bytes written, over the shared 2 MiB/s per shard (e.g. 3 consumers of writes at 40% of 1 MiB/s read
    3 × 0.4 / 2 = 60% of the read capacity: the merge is judged on 60%)."""
    c = effective_capacity(inp.shards)
    return [
        period_utilisation(
            inp.incoming_bytes.get(t, 0.0),
            inp.incoming_records.get(t, 0.0),
            inp.read_bytes.get(t, 0.0),
            capacity=c,
            period=inp.period_seconds,
            read_consumers=inp.read_consumers,
        )
        for t in range(inp.window_start, inp.window_end, inp.period_seconds)
    ]


def period_utilisation(
    written_bytes: float,
    written_records: float,
    read_bytes: float,
    *,
    capacity: float,
    period: int,
    read_consumers: int = 0,
) -> float:
    """One period's utilisation of `capacity` shard-equivalents (effective_capacity): the rule the scale-down judges
    by, and the figure `status` shows. Writes: max(bytes / capacity, records / capacity). With the read side
    (read_consumers > 0) the reads too: bytes read, and the declared consumers × bytes written, over the shared
    2 MiB/s per shard."""
    point = max(
        written_bytes / (bytes_capacity(1, period) * capacity),
        written_records / (records_capacity(1, period) * capacity),
    )
    if read_consumers > 0:
        cap_read = read_bytes_capacity(capacity, period)
        point = max(point, read_bytes / cap_read, read_consumers * written_bytes / cap_read)
    return point


def decide_scale_down(inp: ScaleDownInput) -> ScaleDownDecision:
    """Keep, or merge to a target with the merges to get there. See the module docstring for the rule."""
    n = len(inp.shards)
    periods = list(range(inp.window_start, inp.window_end, inp.period_seconds))
    present = [t for t in periods if t in inp.incoming_bytes or t in inp.incoming_records]

    def keep(reason: ScaleDownReason, message: str, **kw: object) -> ScaleDownDecision:
        return ScaleDownDecision(inp.stream, n, n, reason, message, datapoints=len(present), **kw)  # type: ignore[arg-type]

    if bool(inp.incoming_bytes) != bool(inp.incoming_records):
        have, lack = (INCOMING_BYTES, INCOMING_RECORDS) if inp.incoming_bytes else (INCOMING_RECORDS, INCOMING_BYTES)
        return keep(ScaleDownReason.INCOMPLETE_METRICS, f"{have} has datapoints but {lack} has none: not judged")
    if inp.metrics_lagging:
        return keep(
            ScaleDownReason.INCOMPLETE_METRICS,
            "no managed stream has a datapoint in the last settled periods: CloudWatch lags, not judged",
        )
    if inp.read_consumers > 0:
        guard = read_guard(inp.read_throttled, inp.max_iterator_age_ms, inp.iterator_age_bound_ms)
        if guard is not None:
            return keep(ScaleDownReason(guard[0]), guard[1])
    points = utilisation_points(inp)
    peak = max(points) if points else 0.0
    mean = sum(points) / len(points) if points else 0.0
    stats = {"peak": peak, "mean": mean}
    if limit_of(inp) <= 0:
        return keep(ScaleDownReason.PEAK_TOO_HIGH, "kept: scale_up_threshold leaves no room under the safety margin")
    busy = [p for p in points if p >= inp.scale_down_threshold]
    if busy:
        return keep(
            ScaleDownReason.BUSY,
            f"kept: {len(busy)} of {len(points)} datapoints at or above {inp.scale_down_threshold:.0%} "
            f"(peak {peak:.0%})",
            **stats,
        )
    if n <= inp.min_shards:
        at = "is" if n == inp.min_shards else "is below"
        return keep(ScaleDownReason.AT_MIN, f"kept: {n} shards {at} min_shards {inp.min_shards}", **stats)

    limit = limit_of(inp)
    # Load in shard-equivalents = peak × effective capacity C (C = N for an even layout). Smallest M with
    # load / M ≤ limit, i.e. M ≥ load / limit; and M ≥ ⌈N / 2⌉, M ≥ min_shards.
    # e.g. 8 even shards, peak 0.30, headroom 2 (limit 50%): 2.4 shards of load / 0.5 = 4.8 → 5 (> ⌈8 / 2⌉ = 4).
    load = peak * effective_capacity(inp.shards)
    by_peak = math.ceil(load / limit - 1e-9) if peak > 0 else 1
    half = math.ceil(n / 2)
    target = max(by_peak, half, inp.min_shards, 1)
    if target >= n:
        after = load / (n - 1)
        return keep(
            ScaleDownReason.PEAK_TOO_HIGH,
            f"kept: peak {peak:.0%} would be {after:.0%} after merging (limit {limit:.0%})",
            **stats,
        )
    why = (
        "no datapoint in the lookback: no traffic"
        if not present
        else f"every datapoint below {inp.scale_down_threshold:.0%}"
    )
    bound = {
        by_peak: f"peak {peak:.0%} fits {by_peak} under {limit:.0%}",
        half: "at most halving per run",
        inp.min_shards: f"min_shards {inp.min_shards}",
    }.get(target, "")
    merges = plan_merges(inp.shards, n - target)
    method = OpKind.MERGE
    after_merges = effective_capacity(apply_merges(inp.shards, merges))
    if load > limit * after_merges + 1e-9:
        # e.g. 10 even shards to 7: three merged pairs are 2/10 wide each, so 7 shards carry what 5 would. The
        # layout must be even: UpdateShardCount(UNIFORM_SCALING) to 7.
        method = OpKind.UPDATE_SHARD_COUNT
        bound += f"; merges would leave {after_merges:.1f} shards of capacity: by UpdateShardCount"
    # e.g. 200 shards whose 24 h peak needs 30: 30 × 4 = 120 ≤ 200, far over; 100 shards needing 30: not
    far_over = by_peak * FAR_OVER_FACTOR <= n
    return ScaleDownDecision(
        inp.stream,
        n,
        target,
        ScaleDownReason.NO_TRAFFIC if not present else ScaleDownReason.MERGE,
        f"{why} (peak {peak:.0%}, mean {mean:.0%}): {n} -> {target} ({bound})"
        + (f"; far over its need ({by_peak} of {n})" if far_over else ""),
        merges=tuple(merges),
        peak=peak,
        mean=mean,
        datapoints=len(present),
        method=method,
        far_over=far_over,
    )


def operator_scale_down(stream: str, shards: Sequence[Shard], target: int, reason: str) -> ScaleDownDecision:
    """An operator's explicit target below the open count: the merges to get there (bounds are the caller's: the
    CLI refuses a target outside [min_shards, max_shards] before any call). No sizing: the operator decided."""
    n = len(shards)
    merges = plan_merges(shards, max(0, n - target))
    return ScaleDownDecision(
        stream,
        n,
        target,
        ScaleDownReason.OPERATOR,
        f"operator's target {target} shards: {reason or 'no reason given'}",
        merges=tuple(merges),
    )


def limit_of(inp: ScaleDownInput) -> float:
    """The utilisation the lookback's peak may reach after merging: 1 / headroom (the capacity a scale-up would
    have bought for that peak), and never above the scale-up threshold minus the margin (no flapping).
    e.g. headroom 2 → 50%: a peak of 3 shards of load keeps 6 shards."""
    return min(1.0 / inp.headroom, inp.scale_up_threshold - inp.safety_margin)


def fleet_lagging(series: Sequence[Mapping[int, float]], settled_end: int, period: int) -> bool:
    """True when some series has datapoints but none has one in the newest LAG_GUARD_PERIODS settled periods."""
    guard_start = settled_end - LAG_GUARD_PERIODS * period
    seen = False
    for points in series:
        if points:
            seen = True
            if max(points) >= guard_start:
                return False
    return seen


def adjacent_pairs(shards: Sequence[Shard]) -> list[tuple[Shard, Shard]]:
    """Neighbouring OPEN shards whose ranges are contiguous (EndingHashKey + 1 == next StartingHashKey)."""
    ordered = sorted(shards, key=lambda s: s.start)
    return [(a, b) for a, b in itertools.pairwise(ordered) if a.end + 1 == b.start]


def next_merge(shards: Sequence[Shard]) -> MergeOp | None:
    """The adjacent pair with the smallest combined hash range (ties: the lower range), so ranges stay balanced."""
    pairs = adjacent_pairs(shards)
    if not pairs:
        return None
    a, b = min(pairs, key=lambda p: (p[1].end - p[0].start, p[0].start))
    return MergeOp(a.start, a.end, b.end, a.shard_id, b.shard_id)


def plan_merges(shards: Sequence[Shard], count: int) -> list[MergeOp]:
    """`count` merges, each chosen on the layout the previous ones leave (as the service re-reads after each)."""
    current = sorted(shards, key=lambda s: s.start)
    merges: list[MergeOp] = []
    for serial in range(1, count + 1):
        op = next_merge(current)
        if op is None:
            break
        merges.append(op)
        i = next(k for k, s in enumerate(current) if s.start == op.lower_start)
        current[i : i + 2] = [Shard(f"merged-{serial}", op.lower_start, op.upper_end)]
    # Children of this plan's merges have no id yet: they are addressed by range alone.
    known = {s.shard_id for s in shards}
    return [
        m._replace(
            lower_shard_id=m.lower_shard_id if m.lower_shard_id in known else None,
            upper_shard_id=m.upper_shard_id if m.upper_shard_id in known else None,
        )
        for m in merges
    ]


def apply_merges(shards: Sequence[Shard], merges: Sequence[MergeOp]) -> list[Shard]:
    """The OPEN shards after `merges` (for checks and previews). Raises if a merge names non-adjacent open ranges."""
    current = sorted(shards, key=lambda s: s.start)
    for k, op in enumerate(merges):
        i = next((j for j, s in enumerate(current) if s.start == op.lower_start and s.end == op.lower_end), None)
        if i is None or i + 1 >= len(current) or current[i + 1].start != op.lower_end + 1:
            raise ValueError(f"merge {op.describe()} does not name two adjacent open shards")
        if current[i + 1].end != op.upper_end:
            raise ValueError(f"merge {op.describe()}: the upper shard's range differs")
        current[i : i + 2] = [Shard(f"m{k}", op.lower_start, op.upper_end)]
    return current
