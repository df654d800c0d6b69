"""Plans and dry runs predict the run (issue 14): the lock, the cooldowns and the 24 h UpdateShardCount quota read
read-only, the same reason codes; and an operator's explicit target (`scale --to N`) under the same lock and bounds.
Each prediction is checked against the run that follows it on the same doubles."""

from __future__ import annotations

import pytest

from autoscaler.adapters.fakes.estimator import FakeEstimator
from autoscaler.app.capacity_mode import ModeOutcome
from autoscaler.app.ports import Direction
from autoscaler.app.scale_down import StreamOutcome, usc_to_spare
from autoscaler.app.scale_up import Outcome, ScaleUpRequest
from autoscaler.config import parse_config
from autoscaler.core.capacity_mode import DAY_SECONDS, ModeEstimate, ModeEvidence
from autoscaler.core.errors import ConfigError, LockUnavailable
from autoscaler.core.model import OpKind, TriggerKind
from tests.conftest import MiB, World, make_config

pytestmark = pytest.mark.unit

OPERATOR = ScaleUpRequest("orders", TriggerKind.OPERATOR, source="cli")


def cool_down(world: World, stream: str, direction: Direction, seconds: float) -> None:
    """A finished run's cooldown, as the lock item holds it after release."""
    now = world.clock.now()
    world.cooldown.acquire(stream, owner="earlier", now=now, lease_until=now + 60, blocked_by=())
    world.cooldown.release(stream, owner="earlier", now=now, cooldowns={direction: now + seconds}, action="earlier")


def hold(world: World, stream: str, seconds: float = 900) -> None:
    now = world.clock.now()
    world.cooldown.acquire(stream, owner="live-run", now=now, lease_until=now + seconds, blocked_by=())


def quiet_day(world: World, stream: str, util: float, shards: int) -> None:
    now = int(world.clock.now()) // 60 * 60
    for i in range(1, 25 * 60 + 1):
        world.metrics.put(stream, "IncomingBytes", now - 60 * i, util * shards * MiB * 60)
        world.metrics.put(stream, "IncomingRecords", now - 60 * i, 10.0)


# -- scale-up ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "skip_reason", "said"),
    [
        (lambda w: cool_down(w, "orders", Direction.UP, 267), "cooldown", "up cooldown for 267 s more"),
        (lambda w: hold(w, "orders"), "lock-held", "locked by another run for 900 s more"),
    ],
)
def test_scale_up_dry_run_predicts_the_refusal_the_run_meets(world: World, setup, skip_reason, said) -> None:  # type: ignore[no-untyped-def]
    world.add_stream(shards=4)
    world.traffic(1.2, 4)
    setup(world)
    svc = world.service()
    predicted = svc.dry_run(OPERATOR)
    calls = list(world.kinesis.calls)
    run = svc.scale_up(OPERATOR, world.budget())
    assert (predicted.outcome, predicted.skip_reason, predicted.dry_run) == (Outcome.SKIPPED, skip_reason, True)
    assert (run.outcome, run.skip_reason) == (Outcome.SKIPPED, skip_reason)
    assert predicted.detail == f"would be skipped: orders: {said}" and run.detail.startswith(f"orders: {said}")
    # the prediction still shows what the run would do once free: 1.2 × 4 = 4.8 shards of load × 2 → 10
    assert predicted.plan is not None and predicted.plan.target == 10
    assert world.kinesis.calls[len(calls) :] == [], "a refused run makes no Kinesis call"


def test_scale_up_dry_run_of_a_free_stream_plans_and_the_run_does_it(world: World) -> None:
    world.add_stream(shards=4)
    world.traffic(1.2, 4)
    svc = world.service()
    predicted = svc.dry_run(OPERATOR)
    run = svc.scale_up(OPERATOR, world.budget())
    # 1.2 × 4 = 4.8 shards of load × headroom 2 = 9.6 → 10, planned and done
    assert (predicted.outcome, predicted.plan.target if predicted.plan else None) == (Outcome.DRY_RUN, 10)
    assert (run.outcome, run.after) == (Outcome.SCALED, 10)


