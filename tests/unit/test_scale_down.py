"""Scale-down decisions, table-driven with the arithmetic in comments, and merge properties (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.core.model import OpKind, Shard
from autoscaler.core.scale_down import (
    ScaleDownInput,
    ScaleDownReason,
    adjacent_pairs,
    apply_merges,
    decide_scale_down,
    effective_capacity,
    fleet_lagging,
    limit_of,
    plan_merges,
)
from autoscaler.core.scale_up import tiles_key_space, uniform_shards
from tests.unit.test_planner_properties import layouts

pytestmark = pytest.mark.unit
MiB = 1_048_576
P = 300  # 5-minute periods
DAY = range(0, 86_400, P)  # 288 period starts


def bytes_at(util: float, shards: int) -> float:
    """A 5-minute Sum that is `util` of `shards` shards' write capacity."""
    return util * shards * MiB * P


def inp(
    n: int = 8, util: float | list[float] | None = 0.3, min_shards: int = 1, records: bool = True, **kw: object
) -> ScaleDownInput:
    points = list(DAY)
    if util is None:
        b: dict[int, float] = {}
    elif isinstance(util, list):
        b = {t: bytes_at(u, n) for t, u in zip(points, util, strict=False) if u is not None}
    else:
        b = {t: bytes_at(util, n) for t in points}
    r = {t: 1.0 for t in b} if records else {}
    base = ScaleDownInput("s", tuple(uniform_shards(n)), min_shards, 0.5, 0.8, 0, 86_400, P, b, r)
    return base._replace(**kw)  # type: ignore[arg-type]


def one_spike(at: int, util: float, base: float = 0.1) -> list[float]:
    values = [base] * len(DAY)
    values[at] = util
    return values


def uneven(util: float) -> ScaleDownInput:
    """6 shards [¼, ¼, ⅛, ⅛, ⅛, ⅛] (the second half split twice more, e.g. by hot-shard splits), every datapoint at
    `util` of the layout's effective capacity: 4 shard-equivalents (the widest shard, ¼, fills first)."""
    q, e = 2**126, 2**125
    eighths = (Shard(f"c{i}", 2 * q + i * e, 2 * q + (i + 1) * e - 1) for i in range(4))
    shards = (Shard("a", 0, q - 1), Shard("b", q, 2 * q - 1), *eighths)
    b = {t: bytes_at(util, 4) for t in DAY}
    return ScaleDownInput("s", shards, 1, 0.5, 0.8, 0, 86_400, P, b, {t: 1.0 for t in b})


MERGE, USC = OpKind.MERGE, OpKind.UPDATE_SHARD_COUNT


