"""The one lifecycle (autoscaler/app/lifecycle.py) as a table: (anything done?, taken over?, how it ends) → (alarms
retuned?, alarms reset to OK?, cooldown set?, lock released?), for both directions — and the drifts issue 11 found
between the two use cases' copies, each pinned to the way it was resolved.

Arithmetic of the alarm check: the stream starts at 4 shards with its alarms tuned for 4; one split makes 5. The
bytes alarm's threshold is scale_up_threshold × shards × 1 MiB × period = 0.8 × N × 1,048,576 × 60: 201,326,592
for 4, 251,658,240 for 5. "Retuned" means the threshold reads 5's after the exit.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

import pytest

from autoscaler.app.lifecycle import RunPorts, StreamRun
from autoscaler.app.scale_down import StreamOutcome
from autoscaler.app.scale_up import Outcome, ScaleUpRequest
from autoscaler.config import parse_config
from autoscaler.core.capacity import AlarmKind, alarm_name
from autoscaler.core.defaults import CONTINUATION_SAFETY_SECONDS, LOCK_LEASE_MARGIN_SECONDS
from autoscaler.core.errors import LockUnavailable
from autoscaler.core.model import Direction, StreamMode, TriggerKind
from autoscaler.events import Continuation, HandOver
from tests.conftest import World, make_config, new_world

pytestmark = pytest.mark.unit

BYTES_ALARM = alarm_name("kinesis-autoscaler", "orders", AlarmKind.INCOMING_BYTES)
THRESHOLD = {4: 0.8 * 4 * 1_048_576 * 60, 5: 0.8 * 5 * 1_048_576 * 60}
PREVIOUS = "previous-hop-owner"


def ports(world: World) -> RunPorts:
    return RunPorts(world.kinesis, world.alarms, world.cooldown, world.clock, world.config.alarm_name_prefix)


def new_run(world: World, direction: Direction, *, taken_over: bool, owner: str = "this-run") -> StreamRun:
    cfg = world.config.stream("orders")
    assert cfg is not None
    handover = HandOver("orders", 8, PREVIOUS, origin_count=4) if taken_over else None
    if handover is not None:  # the previous hop holds the lock, as a hand-over leaves it
        now = world.clock.now()
        world.cooldown.acquire("orders", owner=PREVIOUS, now=now, lease_until=now + 960, blocked_by=())
    return StreamRun.start(
        ports(world), cfg, direction, budget=world.budget(), new_owner=lambda: owner, handover=handover
    )


def split_once(world: World, run: StreamRun) -> None:
    shard = world.kinesis.open_shards("orders")[0]
    world.kinesis.split_shard("orders", shard.shard_id, (shard.start + shard.end + 1) // 2)
    run.applied(f"split {shard.shard_id}")
    run.wait_until_active()


class Row(NamedTuple):
    done: bool
    taken_over: bool
    ends: str  # "finish", "alarms fail", "release fails", "hand-over"
    retuned: bool  # the bytes alarm's threshold is 5 shards' after the exit
    reset_ok: bool  # every alarm set to OK (force_ok)
    cooldown: bool  # the direction's cooldown set
    released: bool  # no owner left on the lock item


TABLE = [
    #    done   taken  ends              retuned reset  cooldown released
    Row(False, False, "finish", False, False, False, True),  # nothing to retune: still 4 shards; no cooldown
    Row(True, False, "finish", True, True, True, True),
    Row(False, True, "finish", False, True, True, True),  # the chain's earlier hops acted: OK + cooldown
    Row(True, True, "finish", True, True, True, True),
    Row(True, False, "alarms fail", False, False, True, True),  # best effort: the lock never waits on alarms
    Row(True, False, "release fails", True, True, False, False),  # raises; the lease lapses on its own
    Row(True, False, "hand-over", False, False, False, False),  # the lock stays held for the next hop
]


@pytest.mark.parametrize("direction", [Direction.UP, Direction.DOWN])
@pytest.mark.parametrize("row", TABLE, ids=lambda r: f"done={r.done}-taken_over={r.taken_over}-{r.ends}")
def test_every_exit_keeps_the_lifecycle_rules(world: World, row: Row, direction: Direction) -> None:
    world.add_stream(shards=4)
    for name in world.alarms.alarms:
        world.alarms.set_state(name, "INSUFFICIENT_DATA", "new")
    run = new_run(world, direction, taken_over=row.taken_over)
    run.acquire((Direction.UP,))
    if row.done:
        split_once(world, run)
    if row.ends == "alarms fail":
        world.kinesis.inject("list_open_shards", OSError("connection reset"))
        run.finish()
    elif row.ends == "release fails":
        world.cooldown.unavailable = LockUnavailable("table down")
        with pytest.raises(LockUnavailable):
            run.finish()
        world.cooldown.unavailable = None
    elif row.ends == "hand-over":
        handover = run.handover(target=8)
        assert (handover.owner, handover.target) == (run.owner, 8)
    else:
        run.finish()
    lock = world.cooldown.read("orders")
    assert lock is not None
    alarm = world.alarms.alarms[BYTES_ALARM]
    assert alarm.spec.threshold == pytest.approx(THRESHOLD[5 if row.retuned else 4])
    assert (alarm.state == "OK") is row.reset_ok
    assert (direction in lock.cooldown_until) is row.cooldown
    assert (lock.owner is None) is row.released
    if not row.released:
        assert lock.owner == run.owner and lock.lease_until > world.clock.now()


def test_every_acquire_leases_the_remaining_time_plus_the_margin(world: World) -> None:
    """Drift: the scale-down's abandon leased 60 s (a literal), the scale-up's LOCK_LEASE_MARGIN_SECONDS — both
    shorter than the clean-up they covered, which waits for ACTIVE. Now every acquire, abandon included, leases
    now + remaining + margin."""
    world.add_stream(shards=4)
    for taken_over in (False, True):
        run = new_run(world, Direction.DOWN, taken_over=taken_over)
        run.acquire((Direction.DOWN,))
        lock = world.cooldown.read("orders")
        assert lock is not None and lock.owner == "this-run"
        assert lock.lease_until == world.clock.now() + 900 + LOCK_LEASE_MARGIN_SECONDS
        run.finish()


def test_the_time_guard_is_one_number(world: World) -> None:
    """Drift: CONTINUATION_SAFETY_SECONDS in one place, + 5 in another, nothing before the scale-up's acquire."""
    world.add_stream(shards=4)
    run = new_run(world, Direction.UP, taken_over=False)
    run.budget = world.budget(CONTINUATION_SAFETY_SECONDS)
    assert not run.time_short() and run.wait_seconds() == 0
    run.budget = world.budget(CONTINUATION_SAFETY_SECONDS - 0.001)
    assert run.time_short()


