"""Scale-up planning: how many shards, which to split and where, or one UpdateShardCount. Pure.

Every plan carries a reason (enum + message), in the manner of the Kubernetes HPA's (replicas, reason, message).
"""

from __future__ import annotations

import enum
import gc
import heapq
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from autoscaler.core.capacity import Utilisation, shards_needed, write_utilisation
from autoscaler.core.defaults import (
    FALLBACK_SCALE_UP_FACTOR,
    HEADROOM,
    MAX_ITERATOR_AGE_SECONDS,
    MAX_SCALE_UP_FACTOR,
    MAX_SPLITS_PER_ACTION,
    SCALE_UP_THRESHOLD,
    SPLIT_SECONDS_ESTIMATE,
    UPDATE_SHARD_COUNT_SECONDS_ESTIMATE,
)
from autoscaler.core.limits import MAX_HASH_KEY, SHARD_WRITE_BYTES_PER_S, UPDATE_SHARD_COUNT_CALLS_PER_24H
from autoscaler.core.model import (
    Op,
    OpKind,
    ReadMetrics,
    Shard,
    SplitOp,
    StreamMetrics,
    TriggerKind,
    UpdateShardCountOp,
)
from autoscaler.core.read_side import ReadVerdict, read_demand


class ScaleUpReason(enum.StrEnum):
    SCALED_FOR_PEAK = "scaled_for_peak"  # the observed peak needs more shards to sit at the target utilisation
    MINIMUM_STEP = "minimum_step"  # alarmed, but the peak read back fits: add the minimum one shard anyway
    HOT_SHARD = "hot_shard"  # throttling while the stream as a whole is under target: one shard is hot
    METRICS_MISSING = "metrics_missing"  # alarmed with no datapoints to size from: fallback step
    BELOW_MIN = "below_min"  # the stream has fewer shards than min_shards: restore the floor
    CONTINUATION = "continuation"  # finishing a target set by an earlier invocation
    OPERATOR = "operator"  # an operator's explicit target (`kinesis-autoscaler scale --to N`)
    READ_DEMAND = "read_demand"  # the readers need more shards than the writers: sized from read demand
    READ_CALLS = "read_calls"  # no-op: reads refused on the 5 calls/s per shard, which more shards do not raise
    CONSUMER_LAG = "consumer_lag"  # no-op: readers behind while reads are far below the limit: the consumer is slow
    READ_BURSTS = "read_bursts"  # no-op: reads refused with bytes and calls far below on average: sub-minute bursts
    CATCHING_UP = "catching_up"  # no-op: reads refused while a reader behind catches up (its lag falling)
    AT_MAX = "at_max"  # no-op: already at max_shards
    ALREADY_AT_TARGET = "already_at_target"  # no-op: capacity already covers the peak (stale alarm, finished work)
    NO_EVIDENCE = "no_evidence"  # no-op: a throttle alarm, but no refused write in the lookback (stale or repeated)


class MethodReason(enum.StrEnum):
    NONE = "none"
    SINGLE_SPLIT = "single_split"
    HOT_SHARD_SPLIT = "hot_shard_split"
    SPLITS_FASTER = "splits_faster"
    UPDATE_SHARD_COUNT_FASTER = "update_shard_count_faster"
    UPDATE_SHARD_COUNT_QUOTA = "update_shard_count_quota"
    UPDATE_SHARD_COUNT_REFUSED = "update_shard_count_refused"


class LimitReason(enum.StrEnum):
    """Which limit bit the recommendation, if any (the HPA's ScaleUpLimit condition)."""

    NONE = "none"
    SCALE_UP_FACTOR = "scale_up_factor"  # at most MAX_SCALE_UP_FACTOR × the count the action began from
    MAX_SHARDS = "max_shards"  # the stream's configured ceiling
    SPLITS_PER_ACTION = "splits_per_action"  # what one action chain of splits can finish


class Limited(NamedTuple):
    target: int
    reason: LimitReason
    message: str  # what bit, with its arithmetic; empty when nothing did