@pytest.mark.parametrize(
    ("case", "decision_input", "target", "reason", "method"),
    [
        # the limit is min(1 / headroom 2, 0.8 − 0.1) = 50%.
        # all 288 datapoints at 20% of 8 shards: 1.6 shards of load / 0.5 = 3.2 → 4 = halving → 4. Merging four
        # pairs leaves 4 even shards (capacity 4): 1.6 ≤ 0.5 × 4 = 2 → by merges
        ("all below", inp(8, 0.2), 4, ScaleDownReason.MERGE, MERGE),
        # 10% of 8 = 0.8 shards / 0.5 → 1.6 → 2, but at most halving per run: 4
        ("halving bound", inp(8, 0.1), 4, ScaleDownReason.MERGE, MERGE),
        # 10% of 8 with min_shards 6: max(2, 4, 6) = 6; two merged pairs are 2/8 wide: capacity 8 / 2 = 4,
        # 0.8 ≤ 0.5 × 4 = 2 → by merges
        ("min bound", inp(8, 0.1, min_shards=6), 6, ScaleDownReason.MERGE, MERGE),
        # 40% of 10 = 4 shards of load / 0.5 = 8 (above the halving bound 5). Two merged pairs are 2/10 wide:
        # capacity 5, 4 > 0.5 × 5 = 2.5 → only an even layout of 8 carries it: UpdateShardCount
        ("peak bound", inp(10, 0.4), 8, ScaleDownReason.MERGE, USC),
        # 35% of 10 = 3.5 / 0.5 = 7; three merged pairs leave capacity 5: 3.5 > 2.5 → UpdateShardCount to 7
        ("peak bound to 7", inp(10, 0.35), 7, ScaleDownReason.MERGE, USC),
        # uneven [¼, ¼, ⅛ × 4], 40% of its capacity 4 = 1.6 / 0.5 = 3.2 → 4 (halving: 3). The two ⅛ pairs merge
        # into quarters: 4 even shards, capacity 4, 1.6 ≤ 2 → a peak bound reached by merges
        ("peak bound on an uneven layout", uneven(0.4), 4, ScaleDownReason.MERGE, MERGE),
        # one datapoint at 50% (exactly at the threshold) of 8: not below → kept
        ("exactly at threshold", inp(8, one_spike(100, 0.5)), 8, ScaleDownReason.BUSY, MERGE),
        # one datapoint at 55% → kept
        ("one datapoint above", inp(8, one_spike(7, 0.55)), 8, ScaleDownReason.BUSY, MERGE),
        # 49.9% everywhere on 2 shards: 0.998 shards / 0.5 = 1.996 → 2 = current: kept, the peak would be 99.8%
        ("peak too high", inp(2, 0.499), 2, ScaleDownReason.PEAK_TOO_HIGH, MERGE),
        # 46% on 2 shards: after merging 92% > 50%: kept (the example)
        ("peak 46% on 2", inp(2, 0.46), 2, ScaleDownReason.PEAK_TOO_HIGH, MERGE),
        # 30% on 2: 0.6 / 0.5 = 1.2 → 2: kept with headroom 2 ...
        ("peak 30% on 2", inp(2, 0.3), 2, ScaleDownReason.PEAK_TOO_HIGH, MERGE),
        # ... but headroom 1.25 allows 1 / 1.25 = 80%, capped at 0.8 − 0.1 = 70%: 0.6 / 0.7 = 0.86 → 1 shard
        ("margin caps a small headroom", inp(2, 0.3, headroom=1.25), 1, ScaleDownReason.MERGE, MERGE),
        ("min reached", inp(4, 0.1, min_shards=4), 4, ScaleDownReason.AT_MIN, MERGE),
        # no datapoint in 24 h: no traffic: max(1, ⌈8/2⌉, 1) = 4
        ("no traffic", inp(8, None), 4, ScaleDownReason.NO_TRAFFIC, MERGE),
        ("no traffic, 1 shard", inp(1, None), 1, ScaleDownReason.AT_MIN, MERGE),
        # sparse traffic (every other period missing) counts the gaps as zero: still all below; 1.6 / 0.5 → 4
        (
            "gaps are zero traffic",
            inp(8, [0.2 if i % 2 else None for i in range(288)]),
            4,
            ScaleDownReason.MERGE,
            MERGE,
        ),
        # the fleet's metrics stop short of the settled window: CloudWatch lags, nobody is judged
        ("lagging metrics", inp(8, 0.1, metrics_lagging=True), 8, ScaleDownReason.INCOMPLETE_METRICS, MERGE),
        # a stream with an hourly burst and nothing in its newest periods is judged (gaps are no writes)
        (
            "sparse periodic traffic",
            inp(8, [0.1 if i % 12 == 0 else None for i in range(276)]),
            4,
            ScaleDownReason.MERGE,
            MERGE,
        ),
        # bytes without records: half a picture
        ("records missing", inp(8, 0.1, records=False), 8, ScaleDownReason.INCOMPLETE_METRICS, MERGE),
    ],
)
def test_decisions(
    case: str, decision_input: ScaleDownInput, target: int, reason: ScaleDownReason, method: OpKind
) -> None:
    d = decide_scale_down(decision_input)
    assert (d.target, d.reason, d.method) == (target, reason, method), f"{case}: {d.message}"
    assert len(d.merges) == d.current - d.target
    assert len(apply_merges(decision_input.shards, d.merges)) == target


def test_kept_message_shows_the_arithmetic() -> None:
    assert decide_scale_down(inp(2, 0.46)).message == "kept: peak 46% would be 92% after merging (limit 50%)"
    busy = decide_scale_down(inp(8, one_spike(7, 0.55)))
    assert busy.message == "kept: 1 of 288 datapoints at or above 50% (peak 55%)"
    # 10 even shards to 7 (35% of 10 = 3.5 / 0.5): three merged pairs would be 2/10 wide, capacity 10 / 2 = 5
    even_only = decide_scale_down(inp(10, 0.35))
    assert even_only.message == (
        "every datapoint below 50% (peak 35%, mean 35%): 10 -> 7 (peak 35% fits 7 under 50%; merges would leave "
        "5.0 shards of capacity: by UpdateShardCount)"
    )


q_, e_ = 2**126, 2**125


@pytest.mark.parametrize(
    ("case", "shards", "capacity"),
    [
        ("8 even", uniform_shards(8), 8.0),  # widest 1/8 → 8
        # 8 even with two pairs merged: 6 shards, the widest 2/8 → 4, not 6
        ("8 even, two pairs merged", apply_merges(uniform_shards(8), plan_merges(uniform_shards(8), 2)), 4.0),
        ("one shard", uniform_shards(1), 1.0),
        ("[½, ¼, ¼]", [Shard("a", 0, 2 * q_ - 1), Shard("b", 2 * q_, 3 * q_ - 1), Shard("c", 3 * q_, 4 * q_ - 1)], 2.0),
        # [¼, ¼, ⅛ × 4]: widest ¼ → 4
        ("uneven, six shards", list(uneven(0.1).shards), 4.0),
        ("no shards", [], 0.0),
    ],
)
def test_effective_capacity(case: str, shards: list[Shard], capacity: float) -> None:
    assert effective_capacity(shards) == pytest.approx(capacity), case


