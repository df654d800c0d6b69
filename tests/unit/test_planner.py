"""Scale-up decisions, table-driven; each case's arithmetic is in its comment."""

from __future__ import annotations

import pytest

from autoscaler.defaults import MAX_HASH_KEY
from autoscaler.model import MetricSeries, OpKind, Shard, SplitOp, StreamMetrics, TriggerKind, UpdateShardCountOp
from autoscaler.planner import (
    MethodReason,
    PlanInput,
    ScaleUpReason,
    apply_ops,
    choose_splits,
    midpoint,
    plan_scale_up,
    tiles_key_space,
    uniform_shards,
)

pytestmark = pytest.mark.unit
MiB = 1_048_576


def metrics(peak: float, shards: int, points: int = 5) -> StreamMetrics:
    """`points` one-minute datapoints, the last at `peak` utilisation of `shards`, the rest at half of it."""
    values = [peak / 2 * shards * MiB * 60] * (points - 1) + [peak * shards * MiB * 60]
    return StreamMetrics(MetricSeries(60, tuple(values)), MetricSeries(60, ()))


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
        # peak 100% of 4 = 4 shards of load; / 0.6 target = 6.67 → 7
        ("peak sizes the target", inp(4, 1.0), 7, ScaleUpReason.SCALED_FOR_PEAK),
        # peak 1.2 × 4 = 4.8 / 0.6 = 8 = 2 × 4, exactly the doubling bound
        ("exact doubling", inp(4, 1.2), 8, ScaleUpReason.SCALED_FOR_PEAK),
        # peak 2.0 × 4 = 8 / 0.6 = 13.3 → 14, capped by 2× per action at 8
        ("capped at 2x", inp(4, 2.0), 8, ScaleUpReason.SCALED_FOR_PEAK),
        # 1.0 × 40 / 0.6 = 66.7 → 67, min(2 × 40, max 64) = 64
        ("capped at max_shards", inp(40, 1.0), 64, ScaleUpReason.SCALED_FOR_PEAK),
        # peak 50% of 4 = 2 / 0.6 = 3.3 → 4 = current; alarmed, so +1 minimum step
        ("alarm with a low peak adds one", inp(4, 0.5), 5, ScaleUpReason.MINIMUM_STEP),
        # no datapoints: fallback ×1.5: ⌈4 × 1.5⌉ = 6
        ("metrics missing → fallback", inp(4, None), 6, ScaleUpReason.METRICS_MISSING),
        # fallback on 1 shard: ⌈1.5⌉ = 2
        ("fallback from one shard", inp(1, None), 2, ScaleUpReason.METRICS_MISSING),
        # throttling at 30% stream utilisation (< 60% target): a hot shard, +1
        ("throttle below target = hot shard", inp(4, 0.3, trigger=TriggerKind.THROTTLE), 5, ScaleUpReason.HOT_SHARD),
        # throttling at 90% (≥ target): sized like a utilisation alarm: 3.6 / 0.6 = 6
        ("throttle above target sizes", inp(4, 0.9, trigger=TriggerKind.THROTTLE), 6, ScaleUpReason.SCALED_FOR_PEAK),
        # 1 open shard with min_shards 3: restore the floor (3 ≤ 2 × 1? no → capped at 2)
        ("below min restores floor within 2x", inp(1, 0.1, min_shards=3), 2, ScaleUpReason.BELOW_MIN),
        ("below min restores floor", inp(2, 0.1, min_shards=3), 3, ScaleUpReason.BELOW_MIN),
        # continuation: finish towards 8 from 6 (origin 4: 2 × 4 = 8 allowed)
        ("continuation", inp(6, 0.1, requested_target=8, origin_count=4), 8, ScaleUpReason.CONTINUATION),
        # a forged continuation target beyond 2 × origin is cut back: min(100, 2 × 4, 64) = 8
        ("continuation bounded", inp(6, 0.1, requested_target=100, origin_count=4), 8, ScaleUpReason.CONTINUATION),
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
        # the alarm's threshold was for 4 shards, 8 are open; peak 0.3 × 8 = 2.4 / 0.6 = 4 ≤ 8: already scaled
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
    # alarm for 4 shards, 8 open, but the peak 0.9 × 8 = 7.2 / 0.6 = 12 > 8: scale on the evidence
    plan = plan_scale_up(inp(8, 0.9, alarm_shards=4.0))
    assert (plan.target, plan.reason) == (12, ScaleUpReason.SCALED_FOR_PEAK)


@pytest.mark.parametrize(
    ("case", "plan_input", "method", "why"),
    [
        ("one split", inp(4, 0.5), OpKind.SPLIT, MethodReason.SINGLE_SPLIT),
        # 4 → 7: 3 splits × 30 s = 90 s, not more than one UpdateShardCount (90 s)
        ("splits not slower", inp(4, 1.0), OpKind.SPLIT, MethodReason.SPLITS_FASTER),
        # 4 → 8: 4 × 30 = 120 s > 90 s
        ("update faster", inp(4, 1.2), OpKind.UPDATE_SHARD_COUNT, MethodReason.UPDATE_SHARD_COUNT_FASTER),
        (
            "quota used",
            inp(4, 1.2, update_shard_count_calls_24h=10),
            OpKind.SPLIT,
            MethodReason.UPDATE_SHARD_COUNT_QUOTA,
        ),
        (
            "refused",
            inp(4, 1.2, update_shard_count_allowed=False),
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
        assert plan.ops == (UpdateShardCountOp(plan.current, plan.target),)
    else:
        assert all(isinstance(op, SplitOp) for op in plan.ops)


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
    shards = uniform_shards(4)
    m = StreamMetrics(MetricSeries(60, (0.3 * 4 * MiB * 60,)), MetricSeries(60, ()), {shards[2].shard_id: 9e9})
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
    plan = plan_scale_up(inp(4, 2.0))
    assert plan.message == "peak 200% of 4 shards needs 14 for 60%; capped by at most 2x per action (4 -> 8)"
    assert plan.capped_by == ("at most 2x per action (4 -> 8)",)


def test_splits_are_capped_at_what_one_action_chain_can_execute() -> None:
    # 300 shards at 200% want 1,000 (capped 2x: 600), UpdateShardCount refused: 300 splits × ~30 s would outlast
    # the 9 invocations of one chain, so the action takes the first 240 (→ 540); the alarm triggers the next
    plan = plan_scale_up(inp(300, 2.0, max_shards=1000, update_shard_count_allowed=False))
    assert (plan.target, len(plan.ops)) == (540, 240)
    assert "240 splits per action" in plan.message