def limit_target(desired: int, *, origin: int, max_shards: int) -> Limited:
    """The recommendation bounded by the limits, applied apart from it and saying which bit — first the factor per
    action, then max_shards (kubernetes' convertDesiredReplicasWithRules: the tighter limit is the one reported)."""
    parts: list[str] = []
    reason = LimitReason.NONE
    target = desired
    if target > MAX_SCALE_UP_FACTOR * origin:
        target = MAX_SCALE_UP_FACTOR * origin
        reason = LimitReason.SCALE_UP_FACTOR
        parts.append(f"at most {MAX_SCALE_UP_FACTOR}x per action ({origin} -> {target})")
    if target > max_shards:
        target = max_shards
        reason = LimitReason.MAX_SHARDS
        parts.append(f"max_shards {max_shards}")
    return Limited(target, reason, "capped by " + " and ".join(parts) if parts else "")


def limit_splits(current: int, desired: int) -> Limited:
    """One split at a time, each ~30 s UPDATING: an action chain (MAX_CONTINUATION_HOPS + 1 invocations of 900 s)
    cannot finish more than MAX_SPLITS_PER_ACTION. The alarm, still breaching, triggers the next action."""
    if desired - current <= MAX_SPLITS_PER_ACTION:
        return Limited(desired, LimitReason.NONE, "")
    target = current + MAX_SPLITS_PER_ACTION
    return Limited(
        target,
        LimitReason.SPLITS_PER_ACTION,
        f"capped by {MAX_SPLITS_PER_ACTION} splits per action ({current} -> {target})",
    )


class PlanInput(NamedTuple):
    """Everything one scale-up decision depends on. Time and history arrive as values, never read here."""

    stream: str
    shards: tuple[Shard, ...]  # OPEN shards only
    min_shards: int
    max_shards: int
    trigger: TriggerKind
    metrics: StreamMetrics | None = None
    headroom: float = HEADROOM
    rise_periods: float = 0.0  # size for the rising load's projection too (capacity.write_utilisation)
    fallback_factor: float = FALLBACK_SCALE_UP_FACTOR
    # How many shards the triggering alarm's threshold was computed for (None: unknown). An alarm set for fewer
    # shards than are open now fired on an old capacity: the stream was scaled since, so no forced minimum step.
    alarm_shards: float | None = None
    requested_target: int | None = None  # a continuation's target
    requested_method: str = ""  # a continuation's method: "hot_shard" keeps cutting the hot shards, never a rescale
    origin_count: int | None = None  # the count when the action began (bounds a continuation's target)
    operator_target: int | None = None  # an operator's explicit target: the metrics are shown, not sized from
    operator_reason: str = ""  # the operator's words, carried into the decision (logs, notification)
    # the read side (read_side: true): its series, the declared polling consumers (0: read side off), the lag bound,
    # and what "near the limit" means for reads (the stream's scale_up_threshold)
    read_metrics: ReadMetrics | None = None
    read_consumers: int = 0
    max_iterator_age_ms: float = MAX_ITERATOR_AGE_SECONDS * 1000
    read_threshold: float = SCALE_UP_THRESHOLD
    update_shard_count_calls_24h: int = 0
    update_shard_count_allowed: bool = True  # False after AWS refused UpdateShardCount in this action
    split_seconds: float = SPLIT_SECONDS_ESTIMATE
    update_shard_count_seconds: float = UPDATE_SHARD_COUNT_SECONDS_ESTIMATE


class ScalePlan(NamedTuple):
    stream: str
    current: int
    target: int
    reason: ScaleUpReason
    message: str
    ops: tuple[Op, ...] = ()
    method: OpKind | None = None
    method_reason: MethodReason = MethodReason.NONE
    method_message: str = ""
    utilisation: Utilisation | None = None
    limits: tuple[Limited, ...] = ()  # the limits that bit, in the order applied (none: the recommendation stands)

    @property
    def noop(self) -> bool:
        return not self.ops

    @property
    def limit(self) -> LimitReason:
        """The last limit that bit: the one that set the target."""
        return self.limits[-1].reason if self.limits else LimitReason.NONE

    @property
    def for_readers(self) -> bool:
        """Sized for the stream's readers (its notification says so)."""
        return self.reason is ScaleUpReason.READ_DEMAND

    @property
    def decision(self) -> str:
        """The recommendation's reason and, after it, each limit that bit: what the operator reads."""
        return "; ".join([self.message, *(lim.message for lim in self.limits)])