def test_utilisation_is_measured_against_the_effective_capacity() -> None:
    # 6 shards [¼, ¼, ⅛ × 4] writing 1.6 shards' worth of bytes: 1.6 / capacity 4 = 40%, not 1.6 / 6 = 27%
    d = decide_scale_down(uneven(0.4))
    assert d.peak == pytest.approx(0.4)


def test_records_alone_can_make_a_stream_busy() -> None:
    # bytes 10% but records at 60% of 4 shards × 1,000/s × 300 s = 720,000 per period
    d = decide_scale_down(inp(4, 0.1)._replace(incoming_records={t: 0.6 * 4 * 1000 * P for t in DAY}))
    assert d.reason is ScaleDownReason.BUSY


def test_merges_pick_the_smallest_combined_range_first() -> None:
    # [0,¼) [¼,½) [½,⅝) [⅝,¾) [¾,1): the two eighths merge first (¼ combined), then the quarter pairs
    q, e = 2**126, 2**125
    shards = [
        Shard("a", 0, q - 1),
        Shard("b", q, 2 * q - 1),
        Shard("c", 2 * q, 2 * q + e - 1),
        Shard("d", 2 * q + e, 3 * q - 1),
        Shard("e", 3 * q, 4 * q - 1),
    ]
    merges = plan_merges(shards, 2)
    assert (merges[0].lower_shard_id, merges[0].upper_shard_id) == ("c", "d")
    assert (merges[1].lower_shard_id, merges[1].upper_shard_id) == ("a", "b")
    assert tiles_key_space(apply_merges(shards, merges))


@st.composite
def quiet_inputs(draw: st.DrawFn) -> ScaleDownInput:
    shards = draw(layouts())
    n = len(shards)
    lo = draw(st.integers(1, max(1, n)))
    util = draw(st.floats(0, 0.49))
    return inp(1, util)._replace(
        shards=tuple(shards),
        min_shards=lo,
        incoming_bytes={t: bytes_at(util, n) for t in DAY},
        incoming_records={t: 1.0 for t in DAY},
    )


@settings(max_examples=300, deadline=None)
@given(quiet_inputs())
def test_merges_keep_the_invariants(decision_input: ScaleDownInput) -> None:
    d = decide_scale_down(decision_input)
    n = len(decision_input.shards)
    after = apply_merges(decision_input.shards, d.merges)  # raises if a merge joins non-adjacent or closed shards
    assert tiles_key_space(after)
    assert len(after) == d.target
    assert max(decision_input.min_shards, (n + 1) // 2) <= d.target <= n or n <= decision_input.min_shards
    assert d.target >= 1
    if d.acts:
        # the method's promise: MERGE reaches a layout whose effective capacity keeps the load under the limit;
        # UPDATE_SHARD_COUNT only when the merged layout would not, and the even layout of `target` shards would
        load = (d.peak or 0.0) * effective_capacity(decision_input.shards)
        limit = limit_of(decision_input)
        fits_merged = load <= limit * effective_capacity(after) + 1e-9
        assert (d.method is OpKind.MERGE) == fits_merged
        assert load <= limit * d.target + 1e-9


@settings(max_examples=200, deadline=None)
@given(layouts(), st.integers(0, 20))
def test_planned_merges_only_join_adjacent_open_shards(shards: list[Shard], count: int) -> None:
    open_pairs = {(a.start, b.end) for a, b in adjacent_pairs(shards)}
    merges = plan_merges(shards, count)
    assert len(merges) == min(count, len(shards) - 1)
    if merges:
        first = merges[0]
        assert (first.lower_start, first.upper_end) in open_pairs
    assert tiles_key_space(apply_merges(shards, merges))


@pytest.mark.parametrize(
    ("case", "series", "lagging"),
    [
        ("fresh fleet", [{0: 1.0, 86_100: 1.0}, {}], False),
        ("one stream fresh is enough", [{0: 1.0}, {85_800: 2.0}], False),
        ("nobody has the newest settled periods", [{0: 1.0, 85_000: 1.0}, {84_000: 1.0}], True),
        ("no data anywhere is not lag", [{}, {}], False),
    ],
)
def test_fleet_lag_is_judged_on_the_whole_fleet(case: str, series: list[dict[int, float]], lagging: bool) -> None:
    # settled window ends at 86,400 − 300 = 86,100; the guard covers the 2 periods before it: [85,500, 86,100)
    assert fleet_lagging(series, settled_end=86_100, period=P) is lagging, case


def test_far_over_its_need_is_a_24_h_peak_that_fits_a_quarter_of_the_shards() -> None:
    """16 shards at 5%: 0.8 shard of load / limit 50% = 1.6 → 2 shards needed; 2 × 4 = 8 ≤ 16: far over (it halves
    to 8 now and may halve again before its cooldown ends). 8 shards at 30%: 2.4 / 0.5 = 4.8 → 5; 5 × 4 = 20 > 8."""
    far = decide_scale_down(inp(n=16, util=0.05))
    assert (far.target, far.far_over) == (8, True) and "far over its need (2 of 16)" in far.message
    near = decide_scale_down(inp(n=8, util=0.3))
    assert (near.target, near.far_over) == (5, False)
