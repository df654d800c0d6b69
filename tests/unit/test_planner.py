"""Scale-up decisions, table-driven; each case's arithmetic is in its comment."""

from __future__ import annotations

import pytest

from autoscaler.core.limits import MAX_HASH_KEY
from autoscaler.core.model import MetricSeries, OpKind, Shard, SplitOp, StreamMetrics, TriggerKind, UpdateShardCountOp
from autoscaler.core.scale_up import (
    LimitReason,
    MethodReason,
    PlanInput,
    ScaleUpReason,
    apply_ops,
    choose_splits,
    limit_splits,
    limit_target,
    midpoint,
    plan_scale_up,
    splits_for_capacity,
    tiles_key_space,
    uniform_shards,
    update_shard_count_chain,
)

pytestmark = pytest.mark.unit
MiB = 1_048_576


def metrics(peak: float, shards: int, points: int = 5) -> StreamMetrics:
    """`points` one-minute datapoints, the last at `peak` utilisation of `shards`, the rest at half of it."""
    values = [peak / 2 * shards * MiB * 60] * (points - 1) + [peak * shards * MiB * 60]
    return StreamMetrics(MetricSeries(60, tuple(values)), MetricSeries(60, ()))


def refusing(accepted: float, refused: float, shards: int) -> StreamMetrics:
    """One minute, records-bound: `accepted` of N shards' 1,000 records/s (100 B each) and `refused` more of it
    refused (WriteProvisionedThroughputExceeded), both as fractions of N shards' records capacity."""
    cap = shards * 1_000 * 60
    return StreamMetrics(
        MetricSeries(60, (accepted * cap * 100,)),
        MetricSeries(60, (accepted * cap,)),
        throttled_records=MetricSeries(60, (refused * cap,)),
    )


KEYS = MAX_HASH_KEY + 1
# Uneven layouts, made by midpoint splits (widest first) of even ones:
HALF_QUARTERS = tuple(apply_ops(uniform_shards(2), choose_splits(uniform_shards(2), 1)))  # shares ¼, ¼, ½
EIGHTHS_QUARTERS = tuple(apply_ops(uniform_shards(4), choose_splits(uniform_shards(4), 1)))  # ⅛, ⅛, ¼, ¼, ¼


def inp(n: int = 4, peak: float | None = 1.0, **kw: object) -> PlanInput:
    base = PlanInput(
        stream="orders",
        shards=tuple(uniform_shards(n)),
        min_shards=1,
        max_shards=64,
        trigger=TriggerKind.UTILISATION,
        metrics=metrics(peak, n) if peak is not None else None,
    )
    return base._replace(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "plan_input", "target", "reason"),
    [
        # peak 80% of 4 = 3.2 shards of load; × headroom 2 = 6.4 → 7
        ("peak sizes the target", inp(4, 0.8), 7, ScaleUpReason.SCALED_FOR_PEAK),
        # peak 100% of 4 = 4 × 2 = 8 exactly (no float error makes it 9)
        ("exact multiple", inp(4, 1.0), 8, ScaleUpReason.SCALED_FOR_PEAK),
        # peak 1000% of 2 = 20 × 2 = 40 > 16 × 2 = 32: capped by 16× per action (max_shards 1,000 does not bind)
        ("capped at 16x", inp(2, 10.0, max_shards=1000), 32, ScaleUpReason.SCALED_FOR_PEAK),
        # 1.0 × 40 × 2 = 80, min(16 × 40 = 640, max 64) = 64
        ("capped at max_shards", inp(40, 1.0), 64, ScaleUpReason.SCALED_FOR_PEAK),
        # headroom 1.5: 3.2 × 1.5 = 4.8 → 5 (the default 2 would give 7, the first case)
        ("headroom is a parameter", inp(4, 0.8, headroom=1.5), 5, ScaleUpReason.SCALED_FOR_PEAK),
        # peak 50% of 4 = 2 × 2 = 4 = current; alarmed, so +1 minimum step
        ("alarm with a low peak adds one", inp(4, 0.5), 5, ScaleUpReason.MINIMUM_STEP),
        # no datapoints: fallback ×1.5: ⌈4 × 1.5⌉ = 6
        ("metrics missing → fallback", inp(4, None), 6, ScaleUpReason.METRICS_MISSING),
        # fallback on 1 shard: ⌈1.5⌉ = 2
        ("fallback from one shard", inp(1, None), 2, ScaleUpReason.METRICS_MISSING),
        # throttling at 30% of 4 (nothing refused in the metrics): 1.2 × 2 = 2.4 → 3 ≤ 4 shards: a hot shard, +1
        ("throttle that fits = hot shard", inp(4, 0.3, trigger=TriggerKind.THROTTLE), 5, ScaleUpReason.HOT_SHARD),
        # throttling at 70%: 2.8 × 2 = 5.6 → 6 > 4: sized like a utilisation alarm
        ("throttle beyond the fit sizes", inp(4, 0.7, trigger=TriggerKind.THROTTLE), 6, ScaleUpReason.SCALED_FOR_PEAK),
        # 1 open shard with min_shards 20: restore the floor, but 20 > 16 × 1: capped at 16
        ("below min restores floor within 16x", inp(1, 0.1, min_shards=20), 16, ScaleUpReason.BELOW_MIN),
        # 2 open, min 3: 0.2 × 2 = 0.4 → 1 ≤ 2, the minimum step 3 ≤ min 3: the floor 3. Restored by splits, it
        # takes 4 shards: capacity 3 on evenly spread keys means no shard wider than ⅓, so both halves are split
        # (½ × 3 = 1.5 → 2 pieces each; one split alone would make 3 shards that carry only 2, the unsplit half
        # filling first). 2 splits ≈ 60 s < one UpdateShardCount 2 → 3 ≈ 90 s, so 4 it is: the floor is met and
        # exceeded by one shard, reached 30 s sooner than the exact count.
        ("below min restores floor", inp(2, 0.1, min_shards=3), 4, ScaleUpReason.BELOW_MIN),
        # 4 open, min 7: the minimum step 5 ≤ 7: the floor 7. Each quarter × 7 = 1.75 → 2 pieces: 4 splits ≈ 120 s
        # > one UpdateShardCount 4 → 7 ≈ 90 s: the floor exactly, evenly
        ("below min restores floor evenly", inp(4, 0.1, min_shards=7), 7, ScaleUpReason.BELOW_MIN),
        # continuation: finish towards 8 from 6 (origin 4: 16 × 4 = 64 allowed)
        ("continuation", inp(6, 0.1, requested_target=8, origin_count=4), 8, ScaleUpReason.CONTINUATION),
        # a forged continuation target beyond 16 × origin is cut back: min(100, 16 × 4 = 64, max 1,000) = 64
        (
            "continuation bounded",
            inp(6, 0.1, requested_target=100, origin_count=4, max_shards=1000),
            64,
            ScaleUpReason.CONTINUATION,
        ),
    ],
)
def test_target_and_reason(case: str, plan_input: PlanInput, target: int, reason: ScaleUpReason) -> None:
    plan = plan_scale_up(plan_input)
    assert (plan.target, plan.reason) == (target, reason), f"{case}: {plan.message}"
    assert len(apply_ops(plan_input.shards, plan.ops)) == target