def test_scale_up_dry_run_with_the_table_unreadable_says_the_run_would_not_reshard(world: World) -> None:
    world.add_stream(shards=4)
    world.cooldown.unavailable = LockUnavailable("table down")
    predicted = world.service().dry_run(OPERATOR)
    assert (predicted.outcome, predicted.skip_reason) == (Outcome.SKIPPED, "lock-unavailable")


def test_with_the_table_unreadable_the_scale_down_and_its_prediction_both_fail(world: World) -> None:
    world.config = make_config(min_shards=1)
    world.add_stream(shards=4)
    quiet_day(world, "orders", 0.2, 4)
    world.cooldown.unavailable = LockUnavailable("table down")
    svc = world.scale_down_service()
    (predicted,) = svc.dry_run()
    (ran,) = svc.run(world.budget()).results
    assert (predicted.outcome, ran.outcome) == (StreamOutcome.FAILED, StreamOutcome.FAILED)
    assert predicted.detail.startswith("would fail: ") and predicted.log_fields()["dry_run"] is True
    assert len(world.kinesis.open_shards("orders")) == 4


def test_a_disabled_stream_is_predicted_skipped(world: World) -> None:
    world.config = make_config(enabled=False)
    world.add_stream(shards=4)
    predicted = world.service().dry_run(OPERATOR)
    assert (predicted.outcome, predicted.skip_reason) == (Outcome.SKIPPED, "disabled")


# -- an operator's explicit target ------------------------------------------------------------------------------------


def test_an_operator_target_up_is_not_blocked_by_a_cooldown_but_by_a_held_lock(world: World) -> None:
    world.add_stream(shards=4)
    cool_down(world, "orders", Direction.UP, 600)
    svc = world.service()
    to_six = OPERATOR._replace(target=6, operator_reason="incident 42: producer backlog")
    predicted = svc.dry_run(to_six)
    assert (predicted.outcome, predicted.plan.target if predicted.plan else None) == (Outcome.DRY_RUN, 6)
    assert predicted.plan is not None and predicted.plan.reason.value == "operator"
    assert "incident 42" in predicted.plan.decision
    done = svc.scale_up(to_six, world.budget())
    assert (done.outcome, done.after) == (Outcome.SCALED, 6)
    assert len(world.kinesis.open_shards("orders")) == 6
    lock = world.cooldown.read("orders")
    assert lock is not None and lock.cooldown_until[Direction.UP] > world.clock.now()  # set again after
    hold(world, "orders")
    again = svc.scale_up(to_six._replace(target=8), world.budget())
    assert (again.outcome, again.skip_reason) == (Outcome.SKIPPED, "lock-held")
    assert len(world.kinesis.open_shards("orders")) == 6


def test_an_operator_target_down_merges_to_it_within_bounds_ignoring_the_cooldown(world: World) -> None:
    world.config = make_config(min_shards=2)
    world.add_stream(shards=6)
    cool_down(world, "orders", Direction.DOWN, 3600)
    svc = world.scale_down_service()
    predicted = svc.plan_to("orders", 4, "cost review")
    assert (predicted.outcome, predicted.decision.target if predicted.decision else None) == (
        StreamOutcome.DRY_RUN,
        4,
    )
    assert predicted.decision is not None and len(predicted.decision.merges) == 2
    assert len(world.kinesis.open_shards("orders")) == 6, "a prediction changes nothing"
    done = svc.scale_to("orders", 4, "cost review", world.budget())
    assert (done.outcome, done.after) == (StreamOutcome.MERGED, 4)
    with pytest.raises(ConfigError):
        svc.scale_to("orders", 1, "below min_shards", world.budget())  # the CLI refuses it first (exit 2)
    assert len(world.kinesis.open_shards("orders")) == 4


# -- scale-down -------------------------------------------------------------------------------------------------------


