"""Issue 6's fault catalogue on the in-package doubles: each named fault injected into a scale-up (or scale-down),
then the same invariants `kinesis-autoscaler doctor` checks on live streams — open shards tile the key space, the
count is within [min, max], no lock held past its lease, alarms present and matching the open count."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from autoscaler.capacity import AlarmKind, alarm_name
from autoscaler.doctor import Severity, check_stream
from autoscaler.errors import (
    LockUnavailable,
    MetricsUnavailable,
    QuotaExhausted,
    StreamBusy,
    ThrottledError,
)
from autoscaler.model import StreamMode, TriggerKind
from autoscaler.service import Outcome, ScaleUpRequest, ScaleUpResult
from tests.conftest import World, make_config

pytestmark = pytest.mark.unit
STREAM = "orders"  # make_config(): min 2, max 64; 2 even shards at 80% → 2 splits to 4 (60 s < 90 s of USC)
ALARM = ScaleUpRequest(
    STREAM, TriggerKind.UTILISATION, alarm_shards=2.0, source="kinesis-autoscaler-orders-incoming-bytes"
)


def doctor_findings(world: World, *, allow: frozenset[str] = frozenset()) -> list[str]:
    """doctor's errors and warnings for the stream, minus the checks a case expects (`allow`)."""
    cfg = world.config.stream(STREAM)
    assert cfg is not None
    try:
        desc = world.kinesis.describe(STREAM)
        shards = world.kinesis.open_shards(STREAM)
    except Exception:  # the stream was deleted: doctor's own "exists" finding covers it
        desc, shards = None, None
    names = [alarm_name(world.config.alarm_name_prefix, STREAM, k) for k in AlarmKind]
    found = check_stream(
        cfg,
        world.config.alarm_name_prefix,
        desc=desc,
        shards=shards,
        alarms=world.alarms.get_alarms(names),
        lock=world.cooldown.read(STREAM),
        now=world.clock.now(),
    )
    return [f"{f.check}: {f.message}" for f in found if f.severity is not Severity.INFO and f.check not in allow]


def run_continuations(world: World, result: ScaleUpResult) -> ScaleUpResult:
    """Deliver the hand-overs as Lambda would (asynchronously, one after another), up to the hop limit."""
    while result.outcome is Outcome.CONTINUED:
        (cont,) = world.continuation.pop_all()
        request = ScaleUpRequest(STREAM, TriggerKind.OPERATOR, continuation=cont, source="continuation")
        result = world.service().scale_up(request, world.budget())
    return result


def inject(op: str, *errors: Exception) -> Callable[[World], None]:
    return lambda w: w.kinesis.inject(op, *errors)


def after_first_split(change: Callable[[World, str], None]) -> Callable[[World], None]:
    """A change to the stream made by someone else between the plan's first and second split."""

    def setup(world: World) -> None:
        seen = {"n": 0}

        def hook(operation: str, stream: str) -> None:
            if operation == "split_shard":
                seen["n"] += 1
                if seen["n"] == 2:
                    change(world, stream)

        world.kinesis.on_call = hook

    return setup


delete_after_first_split = after_first_split(lambda w, s: w.kinesis.delete_stream(s))
on_demand_after_first_split = after_first_split(lambda w, s: w.kinesis.set_mode(s, StreamMode.ON_DEMAND))


def metrics_fail(error: Exception) -> Callable[[World], None]:
    return lambda w: w.metrics.fail_next.append(error)


def delete_throttle_alarm(world: World) -> None:
    del world.alarms.alarms[alarm_name("kinesis-autoscaler", STREAM, AlarmKind.WRITE_THROTTLED)]


def slow_updating(world: World) -> None:
    world.kinesis.split_seconds = 700  # the second split's UPDATING outlasts a 900 s invocation


# (name, setup, expected outcome after continuations, shards after, doctor checks expected to fire)
CASES: list[tuple[str, Callable[[World], None], Outcome, int | None, frozenset[str]]] = [
    (
        "ResourceInUseException on a split",
        inject("split_shard", StreamBusy("ResourceInUse")),
        Outcome.SCALED,
        4,
        frozenset(),
    ),
    (
        "LimitExceeded, TPS (retried, then handed over)",
        inject("split_shard", ThrottledError("TPS")),
        Outcome.SCALED,
        4,
        frozenset(),
    ),
    (
        "LimitExceeded, account shard quota (final)",
        inject("split_shard", QuotaExhausted("quota")),
        Outcome.FAILED,
        2,
        frozenset(),
    ),
    ("stream deleted mid-sequence", delete_after_first_split, Outcome.FAILED, None, frozenset({"exists"})),
    # SplitShard refused on an on-demand stream: retried as ResourceInUse up to the setback limit, then stopped with
    # what was done (one split: 3 shards), alarms retuned, lock released
    ("stream switched to on-demand mid-sequence", on_demand_after_first_split, Outcome.FAILED, 3, frozenset({"mode"})),
    ("UPDATING longer than the invocation's remaining time", slow_updating, Outcome.SCALED, 4, frozenset()),
    (
        "CloudWatch throttling on the metrics read",
        metrics_fail(MetricsUnavailable("Throttling")),
        Outcome.SCALED,
        4,
        frozenset(),
    ),
    (
        "CloudWatch PartialData",
        metrics_fail(MetricsUnavailable("PartialData left unfinished")),
        Outcome.SCALED,
        4,
        frozenset(),
    ),
    ("an alarm deleted by hand", delete_throttle_alarm, Outcome.SCALED, 4, frozenset({"alarms"})),
]