@pytest.mark.parametrize(
    ("case", "plan_input", "reason"),
    [
        ("at max", inp(64, 2.0), ScaleUpReason.AT_MAX),
        # the alarm's threshold was for 4 shards, 8 are open; peak 0.3 × 8 = 2.4 × 2 = 4.8 → 5 ≤ 8: already scaled
        ("stale alarm", inp(8, 0.3, alarm_shards=4.0), ScaleUpReason.ALREADY_AT_TARGET),
        ("stale alarm without data", inp(8, None, alarm_shards=4.0), ScaleUpReason.ALREADY_AT_TARGET),
        ("continuation already done", inp(8, 0.1, requested_target=8, origin_count=4), ScaleUpReason.ALREADY_AT_TARGET),
    ],
)
def test_noops(case: str, plan_input: PlanInput, reason: ScaleUpReason) -> None:
    plan = plan_scale_up(plan_input)
    assert plan.noop, case
    assert (plan.target, plan.reason) == (plan.current, reason), plan.message


def test_stale_alarm_still_scales_when_the_peak_needs_it() -> None:
    # alarm for 4 shards, 8 open, but the peak 0.9 × 8 = 7.2 × 2 = 14.4 → 15 > 8: scale on the evidence
    plan = plan_scale_up(inp(8, 0.9, alarm_shards=4.0))
    assert (plan.target, plan.reason) == (15, ScaleUpReason.SCALED_FOR_PEAK)