def plan_scale_up(inp: PlanInput) -> ScalePlan:
    """Decide the target count and the operations that reach it.

    Sizing: ⌈headroom × peak demand⌉, demand counting refused writes too (capacity.write_utilisation).
    Contract: target ∈ [current, min(max_shards, MAX_SCALE_UP_FACTOR × current)] unless current < min_shards (then
    the floor is restored, within the same factor); ops only name OPEN shards (or ranges produced by earlier ops of
    this plan). Several UpdateShardCount ops chain doublings (AWS allows [½×, 2×] per call).
    """
    n = len(inp.shards)
    if n == 0:
        raise ValueError(f"{inp.stream}: no open shards given")
    m = inp.metrics
    util = (
        write_utilisation(m.incoming_bytes, m.incoming_records, n, m.throttled_records, inp.rise_periods)
        if m is not None
        else None
    )

    def noop(reason: ScaleUpReason, message: str) -> ScalePlan:
        return ScalePlan(inp.stream, n, n, reason, message, utilisation=util)

    if n >= inp.max_shards:
        return noop(ScaleUpReason.AT_MAX, f"{n} open shards, max_shards is {inp.max_shards}: nothing to add")

    peak_txt = "no datapoints"
    if util is not None:
        peak_txt = f"peak {util.peak:.0%} of {n} shards"
        if util.demand > util.peak and util.demand == util.projected:
            peak_txt += f" (rising: {util.demand:.0%} projected)"
        elif util.demand > util.peak:
            peak_txt += f" (demand {util.demand:.0%} with refused writes)"
    stale = inp.alarm_shards is not None and not math.isnan(inp.alarm_shards) and round(inp.alarm_shards) < n
    # A throttle alarm is acted on as throttling only with evidence in the lookback: a refused write. Its threshold
    # is the same for every shard count, so a stale or repeated notification cannot be told by it (issue 12 s5).
    # A throttle series not read at all (None) is no evidence either way: the alarm is taken at its word.
    unread = m is None or m.throttled_records is None
    refused_any = not unread and any(v > 0 for v in m.throttled_records.values)  # type: ignore[union-attr]
    throttled = inp.trigger is TriggerKind.THROTTLE and (util is None or unread or refused_any)
    hot_ops: list[SplitOp] = []
    rd = (
        read_demand(
            inp.read_metrics,
            m.incoming_bytes if m is not None else None,
            n,
            consumers=inp.read_consumers,
            max_age_ms=inp.max_iterator_age_ms,
            threshold=inp.read_threshold,
        )
        if inp.read_consumers > 0
        else None
    )
    read_need = shards_needed(rd.demand, n, inp.headroom) if rd is not None and rd.demand > 0 else 0
    if inp.operator_target is not None:
        desired, reason = inp.operator_target, ScaleUpReason.OPERATOR
        message = f"operator's target {desired} shards ({peak_txt}): {inp.operator_reason or 'no reason given'}"
    elif inp.requested_target is not None:
        desired, reason = inp.requested_target, ScaleUpReason.CONTINUATION
        message = f"continuing towards {inp.requested_target} shards"
        if inp.requested_method == HOT_SHARD_METHOD:
            # The plan this continues cut hot shards by their heat: keep its method and re-read its evidence (the
            # shard-level IncomingBytes), or a hand-over would finish it as a uniform rescale that spreads the new
            # capacity over cool keys (issue 12 section 2).
            reason = ScaleUpReason.HOT_SHARD
            hot = hot_shard_pieces(inp, util)
            hot_ops = pieces_splits(inp.shards, hot) if hot is not None else []
            message += ", cutting the hot shards by their heat" if hot_ops else ", splitting the hottest shards"
    elif inp.trigger is TriggerKind.READ:
        if rd is None:
            why = (
                "the stream's read side is not managed"
                if inp.read_consumers == 0
                else "no read datapoint in the lookback (no reader yet, or CloudWatch lags, or its read failed)"
            )
            return noop(ScaleUpReason.NO_EVIDENCE, f"a read-side alarm, but {why}")
        report = {
            ReadVerdict.CALLS_BOUND: ScaleUpReason.READ_CALLS,
            ReadVerdict.CONSUMER_LAG: ScaleUpReason.CONSUMER_LAG,
            ReadVerdict.BURSTS: ScaleUpReason.READ_BURSTS,
            ReadVerdict.CATCHING_UP: ScaleUpReason.CATCHING_UP,
        }.get(rd.verdict)
        if report is not None:
            return noop(report, rd.message)
        if rd.verdict is ReadVerdict.NONE:
            return noop(
                ScaleUpReason.NO_EVIDENCE,
                f"the read alarm fired, but the lookback shows no read demand to add for ({rd.message}): stale",
            )
        desired, reason = max(read_need, n + 1), ScaleUpReason.READ_DEMAND
        message = f"{rd.message}: needs {read_need} for headroom {inp.headroom:g}x ({n} -> {desired})"
    elif (
        # throttling, whichever alarm fired first (a utilisation alarm may beat the throttle alarm to the lock)
        throttled or (util is not None and util.demand > util.peak)
    ) and (hot := hot_shard_pieces(inp, util)) is not None:
        hot_ops = pieces_splits(inp.shards, hot)
        desired, reason = n + len(hot_ops), ScaleUpReason.HOT_SHARD
        message = (
            f"write throttling at {peak_txt}, concentrated in a few shards (shard-level IncomingBytes): split the hot "
            f"ones into pieces that carry their share with headroom {inp.headroom:g}x ({n} -> {desired})"
        )
        reason = ScaleUpReason.HOT_SHARD
    elif throttled and (util is None or shards_needed(util.demand, n, inp.headroom) <= n):
        desired, reason = n + 1, ScaleUpReason.HOT_SHARD
        message = f"write throttling at {peak_txt} (headroom {inp.headroom:g}x fits): a hot shard, split it"
    elif util is None:
        if stale:
            return noop(
                ScaleUpReason.ALREADY_AT_TARGET,
                f"alarm was set for {inp.alarm_shards:.0f} shards, {n} are open now, no datapoints: already scaled",
            )
        desired = max(n + 1, math.ceil(n * inp.fallback_factor))
        reason = ScaleUpReason.METRICS_MISSING
        message = f"alarmed with no datapoints: fallback step ×{inp.fallback_factor:g} ({n} -> {desired})"
    else:
        need = shards_needed(util.demand, n, inp.headroom)
        need_txt = f"{peak_txt} needs {need} for headroom {inp.headroom:g}x"
        if need > n:
            desired, reason, message = need, ScaleUpReason.SCALED_FOR_PEAK, need_txt
        elif stale:
            return noop(
                ScaleUpReason.ALREADY_AT_TARGET,
                f"{need_txt}; alarm was set for {inp.alarm_shards:.0f} shards, {n} are open now: already scaled",
            )
        elif inp.trigger is TriggerKind.THROTTLE:
            return noop(
                ScaleUpReason.NO_EVIDENCE,
                f"{need_txt}; the throttle alarm fired, but no write was refused in the lookback: a stale or repeated "
                "notification, nothing to add",
            )
        else:
            desired, reason = n + 1, ScaleUpReason.MINIMUM_STEP
            message = f"{need_txt}; alarmed, so add the minimum one shard"

    explicit = inp.requested_target is not None or inp.operator_target is not None
    # A write alarm on a stream whose readers need more: the larger need wins, so the readers are not left short
    # (hot-shard plans keep their pieces: they isolate keys, which reads do not ask for)
    if (
        not explicit
        and rd is not None
        and rd.verdict is ReadVerdict.READ_BOUND
        and reason not in (ScaleUpReason.READ_DEMAND, ScaleUpReason.HOT_SHARD)
        and read_need > desired
    ):
        desired, reason = read_need, ScaleUpReason.READ_DEMAND
        message += f"; the readers need more: {rd.message}, {read_need} for headroom {inp.headroom:g}x"
    if n < inp.min_shards and desired <= inp.min_shards and not explicit:
        desired, reason = inp.min_shards, ScaleUpReason.BELOW_MIN
        message = f"{n} open shards is below min_shards {inp.min_shards}; " + message

    origin = inp.origin_count if inp.origin_count is not None and 0 < inp.origin_count <= n else n
    limited: list[Limited] = []
    bounded = limit_target(desired, origin=origin, max_shards=inp.max_shards)
    if bounded.reason is not LimitReason.NONE:
        limited.append(bounded)
    desired = bounded.target
    if desired <= n:
        met = f"{n} open shards already meet the target {desired}: " + message
        return noop(ScaleUpReason.ALREADY_AT_TARGET, "; ".join([met, *(x.message for x in limited)]))

    limit = min(inp.max_shards, MAX_SCALE_UP_FACTOR * origin)  # what this action may reach, however it gets there
    method, method_reason, method_message, desired = _choose_method(inp, n, desired, reason, limit)
    if method is OpKind.SPLIT:
        splits = limit_splits(n, desired)
        if splits.reason is not LimitReason.NONE:
            limited.append(splits)
        desired = splits.target
    ops: tuple[Op, ...]
    if method is OpKind.UPDATE_SHARD_COUNT:
        ops = tuple(update_shard_count_chain(n, desired))
    elif hot_ops and reason is ScaleUpReason.HOT_SHARD:
        ops = tuple(hot_ops[: desired - n])  # each hot shard cut into its pieces (within the caps above)
    else:
        # Hot shards without per-shard pieces: by heat. Otherwise widest first, which is what makes the capacity
        # grow (splits_for_capacity).
        heat = m.shard_incoming_bytes if m is not None and reason is ScaleUpReason.HOT_SHARD else {}
        ops = tuple(choose_splits(inp.shards, desired - n, heat))
    return ScalePlan(
        stream=inp.stream,
        current=n,
        target=desired,
        reason=reason,
        message=message,
        ops=ops,
        method=method,
        method_reason=method_reason,
        method_message=method_message,
        utilisation=util,
        limits=tuple(limited),
    )