@pytest.mark.parametrize(("name", "setup", "outcome", "after", "allowed"), CASES, ids=[c[0] for c in CASES])
def test_fault_leaves_the_invariants_intact(
    world: World,
    name: str,
    setup: Callable[[World], None],
    outcome: Outcome,
    after: int | None,
    allowed: frozenset[str],
) -> None:
    world.add_stream(shards=2)
    world.traffic(0.8, 2)  # 1.6 shards of load × headroom 2 → 4: 2 splits
    setup(world)
    result = run_continuations(world, world.service().scale_up(ALARM, world.budget()))
    assert result.outcome is outcome, f"{name}: {result.detail}"
    if after is not None:
        assert len(world.kinesis.open_shards(STREAM)) == after, name
    # metrics failing → the fallback step ⌈2 × 1.5⌉ = 3 shards of capacity: both halves split → 4
    assert doctor_findings(world, allow=allowed) == [], name


def test_missing_datapoints_take_the_fallback_step(world: World) -> None:
    # no traffic written: alarmed with no datapoints → ⌈2 × 1.5⌉ = 3 of capacity → both halves split → 4
    world.add_stream(shards=2)
    result = world.service().scale_up(ALARM, world.budget())
    assert (result.outcome, result.after) == (Outcome.SCALED, 4)
    assert doctor_findings(world) == []


def test_dynamodb_unavailable_fails_closed(world: World) -> None:
    world.add_stream(shards=2)
    world.traffic(0.8, 2)
    world.cooldown.unavailable = LockUnavailable("DynamoDB: ServiceUnavailable")
    with pytest.raises(LockUnavailable):  # the handler turns this into RetryLater (Lambda retries the event)
        world.service().scale_up(ALARM, world.budget())
    assert world.kinesis.reshard_calls() == []  # no reshard without the lock
    world.cooldown.unavailable = None
    assert doctor_findings(world) == []


def test_a_run_killed_between_two_splits_is_finished_by_the_next_alarm(world: World) -> None:
    """The function times out after its first split (no hand-over, no release): the lock's lease (remaining time
    + 60 s) expires on its own and the next alarm's run re-plans from the open shards and reaches the target."""
    world.add_stream(shards=2)
    world.traffic(0.8, 2)
    now = world.clock.now()
    world.cooldown.acquire(STREAM, owner="killed", now=now, lease_until=now + 960, blocked_by=())
    first = world.kinesis.open_shards(STREAM)[0]
    world.kinesis.split_shard(STREAM, first.shard_id, first.start + first.width // 2)  # its first split, then death
    assert doctor_findings(world) != []  # mid-plan: alarms for 2 shards with 3 open
    blocked = world.service().scale_up(ALARM, world.budget())
    assert blocked.outcome is Outcome.SKIPPED  # the dead run's lease still holds
    world.clock.advance(961)
    assert "lock" in " ".join(doctor_findings(world))  # doctor: a lock past its lease
    # the same 1.6 shards of load, now read on 3 open shards ([¼, ¼, ½]): × 2 → 4 of capacity → split the half
    world.traffic(1.6 / 3, 3)
    done = world.service().scale_up(ALARM, world.budget())
    assert done.outcome is Outcome.SCALED and done.after == 4, done.detail
    assert doctor_findings(world) == []


def test_scale_down_fault_stream_deleted_between_evaluation_and_merge(world: World) -> None:
    from autoscaler.scale_down_service import StreamOutcome
    from autoscaler.sim.clock import SimBudget

    world.config = make_config(min_shards=1, desired_shards=4)
    world.add_stream(shards=4)  # no traffic in 24 h: 4 → 2 by 2 merges (60 s ≤ one UpdateShardCount, 90 s)
    world.kinesis.on_call = lambda op, s: world.kinesis.delete_stream(s) if op == "merge_shards" else None
    result = world.scale_down_service().run(SimBudget(world.clock))
    (row,) = result.results
    assert row.outcome is StreamOutcome.FAILED and "vanished" in row.detail, row
    lock = world.cooldown.read(STREAM)
    assert lock is None or lock.owner is None  # released: nothing left held for a stream that is gone
