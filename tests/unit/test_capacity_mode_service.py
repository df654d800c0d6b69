"""The capacity-mode use case (app/capacity_mode.py) on the doubles: decisions with reasons, the switch as a lifecycle
action under the lock, AWS's limits (two switches per 24 h, the on-demand quota, UPDATING), and what it never does."""

from __future__ import annotations

from collections import deque

import pytest

from autoscaler.adapters.fakes.estimator import FakeEstimator
from autoscaler.app.capacity_mode import CapacityModeService, ModeOutcome
from autoscaler.app.ports import Direction
from autoscaler.config import parse_config
from autoscaler.core.capacity import AlarmKind, alarm_name
from autoscaler.core.capacity_mode import DAY_SECONDS, ModeEstimate, ModeEvidence
from autoscaler.core.errors import MetricsUnavailable
from autoscaler.core.model import StreamMode
from tests.conftest import World

pytestmark = pytest.mark.unit

P, OD = StreamMode.PROVISIONED, StreamMode.ON_DEMAND
MONTH = 30 * DAY_SECONDS
# 30 days replayed: on-demand $100 and throttling 0.1%; provisioned cheaper ($40, 0.1%), dearer ($200), or throttling
CHEAP_PROVISIONED = ModeEvidence(ModeEstimate(40.0, 0.001), ModeEstimate(100.0, 0.001), MONTH)
DEAR_PROVISIONED = ModeEvidence(ModeEstimate(200.0, 0.001), ModeEstimate(100.0, 0.001), MONTH)
THROTTLING = ModeEvidence(ModeEstimate(40.0, 0.02), ModeEstimate(100.0, 0.001), MONTH)


def service(
    world: World,
    streams: dict[str, tuple[str, int]],
    evidence: dict[str, object] | None = None,
    max_shards: int = 64,
    **kw: object,
) -> tuple[CapacityModeService, FakeEstimator]:
    """Streams name -> (capacity_mode, shards), created provisioned on the doubles with their alarms."""
    lines = "".join(
        f"  - {{name: {n}, min_shards: 1, max_shards: {max_shards}, desired_shards: {s}, capacity_mode: {m}"
        + "".join(f", {k}: {v}" for k, v in kw.items())
        + "}\n"
        for n, (m, s) in streams.items()
    )
    world.config = parse_config("streams:\n" + lines)
    for name, (_, shards) in streams.items():
        world.add_stream(name, shards)
    estimator = FakeEstimator(evidence or {})  # type: ignore[arg-type]
    return world.capacity_mode_service(estimator), estimator


def by_stream(results: list[object]) -> dict[str, object]:
    return {r.stream: r for r in results}  # type: ignore[attr-defined]


def test_each_stream_gets_its_decision_and_only_the_ones_that_win_switch(world: World) -> None:
    svc, estimator = service(
        world,
        {"steady": ("auto", 4), "spiky": ("auto", 4), "hot": ("auto", 4), "pinned": ("on-demand", 4)},
        {"steady": CHEAP_PROVISIONED, "spiky": DEAR_PROVISIONED, "hot": THROTTLING},
    )
    world.config = svc.config
    r = by_stream(svc.run(world.budget()))
    # steady: provisioned $40 vs on-demand $100: provisioned is as good, kept
    assert (r["steady"].outcome, r["steady"].decision.reason.value) == (ModeOutcome.KEPT, "keep")
    # spiky: on-demand $100 < $200 × 0.8 = $160: on-demand
    assert (r["spiky"].outcome, r["spiky"].decision.reason.value) == (ModeOutcome.SWITCHED, "cheaper")
    # hot: provisioned throttles 2% > on-demand's 0.1% + 0.01 pp: on-demand whatever the cost
    assert (r["hot"].outcome, r["hot"].decision.reason.value) == (ModeOutcome.SWITCHED, "throttle")
    # pinned: capacity_mode on-demand: switched with no evidence read
    assert (r["pinned"].outcome, r["pinned"].decision.reason.value) == (ModeOutcome.SWITCHED, "configured")
    assert sorted(estimator.asked) == ["hot", "spiky", "steady"]
    assert world.kinesis.describe("spiky").mode is OD and world.kinesis.describe("steady").mode is P
    assert [c for c in world.kinesis.calls if c[0] != "update_stream_mode"] == []  # nothing resharded
    # the switch is recorded in the lock item, with the action; the lock is free; no cooldown is set
    lock = world.cooldown.read("spiky")
    assert lock is not None and lock.owner is None and len(lock.mode_switches) == 1
    assert lock.last_action == "capacity mode PROVISIONED -> ON_DEMAND" and dict(lock.cooldown_until) == {}