HOT_SHARD_METHOD = "hot_shard"  # a HandOver's method for a plan that cuts hot shards (events/continuation.py)
HOT_SKEW = 1.5  # a shard asked for ≥ 1.5× its share of the key space's traffic is hot: split it, not the stream
SATURATED = 0.9  # shards within 90% of the hottest one's accepted rate share the refused writes


def hot_shard_pieces(inp: PlanInput, util: Utilisation | None) -> dict[str, int] | None:
    """With shard-level IncomingBytes: the count that splits each shard into ⌈its demand × headroom⌉ pieces, when the
    traffic is concentrated (some shard's demand ≥ HOT_SKEW × its key share of the stream's); None otherwise (no
    heat, or even). Demand, not accepted writes: a hot shard's accepted rate is capped at its 1 MiB/s.

    Per-shard demand d_i = its accepted rate u_i (Sum over the lookback's published minutes / 1 MiB/s) plus, for the
    saturated shards, an equal part of what the stream refused (refusals are only known per stream).
    e.g. 4 even shards, heat u = (1.0, 0.2, 0.2, 0.2), stream demand 3.6 → refused 2.0 on the one saturated shard:
    d = 3.0 → ⌈3.0 × 2⌉ = 6 pieces, doubled to 12 (a refusing shard is cut one level finer, below), the others
    ⌈0.4⌉ = 1 → 15 shards.
    """
    m = inp.metrics
    if m is None or util is None or not m.shard_incoming_bytes or not m.incoming_bytes.values:
        return None
    seconds = len(m.incoming_bytes.values) * m.incoming_bytes.period_seconds
    rate = {
        s.shard_id: m.shard_incoming_bytes.get(s.shard_id, 0.0) / seconds / SHARD_WRITE_BYTES_PER_S for s in inp.shards
    }
    if sum(rate.values()) <= 0:
        return None
    top = max(rate.values())
    saturated = {sid for sid, u in rate.items() if u >= SATURATED * top}
    refused = (util.demand - util.peak) * len(inp.shards)  # the refused writes, in shard-equivalents
    demand = {sid: u + (refused / len(saturated) if sid in saturated else 0.0) for sid, u in rate.items()}
    total = sum(demand.values())
    keys = MAX_HASH_KEY + 1
    if not any(demand[s.shard_id] / total >= HOT_SKEW * (s.end - s.start + 1) / keys for s in inp.shards):
        return None
    pieces: dict[str, int] = {}  # hottest shard first: when the caps cut the plan, the cool shards lose their splits
    for sid, d in sorted(demand.items(), key=lambda kv: -kv[1]):
        need = max(1, math.ceil(d * inp.headroom - 1e-9))
        # Inside a refusing shard the heat is unknown, and a hot shard's heat is concentrated by definition: cut it
        # one level finer than even heat would need, so the hot range lands in pieces that carry it in one action
        # (each further action waits out the cooldown and the alarm's delay while the shard refuses).
        pieces[sid] = 2 * need if sid in saturated and refused > 0 else need
    if all(p <= 1 for p in pieces.values()):
        pieces[max(demand, key=demand.__getitem__)] = 2  # alarmed and concentrated: split the hottest at least
    return pieces