def test_finish_waits_for_active_before_counting(world: World) -> None:
    """Drift: after an abandon the scale-down retuned the alarms at once, while the earlier hop's reshard was still
    UPDATING (on AWS an UpdateShardCount shows its old layout until it completes). The finish of every exit now
    waits, within the time left, for ACTIVE: the alarms are retuned only once the stream has settled."""
    world.add_stream(shards=4)
    world.kinesis.split_seconds = 120.0
    run = new_run(world, Direction.DOWN, taken_over=True)
    shard = world.kinesis.open_shards("orders")[0]
    world.kinesis.split_shard("orders", shard.shard_id, (shard.start + shard.end + 1) // 2)  # the earlier hop's
    status_at_retune: list[str] = []
    put = world.alarms.put_thresholds

    def spy(thresholds: dict[str, float]) -> None:
        status_at_retune.append(world.kinesis.describe("orders").status)
        put(thresholds)

    world.alarms.put_thresholds = spy  # type: ignore[method-assign]
    finished = run.abandon()
    assert finished is not None and finished.after == 5
    assert status_at_retune == ["ACTIVE"]
    assert world.alarms.alarms[BYTES_ALARM].spec.threshold == pytest.approx(THRESHOLD[5])


def world_with(enabled: bool) -> World:
    return new_world(make_config(enabled=enabled))


def abandon_through(direction: Direction, world: World) -> tuple[str, int | None]:
    """A hand-over for a stream disabled since, delivered to the use case of `direction`: (outcome, after)."""
    handover = HandOver("orders", 8, PREVIOUS, origin_count=4)
    if direction is Direction.UP:
        cont = Continuation(Direction.UP, 1, (handover,))
        up = world.service().scale_up(ScaleUpRequest("orders", TriggerKind.OPERATOR, continuation=cont), world.budget())
        return up.outcome.value, up.after
    fleet = world.scale_down_service().run(world.budget(), continuation=Continuation(Direction.DOWN, 1, (handover,)))
    (down,) = fleet.results
    return down.outcome.value, down.after


@pytest.mark.parametrize("direction", [Direction.UP, Direction.DOWN])
def test_abandon_is_the_same_in_both_use_cases(direction: Direction) -> None:
    """Drifts: abandon's owner (random vs owner + "-end"), its cooldown (set vs not), its wait for ACTIVE. Both use
    cases now end a disabled stream's chain alike: a fresh owner takes it over, waits for the reshard to settle,
    retunes to the settled count, sets the direction's cooldown (the chain acted) and releases."""
    world = world_with(enabled=False)
    world.add_stream(shards=4)
    world.kinesis.split_seconds = 120.0
    now = world.clock.now()
    world.cooldown.acquire("orders", owner=PREVIOUS, now=now, lease_until=now + 960, blocked_by=())
    shard = world.kinesis.open_shards("orders")[0]
    world.kinesis.split_shard("orders", shard.shard_id, (shard.start + shard.end + 1) // 2)
    owners: list[str] = []
    original = world.cooldown.acquire

    def spy(stream: str, **kw: object) -> object:
        owners.append(str(kw["owner"]))
        return original(stream, **kw)  # type: ignore[arg-type]

    world.cooldown.acquire = spy  # type: ignore[method-assign]
    outcome, after = abandon_through(direction, world)
    assert outcome == "skipped" and after == 5
    assert len(owners) == 1 and owners[0] not in (PREVIOUS, PREVIOUS + "-end") and len(owners[0]) == 32
    lock = world.cooldown.read("orders")
    assert lock is not None and lock.owner is None and direction in lock.cooldown_until
    assert world.alarms.alarms[BYTES_ALARM].spec.threshold == pytest.approx(THRESHOLD[5])


@pytest.mark.parametrize("direction", [Direction.UP, Direction.DOWN])
def test_the_lock_table_down_during_an_abandon_is_an_error_not_a_lock_that_moved_on(direction: Direction) -> None:
    """Drift: the scale-down's abandon caught (AutoscalerError, OSError) and reported a DynamoDB outage as "its lock
    had already moved on". Now the scale-up raises (Lambda retries the event) and the scale-down reports the
    stream FAILED with the table's error; only a real refusal reads as "moved on"."""
    world = world_with(enabled=False)
    world.add_stream(shards=4)
    world.cooldown.unavailable = LockUnavailable("cooldown table t: InternalServerError")
    if direction is Direction.UP:
        with pytest.raises(LockUnavailable):
            abandon_through(direction, world)
    else:
        outcome, _ = abandon_through(direction, world)
        assert outcome == StreamOutcome.FAILED.value
    world.cooldown.unavailable = None
    outcome, _ = abandon_through(direction, world)  # no live chain: a real refusal
    assert outcome == Outcome.SKIPPED.value


# -- exits found by a review of the lifecycle ---------------------------------------------------------------------


def test_a_continuation_that_finds_the_stream_on_demand_lets_it_go_without_a_cooldown(world: World) -> None:
    """A stream that is not ours to scale any more (ON_DEMAND, or gone) is released with no cooldown and its alarms
    untouched: switched back to PROVISIONED, it may scale at once."""
    world.add_stream(shards=4)
    now = world.clock.now()
    world.cooldown.acquire("orders", owner=PREVIOUS, now=now, lease_until=now + 960, blocked_by=())
    world.kinesis.set_mode("orders", StreamMode.ON_DEMAND)
    puts = world.alarms.puts
    cont = Continuation(Direction.UP, 1, (HandOver("orders", 8, PREVIOUS, origin_count=4),))
    result = world.service().scale_up(ScaleUpRequest("orders", TriggerKind.OPERATOR, continuation=cont), world.budget())
    assert (result.outcome, result.skip_reason) == (Outcome.SKIPPED, "on-demand")
    lock = world.cooldown.read("orders")
    assert lock is not None and lock.owner is None and Direction.UP not in lock.cooldown_until
    assert world.alarms.puts == puts


def test_a_release_that_fails_is_not_retried_by_a_second_finish(world: World) -> None:
    """The release inside finish fails (the table went down): the run raises, and its error handler must not finish
    again (a second wait, a second reset of the alarms, a second release)."""
    world.add_stream(shards=4)
    world.traffic(1.0, 4)
    releases: list[str] = []
    release = world.cooldown.release

    def failing_release(stream: str, **kw: Any) -> None:
        releases.append(stream)
        raise LockUnavailable("cooldown table cd: InternalServerError")

    world.cooldown.release = failing_release  # type: ignore[method-assign]
    with pytest.raises(LockUnavailable):
        world.service().scale_up(
            ScaleUpRequest("orders", TriggerKind.UTILISATION, source="kinesis-autoscaler/orders/incoming-bytes"),
            world.budget(),
        )
    world.cooldown.release = release  # type: ignore[method-assign]
    assert releases == ["orders"]
    assert world.kinesis.open_count("orders") == 8  # the reshard itself was done; the lease will lapse


def test_any_error_while_retuning_never_keeps_the_lock(world: World) -> None:
    """finish is best effort up to the release: an error of any type there (a botocore connection error is neither
    an AutoscalerError nor an OSError) is logged and the lock is released all the same."""
    world.add_stream(shards=4)
    run = new_run(world, Direction.UP, taken_over=False)
    run.acquire((Direction.UP,))
    split_once(world, run)
    world.kinesis.inject("list_open_shards", RuntimeError("EndpointConnectionError stand-in"))
    assert run.finish().after is None
    lock = world.cooldown.read("orders")
    assert lock is not None and lock.owner is None and Direction.UP in lock.cooldown_until


def test_ending_a_disabled_chain_does_not_hold_up_the_rest_of_the_fleet() -> None:
    """A scale-down continuation carries a chain whose stream was disabled since (its clean-up waits for a reshard
    still UPDATING) and another stream's merges. The clean-up runs in the pool with the merges: the merge of the
    other stream happens while the clean-up waits (before, the clean-up ran first, alone, for up to 840 s)."""
    config = parse_config(
        "streams:\n"
        "  - {name: gone, min_shards: 1, max_shards: 8, desired_shards: 4, enabled: false}\n"
        "  - {name: busy, min_shards: 1, max_shards: 8, desired_shards: 4}\n",
        source="t.yaml",
    )
    world = new_world(config)
    for name in ("gone", "busy"):
        world.add_stream(name, shards=4)
        now = world.clock.now()
        world.cooldown.acquire(name, owner=PREVIOUS + name, now=now, lease_until=now + 960, blocked_by=())
    merged = threading.Event()
    seen_merge_while_waiting: list[bool] = []
    wait = world.kinesis.wait_until_active
    merge = world.kinesis.merge_shards

    def wait_until_active(stream: str, timeout_seconds: float) -> None:
        if stream == "gone" and not seen_merge_while_waiting:
            seen_merge_while_waiting.append(merged.wait(timeout=30))  # real seconds: the other worker merges meanwhile
        wait(stream, timeout_seconds)

    def merge_shards(stream: str, lower: str, upper: str) -> None:
        merge(stream, lower, upper)
        merged.set()

    world.kinesis.wait_until_active = wait_until_active  # type: ignore[method-assign]
    world.kinesis.merge_shards = merge_shards  # type: ignore[method-assign]
    handovers = (HandOver("gone", 2, PREVIOUS + "gone", 4, "merge"), HandOver("busy", 2, PREVIOUS + "busy", 4, "merge"))
    fleet = world.scale_down_service().run(world.budget(), continuation=Continuation(Direction.DOWN, 1, handovers))
    outcomes = {r.stream: r.outcome for r in fleet.results}
    assert outcomes == {"gone": StreamOutcome.SKIPPED, "busy": StreamOutcome.MERGED}
    assert seen_merge_while_waiting == [True]


class StoppedBudget:
    """A budget whose clock stopped (the CLI's on time.monotonic while the laptop slept): always 800 s left."""

    def remaining(self) -> float:
        return 800.0


@pytest.mark.parametrize("direction", [Direction.UP, Direction.DOWN])
def test_a_run_that_outlived_its_lease_never_reshards_under_another_runs_lock(direction: Direction) -> None:
    """Issue 12 section 6: a run sleeps an hour after its first operation (the CLI's laptop asleep; a frozen
    process); its lease lapses and another run takes the lock. When it wakes, its next operation re-asserts the
    lease first, is refused, and it stops: no reshard under the other run's lock, which stays the other run's."""
    config = parse_config(
        "streams:\n  - {name: orders, min_shards: 1, max_shards: 64, desired_shards: 8}\n", source="t.yaml"
    )
    world = new_world(config)
    world.add_stream(shards=2 if direction is Direction.UP else 8)
    if direction is Direction.UP:
        world.traffic(1.6, 2)  # 3.2 shards of load × headroom 2 → 7: five splits (2 × 30 s < 90 s: splits)
    ops = world.kinesis.reshard_calls
    wait = world.kinesis.wait_until_active

    def asleep_after_the_first_operation(stream: str, timeout_seconds: float) -> None:
        wait(stream, timeout_seconds)
        if len(ops(stream)) == 1 and world.cooldown.read(stream).owner != "lambda-run":  # type: ignore[union-attr]
            world.clock.advance(3_600)  # asleep: the lease (remaining + 60 s = 860 s) lapses meanwhile
            now = world.clock.now()
            world.cooldown.acquire(stream, owner="lambda-run", now=now, lease_until=now + 960, blocked_by=())

    world.kinesis.wait_until_active = asleep_after_the_first_operation  # type: ignore[method-assign]
    if direction is Direction.UP:
        request = ScaleUpRequest("orders", TriggerKind.UTILISATION, source="kinesis-autoscaler/orders/incoming-bytes")
        result = world.service().scale_up(request, StoppedBudget())
        outcome, detail = result.outcome.value, result.detail
    else:
        cont = Continuation(Direction.DOWN, 1, (HandOver("orders", 2, PREVIOUS, 8, "merge"),))
        now = world.clock.now()
        world.cooldown.acquire("orders", owner=PREVIOUS, now=now, lease_until=now + 960, blocked_by=())
        fleet = world.scale_down_service().run(StoppedBudget(), continuation=cont)
        (down,) = fleet.results
        outcome, detail = down.outcome.value, down.detail
    assert outcome == "failed" and "taken over by another run" in detail
    assert len(ops("orders")) == 1, "one operation before the sleep, none after"
    lock = world.cooldown.read("orders")
    assert lock is not None and lock.owner == "lambda-run", "the other run's lock is left to it"


def test_the_cli_budget_runs_on_wall_clock_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A laptop asleep stops time.monotonic, not the lease: the CLI's budget must shrink with wall time."""
    from autoscaler.adapters import runtime

    wall = [1_000_000.0]
    monkeypatch.setattr(runtime.time, "time", lambda: wall[0])
    monkeypatch.setattr(runtime.time, "monotonic", lambda: 5.0)  # stopped while asleep
    budget = runtime.FixedBudget(900)
    wall[0] += 3_600
    assert budget.remaining() == 0.0


def test_a_renewal_the_table_does_not_answer_proceeds_only_while_the_last_lease_holds(world: World) -> None:
    """The table down at a renewal: nobody can take the lock before the lease this run last wrote, so while more
    than the 60 s margin of it is left the operation goes on; past that, no operation (LockUnavailable)."""
    world.add_stream(shards=4)
    run = new_run(world, Direction.UP, taken_over=False)
    run.acquire((Direction.UP,))  # lease until now + 900 + 60
    world.cooldown.unavailable = LockUnavailable("cooldown table cd: InternalServerError")
    run.reassert()  # 960 s of lease left: proceeds
    world.clock.advance(901)  # 59 s left, within the margin
    with pytest.raises(LockUnavailable):
        run.reassert()
    world.cooldown.unavailable = None


@pytest.mark.parametrize("direction", [Direction.UP, Direction.DOWN, Direction.MODE])
def test_after_an_error_a_held_lock_is_finished_once_and_a_failing_release_is_only_logged(
    world: World, direction: Direction, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one error path every use case shares (finish_after_error): held → finished (released); the release
    failing too → logged, never raised over the original error; not held → nothing at all."""
    from autoscaler.app import lifecycle

    logged: list[str] = []  # the module's logger itself: other tests may route the "autoscaler" loggers elsewhere
    monkeypatch.setattr(lifecycle.log, "error", lambda msg, *a, **kw: logged.append(msg))
    world.add_stream(shards=4)
    cfg = world.config.stream("orders")
    assert cfg is not None
    ports = RunPorts(world.kinesis, world.alarms, world.cooldown, world.clock, world.config.alarm_name_prefix)
    run = StreamRun.start(ports, cfg, direction, budget=world.budget(), new_owner=lambda: "A")
    run.finish_after_error()  # not held: no write at all
    assert world.cooldown.read("orders") is None
    run.acquire(())
    run.finish_after_error()
    state = world.cooldown.read("orders")
    assert state is not None and state.owner is None and not run.held
    again = StreamRun.start(ports, cfg, direction, budget=world.budget(), new_owner=lambda: "B")
    again.acquire(())
    world.cooldown.unavailable = LockUnavailable("cooldown table cd: InternalServerError")
    again.finish_after_error()  # logged, not raised
    world.cooldown.unavailable = None
    assert logged == ["lock not released after an error"] and not again.held