def test_provisioned_streams_are_never_read_nor_switched(world: World) -> None:
    svc, estimator = service(world, {"orders": ("provisioned", 4)}, {"orders": DEAR_PROVISIONED})
    assert svc.run(world.budget()) == []  # the schedule's run does not even list them
    (row,) = svc.dry_run()  # the plan says why
    assert row.outcome is ModeOutcome.SKIPPED and "capacity_mode: provisioned" in row.detail
    assert estimator.asked == [] and world.kinesis.calls == []


def test_back_to_provisioned_retunes_the_alarms_to_the_count_on_demand_left(world: World) -> None:
    svc, _ = service(world, {"s": ("auto", 6)}, {"s": CHEAP_PROVISIONED})  # alarms made for 6 shards
    world.kinesis.update_shard_count("s", 3)  # on-demand left it at 3 shards
    world.clock.advance(120)
    world.kinesis.set_mode("s", OD)
    (row,) = svc.run(world.budget())
    assert row.outcome is ModeOutcome.SWITCHED and row.decision.target is P, row.detail
    assert world.kinesis.describe("s").mode is P and row.after == 3
    alarm = world.alarms.alarms[alarm_name("kinesis-autoscaler", "s", AlarmKind.INCOMING_BYTES)]
    assert alarm.spec.threshold == pytest.approx(0.8 * 3 * 1_048_576 * 60) and alarm.state == "OK"


def test_outside_its_bounds_it_stays_on_demand(world: World) -> None:
    svc, _ = service(world, {"s": ("auto", 8)}, {"s": CHEAP_PROVISIONED}, max_shards=10)
    world.kinesis.update_shard_count("s", 16)  # on-demand grew it to 16
    world.clock.advance(120)
    world.kinesis.set_mode("s", OD)
    (row,) = svc.run(world.budget())
    assert (row.outcome, row.decision.reason.value) == (ModeOutcome.KEPT, "bounds")
    assert "16 shards are outside [min_shards, max_shards] = [1, 10]" in row.detail
    assert world.kinesis.describe("s").mode is OD


def test_two_switches_a_day_and_the_dwell_come_from_the_lock_item(world: World) -> None:
    svc, estimator = service(world, {"s": ("auto", 4)}, {"s": DEAR_PROVISIONED})
    (first,) = svc.run(world.budget())
    assert first.outcome is ModeOutcome.SWITCHED and world.kinesis.describe("s").mode is OD
    # an hour later provisioned looks cheaper: the week's dwell holds it
    world.clock.advance(3600)
    estimator.evidence["s"] = CHEAP_PROVISIONED
    (second,) = svc.run(world.budget())
    assert (second.outcome, second.decision.reason.value) == (ModeOutcome.KEPT, "dwell")
    # 8 days on: back to provisioned
    world.clock.advance(8 * DAY_SECONDS)
    (third,) = svc.run(world.budget())
    assert third.outcome is ModeOutcome.SWITCHED and world.kinesis.describe("s").mode is P
    # minutes later it throttles: a throttle move ignores the dwell, and one switch of the day is left for it
    world.clock.advance(600)
    estimator.evidence["s"] = THROTTLING
    (fourth,) = svc.run(world.budget())
    assert (fourth.outcome, fourth.decision.reason.value) == (ModeOutcome.SWITCHED, "throttle")
    # the record keeps a week: the first switch (8 days 1 h ago) has left it, the last two are there
    state = world.cooldown.read("s")
    assert state is not None and len(state.mode_switches) == 2