def pieces_splits(shards: Sequence[Shard], pieces: Mapping[str, int]) -> list[SplitOp]:
    """Midpoint splits that cut each shard into 2^⌈log2 p⌉ equal pieces (p from `pieces`, in its order), parents
    before children.
    e.g. p = 3 for one shard: 4 pieces, 3 splits (the shard, then each half)."""
    ops: list[SplitOp] = []
    by_id = {s.shard_id: s for s in shards}
    for s in [
        by_id[sid] for sid in pieces if sid in by_id
    ]:  # in the order of `pieces` (hot_shard_pieces: hottest first)
        p = pieces[s.shard_id]
        if p <= 1:
            continue
        levels = math.ceil(math.log2(p) - 1e-9)
        ranges: list[tuple[int, int, str | None]] = [(s.start, s.end, s.shard_id)]
        for _ in range(levels):
            nxt: list[tuple[int, int, str | None]] = []
            for start, end, sid in ranges:
                if end <= start:
                    nxt.append((start, end, sid))
                    continue
                cut = midpoint(start, end)
                ops.append(SplitOp(start, end, cut, sid))
                nxt += [(start, cut - 1, None), (cut, end, None)]
            ranges = nxt
    return ops


def splits_for_capacity(shards: Sequence[Shard], capacity: int) -> int:
    """Midpoint splits that leave no shard wider than 1 / capacity of the key space (so the layout carries
    `capacity` shard-equivalents of evenly spread keys): a shard of share s needs 2^⌈log2(s × capacity)⌉ pieces.
    e.g. 4 even shards to carry 7: each 1/4 × 7 = 1.75 → 2 pieces → 4 splits (8 shards); to carry 8: also 4."""
    keys = MAX_HASH_KEY + 1
    total = 0
    for s in shards:
        ratio = (s.end - s.start + 1) * capacity / keys
        if ratio > 1 + 1e-9:
            total += 2 ** math.ceil(math.log2(ratio) - 1e-9) - 1
    return total