@pytest.mark.parametrize(
    ("case", "plan_input", "method", "why"),
    [
        # 1 shard at 50%: 0.5 × 2 = 1 ≤ 1, alarmed: minimum step → 2; the whole space × 2 = 2 pieces: 1 split
        ("one split", inp(1, 0.5), OpKind.SPLIT, MethodReason.SINGLE_SPLIT),
        # shares ½, ¼, ¼ at 50%: 1.5 × 2 = 3 ≤ 3: minimum step → 4. Only the half is wider than ¼ (½ × 4 = 2 pieces,
        # ¼ × 4 = 1): 1 split carries 4
        ("one split of an uneven layout", inp(3, 0.5, shards=HALF_QUARTERS), OpKind.SPLIT, MethodReason.SINGLE_SPLIT),
        # 2 even shards at 80%: 1.6 × 2 = 3.2 → 4; each half × 4 = 2 pieces: 2 splits × 30 s = 60 s < one
        # UpdateShardCount (90 s)
        ("splits faster", inp(2, 0.8), OpKind.SPLIT, MethodReason.SPLITS_FASTER),
        # shares ⅛, ⅛, ¼, ¼, ¼ at 50%: 2.5 × 2 = 5 ≤ 5: minimum step → 6. Each quarter × 6 = 1.5 → 2 pieces, each
        # eighth × 6 = 0.75 → 1: 3 splits × 30 s = 90 s, not more than one UpdateShardCount 5 → 6 (90 s): splits
        (
            "splits not slower",
            inp(5, 0.5, shards=EIGHTHS_QUARTERS),
            OpKind.SPLIT,
            MethodReason.SPLITS_FASTER,
        ),
        # 4 → 8 (4 × 2): each quarter × 8 = 2 pieces: 4 × 30 = 120 s > one UpdateShardCount 90 s
        ("update faster", inp(4, 1.0), OpKind.UPDATE_SHARD_COUNT, MethodReason.UPDATE_SHARD_COUNT_FASTER),
        # 4 → 7 (3.2 × 2 = 6.4): capacity 7 needs every quarter halved (1.75 → 2 pieces), so 4 splits, not 3:
        # 120 s > one UpdateShardCount 90 s
        ("update faster than 4 splits", inp(4, 0.8), OpKind.UPDATE_SHARD_COUNT, MethodReason.UPDATE_SHARD_COUNT_FASTER),
        # 1 shard at 150%: 1.5 × 2 = 3; the whole space × 3 → 4 pieces: 3 splits × 30 = 90 s ≤ two chained calls
        # (1 → 2 → 3) × 90 = 180 s
        ("splits beat a two-call chain", inp(1, 1.5), OpKind.SPLIT, MethodReason.SPLITS_FASTER),
        # 4 → 20 (10 × 2): each quarter × 20 = 5 → 8 pieces: 28 splits × 30 = 840 s > three calls (4 → 8 → 16 → 20)
        # × 90 = 270 s
        ("chain faster", inp(4, 2.5), OpKind.UPDATE_SHARD_COUNT, MethodReason.UPDATE_SHARD_COUNT_FASTER),
        (
            "quota used",
            inp(4, 1.0, update_shard_count_calls_24h=10),
            OpKind.SPLIT,
            MethodReason.UPDATE_SHARD_COUNT_QUOTA,
        ),
        (
            "refused",
            inp(4, 1.0, update_shard_count_allowed=False),
            OpKind.SPLIT,
            MethodReason.UPDATE_SHARD_COUNT_REFUSED,
        ),
        ("hot shard", inp(4, 0.3, trigger=TriggerKind.THROTTLE), OpKind.SPLIT, MethodReason.HOT_SHARD_SPLIT),
    ],
)
def test_method_choice(case: str, plan_input: PlanInput, method: OpKind, why: MethodReason) -> None:
    plan = plan_scale_up(plan_input)
    assert (plan.method, plan.method_reason) == (method, why), f"{case}: {plan.method_message}"
    if method is OpKind.UPDATE_SHARD_COUNT:
        assert plan.ops == tuple(update_shard_count_chain(plan.current, plan.target))
        assert all(isinstance(op, UpdateShardCountOp) for op in plan.ops)
    else:
        assert all(isinstance(op, SplitOp) for op in plan.ops)
        assert len(apply_ops(plan_input.shards, plan.ops)) == plan.target


@pytest.mark.parametrize(
    ("case", "shards", "capacity", "splits"),
    [
        # each ¼ × 7 = 1.75 → 2 pieces: 4 splits (8 shards; 3 splits would leave a quarter: capacity 4)
        ("4 even to carry 7", uniform_shards(4), 7, 4),
        # each ¼ × 8 = 2 → 2 pieces: the same 4 splits
        ("4 even to carry 8", uniform_shards(4), 8, 4),
        # each ¼ × 9 = 2.25 → 4 pieces (midpoint splits make powers of two): 3 splits each, 12 (16 shards)
        ("4 even to carry 9", uniform_shards(4), 9, 12),
        # each ¼ × 4 = 1: already carried, nothing to split
        ("4 even to carry 4", uniform_shards(4), 4, 0),
        # ½ × 3 = 1.5 → 2 pieces; ¼ × 3 = 0.75 → 1: only the half is too wide
        ("½, ¼, ¼ to carry 3", HALF_QUARTERS, 3, 1),
        # ½ × 4 = 2 → 2 pieces; ¼ × 4 = 1: still only the half
        ("½, ¼, ¼ to carry 4", HALF_QUARTERS, 4, 1),
        # ½ × 5 = 2.5 → 4 pieces (3 splits); ¼ × 5 = 1.25 → 2 pieces (1 split each): 5
        ("½, ¼, ¼ to carry 5", HALF_QUARTERS, 5, 5),
        # 3 even shards (widths differ by a key) carry 3: float rounding must not ask for a split
        ("3 even to carry 3", uniform_shards(3), 3, 0),
    ],
)
def test_splits_for_capacity(case: str, shards: tuple[Shard, ...] | list[Shard], capacity: int, splits: int) -> None:
    assert splits_for_capacity(shards, capacity) == splits, case
    # widest-first, that many splits leave no shard wider than 1 / capacity (and one fewer would)
    after = apply_ops(shards, choose_splits(shards, splits))
    assert max(s.width for s in after) * capacity / KEYS <= 1 + 1e-9
    if splits:
        short = apply_ops(shards, choose_splits(shards, splits - 1))
        assert max(s.width for s in short) * capacity / KEYS > 1 + 1e-9