def test_a_switch_made_elsewhere_is_refused_by_aws_and_kept(world: World) -> None:
    """Two switches by the console today: our record knows none, AWS refuses the third; nothing else changes."""
    svc, _ = service(world, {"s": ("auto", 4)}, {"s": THROTTLING})
    world.kinesis.update_stream_mode("s", OD)
    world.clock.advance(120)
    world.kinesis.update_stream_mode("s", P)
    world.clock.advance(120)
    (row,) = svc.run(world.budget())
    assert row.outcome is ModeOutcome.KEPT and "two mode switches in 24 h" in row.detail, row.detail
    assert world.kinesis.describe("s").mode is P
    lock = world.cooldown.read("s")
    assert lock is not None and lock.owner is None and lock.mode_switches == ()


def test_the_on_demand_quota_is_reserved_as_the_run_goes(world: World) -> None:
    """One free on-demand slot and three streams that want it: the first the run reaches takes it, the other two are
    kept (quota) — never two streams for the last slot."""
    svc, _ = service(world, {"a": ("on-demand", 2), "b": ("on-demand", 2), "c": ("auto", 2)}, {"c": THROTTLING})
    world.kinesis.on_demand_stream_limit = 1
    rows = svc.run(world.budget())
    outcomes = sorted((r.outcome.value, r.decision.reason.value) for r in rows)
    assert outcomes[:2] == [("kept", "quota"), ("kept", "quota")] and outcomes[2][0] == "switched"
    assert rows[0].outcome is ModeOutcome.SWITCHED  # the first one reached
    assert world.kinesis.on_demand_quota() == (1, 1)


def test_a_locked_or_updating_stream_waits_for_the_next_run(world: World) -> None:
    svc, _ = service(world, {"locked": ("on-demand", 4), "busy": ("on-demand", 4)})
    now = world.clock.now()
    world.cooldown.acquire("locked", owner="scale-up-run", now=now, lease_until=now + 900, blocked_by=())
    world.kinesis.update_shard_count("busy", 8)  # UPDATING for 90 s
    r = by_stream(svc.run(world.budget()))
    assert r["locked"].outcome is ModeOutcome.SKIPPED and "locked by another run" in r["locked"].detail
    assert (r["busy"].outcome, r["busy"].decision.reason.value) == (ModeOutcome.KEPT, "busy")
    assert world.kinesis.describe("locked").mode is P and world.kinesis.describe("busy").mode is P


def test_a_cooldown_does_not_hold_a_switch(world: World) -> None:
    """A scale-up's cooldown is about resharding; a stream that throttles goes on-demand without waiting it out."""
    svc, _ = service(world, {"s": ("auto", 4)}, {"s": THROTTLING})
    now = world.clock.now()
    world.cooldown.acquire("s", owner="up", now=now, lease_until=now + 900, blocked_by=())
    world.cooldown.release("s", owner="up", now=now, cooldowns={Direction.UP: now + 3600}, action="scale-up 2 -> 4")
    (row,) = svc.run(world.budget())
    assert row.outcome is ModeOutcome.SWITCHED
    lock = world.cooldown.read("s")
    assert lock is not None and lock.cooldown_until[Direction.UP] == now + 3600  # left as it was


def test_one_streams_trouble_is_its_own_row(world: World) -> None:
    svc, _ = service(
        world,
        {"unreadable": ("auto", 4), "new": ("auto", 4), "spiky": ("auto", 4)},
        {"unreadable": MetricsUnavailable("GetMetricData: InternalError"), "spiky": DEAR_PROVISIONED},
    )
    r = by_stream(svc.run(world.budget()))
    assert r["unreadable"].outcome is ModeOutcome.FAILED and "InternalError" in r["unreadable"].detail
    # no datapoints at all (a new or idle stream): no evidence, kept where it is, not an error every hour
    assert (r["new"].outcome, r["new"].decision.reason.value) == (ModeOutcome.KEPT, "short_history")
    assert r["spiky"].outcome is ModeOutcome.SWITCHED


def test_short_history_is_no_evidence(world: World) -> None:
    five_hours = ModeEvidence(ModeEstimate(500.0, 0.0), ModeEstimate(1.0, 0.0), 5 * 3600)
    svc, _ = service(world, {"s": ("auto", 4)}, {"s": five_hours})
    (row,) = svc.run(world.budget())
    assert (row.outcome, row.decision.reason.value) == (ModeOutcome.KEPT, "short_history")