def update_shard_count_chain(current: int, target: int) -> list[UpdateShardCountOp]:
    """UpdateShardCount calls from `current` to `target`, each within AWS's [½×, 2×]: 4 → 20 is 4 → 8 → 16 → 20."""
    ops: list[UpdateShardCountOp] = []
    c = current
    while c < target:
        nxt = min(target, 2 * c)
        ops.append(UpdateShardCountOp(current=c, target=nxt))
        c = nxt
    return ops


def _choose_method(
    inp: PlanInput, n: int, desired: int, reason: ScaleUpReason, limit: int
) -> tuple[OpKind, MethodReason, str, int]:
    """SplitShard sequence or a chain of UpdateShardCount calls, whichever reaches the target sooner within AWS's
    limits; returns the method and the target it can reach (a chain is cut to the calls left in the 24 h quota).

    Splits run one at a time per stream (each waits for ACTIVE): k splits ≈ k × split_seconds. One UpdateShardCount
    reaches any count in [½×, 2×]; c doublings ≈ c × update_shard_count_seconds, each one of the 10 calls allowed
    per rolling 24 h per stream.
    """
    if reason is ScaleUpReason.HOT_SHARD:
        return (
            OpKind.SPLIT,
            MethodReason.HOT_SHARD_SPLIT,
            "split the hottest shard: uniform rescaling would not isolate it",
            desired,
        )
    # Splits must reach the capacity, not only the count: with keys spread evenly, 7 shards made by splitting 3 of 4
    # even shards still carry only what 4 do (the unsplit quarter-width shards fill first).
    k = min(splits_for_capacity(inp.shards, desired), limit - n)
    if k == 1:
        return (
            OpKind.SPLIT,
            MethodReason.SINGLE_SPLIT,
            "one split is one operation and leaves the other shards as they are",
            n + 1,
        )
    if not inp.update_shard_count_allowed:
        return (
            OpKind.SPLIT,
            MethodReason.UPDATE_SHARD_COUNT_REFUSED,
            "AWS refused UpdateShardCount: splitting instead",
            n + k,
        )
    left = UPDATE_SHARD_COUNT_CALLS_PER_24H - inp.update_shard_count_calls_24h
    if left <= 0:
        return (
            OpKind.SPLIT,
            MethodReason.UPDATE_SHARD_COUNT_QUOTA,
            f"{inp.update_shard_count_calls_24h} UpdateShardCount calls in the last 24 h "
            f"(limit {UPDATE_SHARD_COUNT_CALLS_PER_24H}): splitting instead",
            n + k,
        )
    reachable = min(desired, n * 2**left)
    calls = len(update_shard_count_chain(n, reachable))
    split_total = k * inp.split_seconds
    usc_total = calls * inp.update_shard_count_seconds
    if split_total > usc_total:
        cut = f"; {left} call{'s' if left > 1 else ''} left in 24 h reach {reachable}" if reachable < desired else ""
        return (
            OpKind.UPDATE_SHARD_COUNT,
            MethodReason.UPDATE_SHARD_COUNT_FASTER,
            f"{k} splits ≈ {split_total:.0f} s > {calls} UpdateShardCount ≈ {usc_total:.0f} s{cut}",
            reachable,
        )
    return (
        OpKind.SPLIT,
        MethodReason.SPLITS_FASTER,
        f"{k} splits ≈ {split_total:.0f} s ≤ {calls} UpdateShardCount ≈ {usc_total:.0f} s",
        n + k,
    )