def test_split_plans_reach_the_capacity_not_only_the_count() -> None:
    # 4 even shards at peak 85%, headroom 2: 3.4 × 2 = 6.8 → 7. UpdateShardCount refused, so splits: 3 of them
    # would make 7 shards, but the unsplit quarter-width one fills first, so the layout still carries only 4
    # (widest ¼). Capacity 7 needs every quarter halved: 4 splits → 8 shards, widest ⅛, carrying 8 ≥ 7.
    shards = uniform_shards(4)
    plan = plan_scale_up(inp(4, 0.85, headroom=2.0, update_shard_count_allowed=False))
    assert (plan.method, plan.method_reason) == (OpKind.SPLIT, MethodReason.UPDATE_SHARD_COUNT_REFUSED)
    assert (plan.target, len(plan.ops)) == (8, 4), plan.message
    after = apply_ops(shards, plan.ops)
    assert tiles_key_space(after) and len(after) == 8
    assert max(s.width for s in after) * 8 == KEYS  # widest share exactly ⅛: capacity 8 ≥ 7
    # what the count alone asked for (the bug): 3 widest-first splits leave a quarter, capacity 4
    three = apply_ops(shards, choose_splits(shards, 3))
    assert len(three) == 7 and max(s.width for s in three) * 4 == KEYS


def test_non_hot_split_plans_go_widest_first_whatever_the_heat() -> None:
    # shares ½, ¼, ¼ with all the heat on the first quarter, but a utilisation alarm (not a hot shard): 1.5 × 2 =
    # 3 ≤ 3, minimum step → 4, which only the half's split carries (½ × 4 = 2 pieces). Splitting the hot quarter
    # would make 4 shards that still carry 2.
    heat = {HALF_QUARTERS[0].shard_id: 1e9}
    m = metrics(0.5, 3)._replace(shard_incoming_bytes=heat)
    plan = plan_scale_up(inp(3, shards=HALF_QUARTERS, metrics=m))
    assert (plan.reason, plan.method_reason) == (ScaleUpReason.MINIMUM_STEP, MethodReason.SINGLE_SPLIT)
    half = max(HALF_QUARTERS, key=lambda s: s.width)
    assert [op.parent_shard_id for op in plan.ops if isinstance(op, SplitOp)] == [half.shard_id]


@pytest.mark.parametrize(
    ("start", "end", "cut"),
    [
        (0, MAX_HASH_KEY, 2**127),  # the whole space halves at 2^127
        (0, 1, 1),  # width 2: lower child [0,0], upper [1,1]
        (10, 12, 11),  # width 3: lower [10,10] (3 // 2 = 1 key), upper [11,12]
        (2**127, MAX_HASH_KEY, 2**127 + 2**126),
    ],
)
def test_midpoint_integer_arithmetic(start: int, end: int, cut: int) -> None:
    assert midpoint(start, end) == cut
    assert start < cut <= end


def test_midpoint_refuses_width_one() -> None:
    with pytest.raises(ValueError):
        midpoint(5, 5)


def test_widest_shards_split_first() -> None:
    # c = [¾, 1) is a quarter, a = [0, ½) a half, b = [½, ¾) a quarter: a goes first (cut at ¼). Then four
    # quarters tie and the lowest goes next: a's lower child [0, ¼), addressed by range as it has no id yet.
    half, quarter = 2**127, 2**126
    shards = [Shard("c", half + quarter, MAX_HASH_KEY), Shard("a", 0, half - 1), Shard("b", half, half + quarter - 1)]
    ops = choose_splits(shards, 2)
    assert ops[0].parent_shard_id == "a"
    assert ops[0].new_starting_hash_key == quarter
    assert (ops[1].parent_shard_id, ops[1].parent_start, ops[1].parent_end) == (None, 0, quarter - 1)


def test_hottest_shard_split_first_and_children_inherit_half() -> None:
    shards = uniform_shards(4)
    heat = {shards[0].shard_id: 10.0, shards[1].shard_id: 100.0, shards[2].shard_id: 30.0, shards[3].shard_id: 45.0}
    ops = choose_splits(shards, 3, heat)
    # 100 is split first; its children carry 50 each, which still beat 45: the next split is a child of shard 1
    # (addressed by range, no id yet), then the other child (50 > 45).
    assert ops[0].parent_shard_id == shards[1].shard_id
    assert ops[1].parent_shard_id is None and ops[1].parent_start == shards[1].start
    assert ops[2].parent_shard_id is None and ops[2].parent_end == shards[1].end
    assert tiles_key_space(apply_ops(shards, ops))