def test_unknown_disabled_and_gone_streams_are_never_touched(world: World) -> None:
    svc, estimator = service(world, {"paused": ("on-demand", 4)}, enabled="false")
    rows = by_stream(svc.dry_run(["paused", "stranger"]))
    assert rows["paused"].outcome is ModeOutcome.SKIPPED and "enabled: false" in rows["paused"].detail
    assert rows["stranger"].outcome is ModeOutcome.SKIPPED and "not in the config" in rows["stranger"].detail
    assert svc.run(world.budget()) == []
    assert world.kinesis.calls == [] and estimator.asked == []


def test_dry_run_reads_only(world: World) -> None:
    svc, _ = service(world, {"s": ("auto", 4)}, {"s": DEAR_PROVISIONED})
    (row,) = svc.dry_run()
    assert row.outcome is ModeOutcome.DRY_RUN and row.decision.target is OD
    assert world.kinesis.calls == [] and world.cooldown.read("s") is None


def test_on_demand_is_priced_as_the_account_is_billed(world: World) -> None:
    """Advantage (the account's commitment on): the estimate prices on-demand at Advantage rates; unreadable account
    settings price it as Standard, the dearer reading."""
    from autoscaler.core.errors import AwsCallFailed
    from autoscaler.core.model import OnDemandPricing

    svc, estimator = service(world, {"s": ("auto", 4)}, {"s": CHEAP_PROVISIONED})
    world.kinesis.pricing = OnDemandPricing.ADVANTAGE
    svc.dry_run()
    assert estimator.pricing is OnDemandPricing.ADVANTAGE
    world.kinesis.faults["on_demand_pricing"] = deque([AwsCallFailed("AccessDeniedException")])
    svc.dry_run()
    assert estimator.pricing is OnDemandPricing.STANDARD


def test_a_move_to_provisioned_that_did_not_pay_is_undone_after_a_day(world: World) -> None:
    """The estimator is asked about the time since our switch to provisioned; its last day decides."""
    from autoscaler.core.capacity_mode import ModeEstimate as ME

    svc, estimator = service(world, {"s": ("auto", 4)}, {"s": CHEAP_PROVISIONED})
    world.kinesis.set_mode("s", OD)
    svc.run(world.budget())
    switched_at = world.clock.now()
    assert world.kinesis.describe("s").mode is P
    world.clock.advance(DAY_SECONDS + 3600)
    # 30 days still say provisioned ($40 vs $100), but its last day cost $5 where on-demand would have cost $3
    estimator.evidence["s"] = CHEAP_PROVISIONED._replace(recent=(ME(5.0, 0.0), ME(3.0, 0.0)))
    (row,) = svc.run(world.budget())
    assert estimator.provisioned_since == pytest.approx(switched_at, abs=120)
    assert (row.outcome, row.decision.reason.value) == (ModeOutcome.SWITCHED, "unpaid")
    assert world.kinesis.describe("s").mode is OD


@pytest.mark.parametrize(
    ("pricing", "warm_on_switch", "warm"),
    [
        # Advantage: the 30-day one-minute peak, 37.2 MiB/s, rounded up
        ("advantage", "true", 38),
        ("advantage", "false", None),  # turned off in the config
        ("standard", "true", None),  # Standard has no warm throughput
    ],
)
def test_a_switch_to_on_demand_asks_for_the_historys_peak_as_warm_throughput(
    world: World, pricing: str, warm_on_switch: str, warm: int | None
) -> None:
    from autoscaler.core.model import OnDemandPricing

    evidence = DEAR_PROVISIONED._replace(peak_mibps=37.2)
    svc, _ = service(world, {"s": ("auto", 4)}, {"s": evidence}, warm_on_switch=warm_on_switch)
    world.kinesis.pricing = OnDemandPricing(pricing)
    (row,) = svc.run(world.budget())
    assert row.outcome is ModeOutcome.SWITCHED
    assert world.kinesis.streams["s"].warm_mibps == warm
    lock = world.cooldown.read("s")
    assert lock is not None and (f"warm throughput {warm} MiB/s" in (lock.last_action or "")) == (warm is not None)