def midpoint(start: int, end: int) -> int:
    """NewStartingHashKey that halves [start, end]: keys ≥ it go to the upper child.

    Integer arithmetic on 0 … 2^128−1 (floats would lose the low 75 bits): width w = end − start + 1,
    cut = start + w // 2, so the lower child holds w // 2 keys and the upper w − w // 2.
    """
    if end <= start:
        raise ValueError(f"cannot split a range of width {end - start + 1}")
    return start + (end - start + 1) // 2


def choose_splits(shards: Sequence[Shard], count: int, heat: Mapping[str, float] | None = None) -> list[SplitOp]:
    """`count` splits, each of the currently hottest range (shard-level IncomingBytes) or else the widest.

    A split child inherits half its parent's heat (keys are assumed uniform inside a shard). With shard-level
    metrics on, a shard with no datapoint wrote nothing: its heat is 0. Ties go to the wider, then lower range.
    """
    heat = heat or {}
    use_heat = any(v > 0 for v in heat.values())
    get = heat.get
    # max-heap on (heat, width); start breaks ties deterministically (lower range first). Widths and cuts are
    # computed inline (this loop runs up to 10,000 times for one plan: bench/plan_large.py).
    heap: list[tuple[float, int, int, int, str | None]] = [
        (-get(s.shard_id, 0.0) if use_heat else 0.0, s.start - s.end - 1, s.start, s.end, s.shard_id)
        for s in shards
        if s.end > s.start
    ]
    heapq.heapify(heap)
    # The loop allocates ~3 tuples per split and none can form a reference cycle: the cyclic GC, which would run
    # dozens of times over the growing heap, is paused for it (restored after, whatever happens).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _split_loop(heap, count)
    finally:
        if paused:
            gc.enable()