def test_hot_shard_plan_uses_shard_level_heat() -> None:
    # stream at 30% of 4 = 1.2 shards of load, 0.9 of it on shard 2 (75% of the bytes on 25% of the keys):
    # 1.2 × 2 = 2.4 → 3 ≤ 4 fits, so one split, and shard-level heat says which: shard 2
    shards = uniform_shards(4)
    heat = {s.shard_id: (0.9 if i == 2 else 0.1) * MiB * 60 for i, s in enumerate(shards)}
    m = StreamMetrics(MetricSeries(60, (0.3 * 4 * MiB * 60,)), MetricSeries(60, ()), heat)
    plan = plan_scale_up(inp(4, trigger=TriggerKind.THROTTLE, metrics=m))
    assert plan.reason is ScaleUpReason.HOT_SHARD
    assert [op.parent_shard_id for op in plan.ops if isinstance(op, SplitOp)] == [shards[2].shard_id]


def test_uniform_layout_tiles_the_key_space() -> None:
    for n in (1, 2, 3, 7, 1000):
        shards = uniform_shards(n)
        assert tiles_key_space(shards)
        widths = {s.width for s in shards}
        assert max(widths) - min(widths) <= 1  # even to the key


def test_apply_ops_rejects_unknown_range() -> None:
    with pytest.raises(ValueError):
        apply_ops(uniform_shards(2), [SplitOp(1, 5, 3)])


def test_plan_reason_messages_read_well() -> None:
    # 2 shards at 1000% = 20 shards of load × 2 = 40, capped at 16 × 2 = 32: 30 splits × 30 s = 900 s against
    # four doublings 2 → 4 → 8 → 16 → 32 × 90 s = 360 s
    plan = plan_scale_up(inp(2, 10.0, max_shards=1000))
    assert plan.message == "peak 1000% of 2 shards needs 40 for headroom 2x"
    assert plan.limit is LimitReason.SCALE_UP_FACTOR
    assert (
        plan.decision == "peak 1000% of 2 shards needs 40 for headroom 2x; capped by at most 16x per action (2 -> 32)"
    )
    assert plan.method_message == "30 splits ≈ 900 s > 4 UpdateShardCount ≈ 360 s"
    assert [(op.current, op.target) for op in plan.ops if isinstance(op, UpdateShardCountOp)] == [
        (2, 4),
        (4, 8),
        (8, 16),
        (16, 32),
    ]
    # refused writes show in the message: 4 shards at 100% accepted + 100% refused = demand 2.0 → 8 × 2 = 16
    throttled = plan_scale_up(inp(4, trigger=TriggerKind.THROTTLE, metrics=refusing(1.0, 1.0, 4)))
    assert throttled.message == "peak 100% of 4 shards (demand 200% with refused writes) needs 16 for headroom 2x"


def test_splits_are_capped_at_what_one_action_chain_can_execute() -> None:
    # 300 shards at 200% = 600 × 2 = 1,200, capped by max_shards 1,000 (16 × 300 = 4,800 does not bind);
    # UpdateShardCount refused: capacity 1,000 needs each 1/300 shard in 4 pieces (3.3 → 4), 900 splits, of
    # which max_shards leaves room for 700; 700 × ~30 s would outlast the 9 invocations of one chain, so the
    # action takes the first 240 (→ 540); the alarm triggers the next
    plan = plan_scale_up(inp(300, 2.0, max_shards=1000, update_shard_count_allowed=False))
    assert (plan.target, len(plan.ops)) == (540, 240)
    assert [lim.reason for lim in plan.limits] == [LimitReason.MAX_SHARDS, LimitReason.SPLITS_PER_ACTION]
    assert plan.limit is LimitReason.SPLITS_PER_ACTION  # the last to bite set the target
    assert plan.decision.endswith("; capped by max_shards 1000; capped by 240 splits per action (300 -> 540)")


