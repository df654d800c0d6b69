"""The capacity-mode decision (core/capacity_mode.py): a table with the arithmetic, and properties over sequences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.core.capacity_mode import DAY_SECONDS, ModeEstimate, ModeInput, ModePolicy, ModeReason, decide_mode
from autoscaler.core.capacity_mode import ModeEstimate as ME
from autoscaler.core.model import StreamMode

pytestmark = pytest.mark.unit

P, OD = StreamMode.PROVISIONED, StreamMode.ON_DEMAND
NOW = 1_800_000_000.0
H = 3600.0


def inp(current: StreamMode, prov: tuple[float, float], od: tuple[float, float], **kw: object) -> ModeInput:
    """30 days of history, no switch yet, margin 20%, slack 0.01 pp, dwell 7 days (the defaults); 4 shards within
    the bounds [1, 10000]."""
    fields: dict[str, object] = {
        "shards": 4,
        "stream": "s",
        "current": current,
        "provisioned": ModeEstimate(*prov),
        "on_demand": ModeEstimate(*od),
        "history_seconds": 30 * DAY_SECONDS,
        "now": NOW,
        **kw,
    }
    return ModeInput(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "given_input", "target", "reason"),
    [
        # provisioned throttles 0.50% vs on-demand's 0.10% + 0.01 pp: on-demand, even at twice the cost
        ("throttle wins over cost", inp(P, (50.0, 0.005), (100.0, 0.001)), OD, ModeReason.THROTTLE),
        # 0.105% ≤ 0.10% + 0.01 pp: within the slack, judged on cost; $100 vs $100: kept
        ("within the throttle slack", inp(P, (100.0, 0.00105), (100.0, 0.001)), P, ModeReason.KEEP),
        # on-demand $79 < $100 × (1 − 0.2) = $80: cheaper by the margin
        ("on-demand cheaper by the margin", inp(P, (100.0, 0.0), (79.0, 0.0)), OD, ModeReason.CHEAPER),
        # $81 ≥ $80: inside the hysteresis band, kept
        ("on-demand cheaper, not by the margin", inp(P, (100.0, 0.0), (81.0, 0.0)), P, ModeReason.KEEP),
        # provisioned $79 < $100 × 0.8 and throttles no more: back to provisioned
        ("provisioned cheaper by the margin", inp(OD, (79.0, 0.001), (100.0, 0.001)), P, ModeReason.CHEAPER),
        ("provisioned cheaper but throttling more", inp(OD, (10.0, 0.01), (100.0, 0.001)), OD, ModeReason.KEEP),
        ("provisioned cheaper, not by the margin", inp(OD, (81.0, 0.0), (100.0, 0.0)), OD, ModeReason.KEEP),
        # the last switch 12 h ago: a cost move back to on-demand waits a day; a throttle move does not
        (
            "dwell holds a cost move",
            inp(P, (100.0, 0.0), (50.0, 0.0), switches=(NOW - 12 * H,)),
            P,
            ModeReason.DWELL,
        ),
        # provisioned by our switch 2 days ago; over 30 days provisioned still looks cheaper ($80 vs $100), but its
        # last day cost $5 where on-demand would have cost $3: the move did not pay, undone
        (
            "a move to provisioned that did not pay",
            inp(P, (80.0, 0.0), (100.0, 0.0), switches=(NOW - 2 * DAY_SECONDS,), recent=(ME(5.0, 0.0), ME(3.0, 0.0))),
            OD,
            ModeReason.UNPAID,
        ),
        ("... and one that did", inp(P, (80.0, 0.0), (100.0, 0.0), recent=(ME(3.0, 0.0), ME(5.0, 0.0))), P, "keep"),
        # judged only after a day in provisioned
        (
            "too soon to say it did not pay",
            inp(P, (80.0, 0.0), (100.0, 0.0), switches=(NOW - 20 * H,), recent=(ME(5.0, 0.0), ME(3.0, 0.0))),
            P,
            ModeReason.KEEP,
        ),
        (
            "dwell does not hold a throttle move",
            inp(P, (50.0, 0.01), (100.0, 0.0), switches=(NOW - H,)),
            OD,
            ModeReason.THROTTLE,
        ),
        (
            "dwell holds a move to provisioned",
            inp(OD, (10.0, 0.0), (100.0, 0.0), switches=(NOW - 6 * DAY_SECONDS,)),
            OD,
            ModeReason.DWELL,
        ),
        # two switches within 24 h: AWS's limit
        (
            "two switches in 24 h",
            inp(P, (50.0, 0.01), (100.0, 0.0), switches=(NOW - 23 * H, NOW - 2 * H)),
            P,
            ModeReason.SWITCH_BUDGET,
        ),
        # one of them 25 h ago: it no longer counts
        (
            "a switch older than 24 h does not count",
            inp(P, (50.0, 0.01), (100.0, 0.0), switches=(NOW - 25 * H, NOW - 2 * H)),
            OD,
            ModeReason.THROTTLE,
        ),
        # to provisioned only with both switches left: one is kept to come back (dwell 0 to isolate the rule)
        (
            "one switch is kept to return to on-demand",
            inp(OD, (10.0, 0.0), (100.0, 0.0), switches=(NOW - 23 * H,), min_dwell_seconds=0),
            OD,
            ModeReason.SWITCH_BUDGET,
        ),
        ("on-demand quota full", inp(P, (50.0, 0.01), (100.0, 0.0), on_demand_quota_free=False), P, ModeReason.QUOTA),
        ("stream UPDATING", inp(P, (50.0, 0.01), (100.0, 0.0), active=False), P, ModeReason.BUSY),
        # on-demand left 40 shards; the config's max is 32: back to provisioned would leave the bounds
        (
            "provisioned cheaper, the count outside the bounds",
            inp(OD, (10.0, 0.0), (100.0, 0.0), shards=40, max_shards=32),
            OD,
            ModeReason.BOUNDS,
        ),
        # 5 h < 6 h of history: no evidence either way
        (
            "short history",
            inp(P, (50.0, 0.01), (100.0, 0.0), history_seconds=5 * H),
            P,
            ModeReason.SHORT_HISTORY,
        ),
    ],
)
def test_the_decision_table(case: str, given_input: ModeInput, target: StreamMode, reason: ModeReason) -> None:
    d = decide_mode(given_input)
    assert (d.target, d.reason.value) == (target, str(reason)), f"{case}: {d.message}"
    assert d.switches == (target is not given_input.current)
    assert "provisioned $" in d.message and "on-demand $" in d.message  # the figures behind every answer


@pytest.mark.parametrize(
    ("case", "given_input", "target", "reason"),
    [
        # the config decides; the evidence (here: on-demand far cheaper, provisioned throttling) is not read
        (
            "provisioned is never switched",
            inp(P, (100.0, 0.05), (1.0, 0.0), policy=ModePolicy.PROVISIONED),
            P,
            "configured",
        ),
        (
            "provisioned, found on-demand: left",
            inp(OD, (1.0, 0.0), (100.0, 0.0), policy=ModePolicy.PROVISIONED),
            OD,
            "configured",
        ),
        (
            "on-demand: a provisioned stream goes",
            inp(P, (1.0, 0.0), (100.0, 0.0), policy=ModePolicy.ON_DEMAND),
            OD,
            "configured",
        ),
        ("on-demand stays on-demand", inp(OD, (1.0, 0.0), (100.0, 0.0), policy=ModePolicy.ON_DEMAND), OD, "configured"),
        # ... within AWS's limits all the same, and with no estimates at all
        (
            "on-demand, two switches in 24 h",
            inp(P, (1.0, 0.0), (1.0, 0.0), policy=ModePolicy.ON_DEMAND, switches=(NOW - H, NOW - 2 * H)),
            P,
            "switch_budget",
        ),
        (
            "on-demand, quota full, no estimates",
            inp(P, (1.0, 0.0), (1.0, 0.0), policy=ModePolicy.ON_DEMAND, on_demand_quota_free=False)._replace(
                provisioned=None, on_demand=None
            ),
            P,
            "quota",
        ),
        # auto with no estimates (history unreadable): no evidence
        ("auto without estimates", inp(P, (1.0, 0.0), (1.0, 0.0))._replace(provisioned=None), P, "short_history"),
    ],
)
def test_a_configured_mode_needs_no_evidence(
    case: str, given_input: ModeInput, target: StreamMode, reason: str
) -> None:
    d = decide_mode(given_input)
    assert (d.target, d.reason.value) == (target, reason), f"{case}: {d.message}"


estimates = st.tuples(st.floats(0, 1_000), st.floats(0, 0.05)).map(lambda t: ModeEstimate(*t))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(estimates, estimates), min_size=1, max_size=200), st.sampled_from([P, OD]))
def test_applied_hour_by_hour_it_never_breaks_aws_limits_nor_moves_to_a_worse_mode(
    hours: list[tuple[ModeEstimate, ModeEstimate]], start: StreamMode
) -> None:
    """Decided every hour on arbitrary estimates: never more than 2 switches in any 24 h, never a move to
    provisioned that leaves no switch to come back within the 24 h, never to provisioned when it throttles more."""
    mode, switches = start, []
    for k, (prov, od) in enumerate(hours):
        now = NOW + k * H
        d = decide_mode(ModeInput("s", mode, prov, od, 30 * DAY_SECONDS, now, tuple(switches), min_dwell_seconds=0))
        if d.switches:
            recent = [t for t in switches if now - DAY_SECONDS < t <= now]
            assert len(recent) < 2
            if d.target is P:
                assert not recent
                assert prov.throttled_fraction <= od.throttled_fraction + 0.0001
                assert prov.cost_usd < od.cost_usd * 0.8
            switches.append(now)
            mode = d.target
    for i, t in enumerate(switches):
        assert sum(1 for u in switches[i:] if u < t + DAY_SECONDS) <= 2