def _split_loop(heap: list[tuple[float, int, int, int, str | None]], count: int) -> list[SplitOp]:
    ops: list[SplitOp] = []
    append, heapreplace, heappush, heappop = ops.append, heapq.heapreplace, heapq.heappush, heapq.heappop
    new = tuple.__new__  # SplitOp(...) without the NamedTuple constructor's Python frame: same object
    for _ in range(count):
        if not heap:
            break
        neg_heat, _, start, end, shard_id = heap[0]
        cut = start + (end - start + 1) // 2  # midpoint(start, end)
        append(new(SplitOp, (start, end, cut, shard_id)))
        half = neg_heat / 2
        if end - start >= 3:  # both children still splittable (width ≥ 4): the usual case
            heapreplace(heap, (half, start - cut, start, cut - 1, None))  # pop the parent, push a child: one sift
            heappush(heap, (half, cut - end - 1, cut, end, None))
        elif cut - 1 > start:
            heapreplace(heap, (half, start - cut, start, cut - 1, None))
        elif end > cut:
            heapreplace(heap, (half, cut - end - 1, cut, end, None))
        else:
            heappop(heap)
    return ops


def apply_ops(shards: Sequence[Shard], ops: Sequence[Op]) -> list[Shard]:
    """The OPEN shards after `ops`, computed without AWS (children get synthetic ids). For checks and previews."""
    current = sorted(shards, key=lambda s: s.start)
    serial = 0
    for op in ops:
        if isinstance(op, UpdateShardCountOp):
            current = uniform_shards(op.target, prefix="planned-")
            continue
        idx = next((i for i, s in enumerate(current) if s.start == op.parent_start and s.end == op.parent_end), None)
        if idx is None:
            raise ValueError(f"no open shard covers [{op.parent_start}, {op.parent_end}]")
        if not op.parent_start < op.new_starting_hash_key <= op.parent_end:
            raise ValueError("NewStartingHashKey outside the parent's range")
        parent = current[idx]
        serial += 2
        lower = Shard(f"planned-{serial - 1}", parent.start, op.new_starting_hash_key - 1)
        upper = Shard(f"planned-{serial}", op.new_starting_hash_key, parent.end)
        current[idx : idx + 1] = [lower, upper]
    return current


def uniform_shards(count: int, prefix: str = "shardId-") -> list[Shard]:
    """`count` shards with even hash ranges, the layout CreateStream and UpdateShardCount(UNIFORM_SCALING) produce."""
    if count <= 0:
        raise ValueError("count must be positive")
    total = MAX_HASH_KEY + 1
    bounds = [total * i // count for i in range(count + 1)]
    return [Shard(f"{prefix}{i:012d}", bounds[i], bounds[i + 1] - 1) for i in range(count)]


def tiles_key_space(shards: Sequence[Shard]) -> bool:
    """True when the ranges cover 0 … 2^128−1 with no gap and no overlap."""
    ordered = sorted(shards, key=lambda s: s.start)
    if not ordered or ordered[0].start != 0 or ordered[-1].end != MAX_HASH_KEY:
        return False
    return all(a.end + 1 == b.start and a.start <= a.end for a, b in itertools.pairwise(ordered))