def test_plan_scale_down_predicts_the_cooldown_the_run_meets(world: World) -> None:
    world.config = make_config(min_shards=1)
    world.add_stream(shards=4)
    quiet_day(world, "orders", 0.2, 4)
    cool_down(world, "orders", Direction.UP, 267)  # a scale-up a moment ago (issue 14: "orders 11 -> 7", then skipped)
    svc = world.scale_down_service()
    (predicted,) = svc.dry_run()
    (ran,) = svc.run(world.budget()).results
    assert (predicted.outcome, predicted.decision.reason.value if predicted.decision else None) == (
        StreamOutcome.SKIPPED,
        "cooldown",
    )
    assert (ran.outcome, ran.decision.reason.value if ran.decision else None) == (StreamOutcome.SKIPPED, "cooldown")
    assert predicted.detail == "would be skipped: " + ran.detail
    assert predicted.log_fields()["dry_run"] is True and ran.log_fields()["dry_run"] is False


@pytest.mark.parametrize(("used", "spare"), [(0, True), (5, True), (6, False), (10, False), (None, False)])
def test_update_shard_count_calls_to_spare_keep_four_for_scale_up(used: int | None, spare: bool) -> None:
    # AWS allows 10 calls in 24 h; 4 stay free for scale-up: a scale-down may make the 6th (used 5), not the 7th
    assert usc_to_spare(used) is spare


def test_plan_scale_down_predicts_an_update_shard_count_the_quota_cannot_pay(world: World) -> None:
    """10 even shards whose peak fits 7: merges would leave 2/10-wide shards (capacity 5), so only UpdateShardCount
    reaches 7. With 8 calls used in 24 h (4 kept for scale-up), the run keeps the count: so does the plan."""
    world.config = parse_config("streams:\n  - {name: orders, min_shards: 1, max_shards: 64, desired_shards: 10}\n")
    world.add_stream(shards=10)
    quiet_day(world, "orders", 0.33, 10)
    svc = world.scale_down_service()
    (free,) = svc.dry_run()
    assert free.decision is not None and free.decision.method is OpKind.UPDATE_SHARD_COUNT, free
    now = world.clock.now()
    world.cooldown.acquire("orders", owner="r", now=now, lease_until=now + 60, blocked_by=())
    for k in range(8):
        world.cooldown.note_update_shard_count("orders", owner="r", at=now - 3600 + k)
    world.cooldown.release("orders", owner="r", now=now, cooldowns={}, action=None)
    (predicted,) = svc.dry_run()
    (ran,) = svc.run(world.budget()).results
    assert (predicted.outcome, predicted.decision.reason.value if predicted.decision else None) == (
        StreamOutcome.KEPT,
        "update_shard_count_quota",
    )
    assert "8 of 10 used" in predicted.detail
    assert (ran.outcome, ran.decision.reason.value if ran.decision else None) == (
        StreamOutcome.KEPT,
        "update_shard_count_quota",
    )
    assert len(world.kinesis.open_shards("orders")) == 10


# -- capacity modes ---------------------------------------------------------------------------------------------------


def test_plan_capacity_mode_predicts_a_held_lock(world: World) -> None:
    world.config = parse_config(
        "streams:\n  - {name: spiky, min_shards: 1, max_shards: 64, desired_shards: 4, capacity_mode: auto}\n"
    )
    world.add_stream("spiky", 4)
    month = 30 * DAY_SECONDS
    dear = ModeEvidence(ModeEstimate(200.0, 0.001), ModeEstimate(100.0, 0.001), month)
    svc = world.capacity_mode_service(FakeEstimator({"spiky": dear}))
    hold(world, "spiky")
    (predicted,) = svc.dry_run()
    (ran,) = svc.run(world.budget())
    assert (predicted.outcome, ran.outcome) == (ModeOutcome.SKIPPED, ModeOutcome.SKIPPED)
    assert predicted.detail.startswith("would be skipped: spiky: locked by another run")
    assert predicted.log_fields()["dry_run"] is True