@pytest.mark.parametrize(
    ("desired", "origin", "max_shards", "target", "reason"),
    [
        # nothing bites: 10 ≤ 16 × 4 = 64 and ≤ 100
        (10, 4, 100, 10, LimitReason.NONE),
        # the factor: 100 > 16 × 4 = 64 → 64 (max 1,000 does not bind)
        (100, 4, 1_000, 64, LimitReason.SCALE_UP_FACTOR),
        # max_shards: 50 ≤ 64 but > 40 → 40
        (50, 4, 40, 40, LimitReason.MAX_SHARDS),
        # both: 100 → 64 by the factor, → 40 by max_shards; the tighter one is reported
        (100, 4, 40, 40, LimitReason.MAX_SHARDS),
        # a continuation: the factor counts from the origin (2), not the count now: 16 × 2 = 32
        (40, 2, 1_000, 32, LimitReason.SCALE_UP_FACTOR),
    ],
)
def test_limit_target_applies_the_limits_apart_and_says_which_bit(
    desired: int, origin: int, max_shards: int, target: int, reason: LimitReason
) -> None:
    limited = limit_target(desired, origin=origin, max_shards=max_shards)
    assert (limited.target, limited.reason) == (target, reason)
    assert bool(limited.message) is (reason is not LimitReason.NONE)


def test_limit_splits_caps_what_one_chain_can_finish() -> None:
    assert limit_splits(300, 540) == (540, LimitReason.NONE, "")  # 240 splits: exactly the cap
    assert limit_splits(300, 541)[:2] == (540, LimitReason.SPLITS_PER_ACTION)


@pytest.mark.parametrize(
    ("accepted", "refused", "target", "reason", "ops"),
    [
        # a throttled stream's accepted peak sits at its capacity: demand 1.0 + 1.0 refused = 2.0 of 4 = 8 shards of
        # load × 2 = 16; 12 splits × 30 s = 360 s > two doublings × 90 s = 180 s
        (1.0, 1.0, 16, ScaleUpReason.SCALED_FOR_PEAK, [(4, 8), (8, 16)]),
        # 1.0 + 0.5 = 1.5 × 4 = 6 × 2 = 12; 8 splits = 240 s > 4 → 8 → 12 = 180 s
        (1.0, 0.5, 12, ScaleUpReason.SCALED_FOR_PEAK, [(4, 8), (8, 12)]),
        # the same alarm with nothing refused sizes from the accepted peak only: 4 × 2 = 8 (120 s > 90 s)
        (1.0, 0.0, 8, ScaleUpReason.SCALED_FOR_PEAK, [(4, 8)]),
        # 0.3 + 0.1 = 0.4 × 4 = 1.6 × 2 = 3.2 → 4 ≤ 4: capacity with headroom is there, one shard is hot: split it
        (0.3, 0.1, 5, ScaleUpReason.HOT_SHARD, None),
        # 0.3 + 0.2 = 0.5 × 4 = 2 × 2 = 4 ≤ 4: still fits (the boundary)
        (0.3, 0.2, 5, ScaleUpReason.HOT_SHARD, None),
        # 0.3 + 0.3 = 0.6 × 4 = 2.4 × 2 = 4.8 → 5 > 4: sized from demand. Capacity 5 needs every quarter halved
        # (¼ × 5 = 1.25 → 2 pieces): 4 splits = 120 s > one UpdateShardCount 4 → 5 = 90 s
        (0.3, 0.3, 5, ScaleUpReason.SCALED_FOR_PEAK, [(4, 5)]),
    ],
)
def test_throttled_stream_is_sized_from_demand(
    accepted: float, refused: float, target: int, reason: ScaleUpReason, ops: list[tuple[int, int]] | None
) -> None:
    plan = plan_scale_up(inp(4, trigger=TriggerKind.THROTTLE, metrics=refusing(accepted, refused, 4)))
    assert (plan.target, plan.reason) == (target, reason), plan.message
    if ops is None:
        assert plan.method is OpKind.SPLIT and len(plan.ops) == 1
    else:
        assert plan.method is OpKind.UPDATE_SHARD_COUNT
        assert [(op.current, op.target) for op in plan.ops if isinstance(op, UpdateShardCountOp)] == ops


@pytest.mark.parametrize(
    ("calls_used", "target", "ops", "cut"),
    [
        # 4 shards at 500% = 20 × 2 = 40 (≤ 16 × 4 = 64 = max_shards). 8 of 10 calls used → 2 left: 4 × 2² = 16.
        # 2 calls × 90 s = 180 s < 36 splits × 30 s = 1,080 s: the chain, cut at 16; the alarm triggers the rest
        (8, 16, [(4, 8), (8, 16)], "; 2 calls left in 24 h reach 16"),
        # 9 used → 1 left: 4 × 2 = 8
        (9, 8, [(4, 8)], "; 1 call left in 24 h reach 8"),
        # 7 used → 3 left: 4 × 2³ = 32
        (7, 32, [(4, 8), (8, 16), (16, 32)], "; 3 calls left in 24 h reach 32"),
        # 6 used → 4 left: 4 × 2⁴ = 64 ≥ 40: not cut, four calls to 40
        (6, 40, [(4, 8), (8, 16), (16, 32), (32, 40)], ""),
    ],
)
def test_chain_is_cut_to_the_calls_left_in_24h(
    calls_used: int, target: int, ops: list[tuple[int, int]], cut: str
) -> None:
    plan = plan_scale_up(inp(4, 5.0, update_shard_count_calls_24h=calls_used))
    assert (plan.method, plan.target) == (OpKind.UPDATE_SHARD_COUNT, target), plan.method_message
    assert [(op.current, op.target) for op in plan.ops if isinstance(op, UpdateShardCountOp)] == ops
    assert plan.method_message.endswith(f"UpdateShardCount ≈ {len(ops) * 90} s{cut}")
    assert len(apply_ops(uniform_shards(4), plan.ops)) == target