def test_bounds_are_checked_again_under_the_lock(world: World) -> None:
    """Decided to go provisioned at 8 shards (max 10); by the time its switch runs, on-demand has grown it to 16:
    not switched (the count would leave its bounds), the lock released."""
    svc, _ = service(world, {"s": ("auto", 8)}, {"s": CHEAP_PROVISIONED}, max_shards=10)
    world.kinesis.set_mode("s", OD)
    (planned,) = svc.dry_run()
    assert planned.outcome is ModeOutcome.DRY_RUN and planned.decision.target is P
    world.kinesis.set_mode("s", P)
    world.kinesis.update_shard_count("s", 16)
    world.clock.advance(120)
    world.kinesis.set_mode("s", OD)
    row = svc._switch_safely(planned, world.budget())
    assert row.outcome is ModeOutcome.SKIPPED and "16 open shards now, outside" in row.detail
    assert world.kinesis.describe("s").mode is OD
    lock = world.cooldown.read("s")
    assert lock is not None and lock.owner is None and lock.mode_switches == ()


def test_a_busy_reply_after_our_call_is_counted_as_a_switch_when_the_stream_shows_it(world: World) -> None:
    """ResourceInUse from UpdateStreamMode (a retry of our own call whose reply was lost, AWS already switching):
    the stream shows UPDATING, so the switch is counted against the budget, never left uncounted."""
    from autoscaler.core.errors import StreamBusy

    svc, _ = service(world, {"s": ("on-demand", 4)})

    def lost_reply(operation: str, stream: str) -> None:
        if operation == "update_stream_mode":
            world.kinesis.on_call = None
            world.kinesis.update_stream_mode(stream, OD)  # AWS took the first attempt
            raise StreamBusy(f"{stream} is not ACTIVE (ResourceInUseException)")

    world.kinesis.on_call = lost_reply
    (row,) = svc.run(world.budget())
    assert row.outcome is ModeOutcome.SKIPPED and "counted as a switch" in row.detail
    lock = world.cooldown.read("s")
    assert lock is not None and lock.owner is None and len(lock.mode_switches) == 1


def test_the_hourly_run_starts_further_on_each_hour_so_a_large_fleet_is_covered() -> None:
    """250 streams, 100 a run at least: hour h starts at (h × 100) mod 250, so hours 0, 1 and 2 start at 0, 100
    and 200, and every stream is among some run's first 100 within ceil(250 / 100) = 3 hours."""
    from autoscaler.app.capacity_mode import rotation

    names = [f"s{i}" for i in range(250)]
    starts = [rotation(names, h * 3600.0 + 59)[0] for h in range(4)]
    assert starts == ["s0", "s100", "s200", "s50"]
    covered = {n for h in range(3) for n in rotation(names, h * 3600.0)[:100]}
    assert covered == set(names)
    assert sorted(rotation(names, 7 * 3600.0)) == sorted(names) and rotation([], 0.0) == []


def test_a_decision_made_twice_switches_once(world: World) -> None:
    """The hourly run and an operator's `capacity-mode` decide the same stream from the same state; the first switch
    lands, the second finds the stream no longer in the mode it decided from (re-read under the lock) and does
    nothing: one UpdateStreamMode, one switch recorded."""
    svc, _ = service(world, {"s": ("auto", 4)}, {"s": DEAR_PROVISIONED})
    (first_plan,) = svc.dry_run()
    (second_plan,) = svc.dry_run()
    assert first_plan.outcome is second_plan.outcome is ModeOutcome.DRY_RUN
    assert svc._switch_safely(first_plan, world.budget()).outcome is ModeOutcome.SWITCHED
    world.clock.advance(120)  # the switch has settled
    late = svc._switch_safely(second_plan, world.budget())
    assert late.outcome is ModeOutcome.SKIPPED and "changed since the decision (ON_DEMAND, ACTIVE)" in late.detail
    assert [c for c in world.kinesis.calls if c[0] == "update_stream_mode"] == [("update_stream_mode", "s")]
    lock = world.cooldown.read("s")
    assert lock is not None and lock.owner is None and len(lock.mode_switches) == 1