@pytest.mark.parametrize(
    ("current", "target", "chain"),
    [
        (4, 20, [(4, 8), (8, 16), (16, 20)]),  # doublings while they fit, then the rest: 20 ≤ 2 × 16
        (5, 6, [(5, 6)]),  # one call: 6 ≤ 2 × 5
        (7, 14, [(7, 14)]),  # exactly 2× is one call
        (1, 16, [(1, 2), (2, 4), (4, 8), (8, 16)]),  # the 16× cap is four doublings
        (3, 3, []),  # nothing to do
    ],
)
def test_update_shard_count_chain(current: int, target: int, chain: list[tuple[int, int]]) -> None:
    ops = update_shard_count_chain(current, target)
    assert [(op.current, op.target) for op in ops] == chain


@pytest.mark.parametrize(
    ("case", "heat", "refused", "target"),
    [
        # 4 even shards, 1 minute published, 2 KiB records (bytes lead). Heat (shards of load): (1.0, 0.2, 0.2, 0.2)
        # = 1.6 accepted; shard 0 writes 1.0 / 1.6 = 62% of the bytes on 25% of the keys (≥ 2×): hot. Refused: 2.0
        # shard-equivalents (61,440 records × 2 KiB) all go to the saturated shard 0: d = 3.0 → ⌈3.0 × 2⌉ = 6
        # pieces, doubled to 12 because it refuses (its heat inside is unknown: one level finer); midpoint cuts
        # make 2^⌈log2 12⌉ = 16 pieces = 15 splits; the others ⌈0.2 × 2⌉ = 1 each → 4 + 15 = 19.
        ("hot and refusing", (1.0, 0.2, 0.2, 0.2), 2.0, 19),
        # the same heat, the throttle series not read (taken at the alarm's word): shard 0 at 1.0 → 2 pieces
        # (1 split), others 1 → 5
        ("hot, refusals unread", (1.0, 0.2, 0.2, 0.2), None, 5),
    ],
)
def test_hot_shards_are_split_into_pieces_by_their_demand(
    case: str, heat: tuple[float, ...], refused: float | None, target: int
) -> None:
    shards = uniform_shards(4)
    accepted = sum(heat)
    m = StreamMetrics(
        MetricSeries(60, (accepted * MiB * 60,)),
        MetricSeries(60, (accepted * MiB * 60 / 2048,)),
        {s.shard_id: h * MiB * 60 for s, h in zip(shards, heat, strict=True)},
        throttled_records=MetricSeries(60, (refused * MiB * 60 / 2048,)) if refused is not None else None,
    )
    plan = plan_scale_up(inp(4, trigger=TriggerKind.THROTTLE, metrics=m))
    assert (plan.reason, plan.target, plan.method) == (ScaleUpReason.HOT_SHARD, target, OpKind.SPLIT), case
    # every split lands in shard 0's range: the hot shard is cut into pieces, the cool ones are left alone
    assert all(op.parent_start >= shards[0].start and op.parent_end <= shards[0].end for op in plan.ops)  # type: ignore[union-attr]


def test_a_throttle_alarm_with_no_refused_write_in_the_lookback_adds_nothing() -> None:
    """Issue 12 section 5: the same throttle notification delivered again after the cooldown, at 30% load with
    no refused write in the lookback, split again each time (4 → 5 → 6 → 7). The alarm's threshold is the same
    for every count, so only the evidence can tell: none refused, nothing to add. A read that found no series
    at all (None) stays the alarm's word."""
    shards = uniform_shards(4)
    quiet = StreamMetrics(
        MetricSeries(60, (0.3 * 4 * MiB * 60,) * 5),
        MetricSeries(60, (100.0,) * 5),
        {s.shard_id: 0.3 * MiB * 60 for s in shards},
        throttled_records=MetricSeries(60, (0.0,) * 5),
    )
    plan = plan_scale_up(inp(4, trigger=TriggerKind.THROTTLE, metrics=quiet))
    assert (plan.reason, plan.target, plan.ops) == (ScaleUpReason.NO_EVIDENCE, 4, ())
    hot_but_quiet = quiet._replace(
        shard_incoming_bytes={s.shard_id: (1.0 if i == 0 else 0.1) * MiB * 60 for i, s in enumerate(shards)}
    )
    assert (
        plan_scale_up(inp(4, trigger=TriggerKind.THROTTLE, metrics=hot_but_quiet)).reason is ScaleUpReason.NO_EVIDENCE
    )
    unread = quiet._replace(throttled_records=None)
    assert plan_scale_up(inp(4, trigger=TriggerKind.THROTTLE, metrics=unread)).target == 5
    # a utilisation alarm is not asked for refused writes: at 30% it still takes its minimum step
    assert plan_scale_up(inp(4, trigger=TriggerKind.UTILISATION, metrics=quiet)).target == 5


def test_even_heat_is_not_a_hot_shard() -> None:
    # every shard writes its key share: demand 1.0 + refused 1.0 of 4 shards → even rescale ⌈8 × 2⌉ = 16 by USC
    shards = uniform_shards(4)
    m = refusing(1.0, 1.0, 4)._replace(shard_incoming_bytes={s.shard_id: 1.0 for s in shards})
    plan = plan_scale_up(inp(4, trigger=TriggerKind.THROTTLE, metrics=m))
    assert plan.reason is ScaleUpReason.SCALED_FOR_PEAK and plan.method is OpKind.UPDATE_SHARD_COUNT


def test_pieces_splits_cut_each_shard_into_a_power_of_two_parents_first() -> None:
    from autoscaler.core.scale_up import pieces_splits

    shards = uniform_shards(2)
    # shard 0 into 3 → 4 pieces: the shard, then each half (3 splits); shard 1 untouched
    ops = pieces_splits(shards, {shards[0].shard_id: 3})
    assert len(ops) == 3 and ops[0].parent_shard_id == shards[0].shard_id
    after = apply_ops(shards, ops)
    assert tiles_key_space(after)
    widths = sorted(s.end - s.start + 1 for s in after)
    assert widths[:4] == [(MAX_HASH_KEY + 1) // 8] * 4 and widths[4] == (MAX_HASH_KEY + 1) // 2


def test_split_plans_keep_the_16x_cap_too() -> None:
    # 2 shards of ¾ and ¼ of the keys, the UpdateShardCount quota spent: splits only. Peak 5.0 of 2 shards = 10
    # shards of load × headroom 4 = 40, capped by 16 × 2 = 32. Capacity 32 needs the ¾ shard in 32 pieces (24 →
    # 2^5) and the ¼ in 8: 38 splits — more than the cap allows, so 30 splits: 32 shards, never 40.
    q = (MAX_HASH_KEY + 1) // 4
    shards = (Shard("a", 0, 3 * q - 1), Shard("b", 3 * q, MAX_HASH_KEY))
    plan = plan_scale_up(
        inp(2, shards=shards, metrics=metrics(5.0, 2), headroom=4.0, max_shards=40, update_shard_count_calls_24h=10)
    )
    assert (plan.target, len(plan.ops)) == (32, 30), plan.message


def test_hot_pieces_cut_short_by_max_shards_go_to_the_hottest_shard() -> None:
    # 4 even shards writing 0.6, 0.6, 0.6 and 1.0 shard-equivalents (2 KiB records: bytes lead), 120,000 records a
    # minute refused on the saturated shard 3; max_shards 6 leaves room for 2 splits: both must land in shard 3.
    shards = uniform_shards(4)
    heat = (0.6, 0.6, 0.6, 1.0)
    total = sum(heat) * MiB * 60
    m = StreamMetrics(
        MetricSeries(60, (total,)),
        MetricSeries(60, (total / 2048,)),
        {s.shard_id: h * MiB * 60 for s, h in zip(shards, heat, strict=True)},
        throttled_records=MetricSeries(60, (120_000.0,)),
    )
    plan = plan_scale_up(inp(4, trigger=TriggerKind.THROTTLE, metrics=m, max_shards=6))
    assert plan.reason is ScaleUpReason.HOT_SHARD and plan.target == 6
    hot = shards[3]
    assert all(hot.start <= op.parent_start and op.parent_end <= hot.end for op in plan.ops)  # type: ignore[union-attr]


def test_a_rising_load_is_planned_for_its_projection_and_says_so() -> None:
    """4 shards, the last minutes at 60% then 100%: by the level, ⌈1.0 × 4 × 2⌉ = 8; by the rise (2 periods
    ahead: 1.0 + 2 × 0.4 = 1.8), ⌈1.8 × 4 × 2⌉ = ⌈14.4⌉ = 15."""
    from autoscaler.core.scale_up import PlanInput, plan_scale_up, uniform_shards

    cap = 4 * 1_048_576 * 60
    metrics = StreamMetrics(MetricSeries(60, (0.2 * cap, 0.6 * cap, 1.0 * cap)), MetricSeries(60, (1.0, 1.0, 1.0)))
    base = PlanInput("orders", tuple(uniform_shards(4)), 1, 64, TriggerKind.UTILISATION, metrics)
    assert plan_scale_up(base).target == 8
    rising = plan_scale_up(base._replace(rise_periods=2.0))
    assert rising.target == 15 and "rising: 180% projected" in rising.message
