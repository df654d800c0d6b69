"""Issue 6's fault catalogue on the in-package doubles: each named fault injected into a scale-up (or scale-down),
then the same invariants `kinesis-autoscaler doctor` checks on live streams — open shards tile the key space, the
count is within [min, max], no lock held past its lease, alarms present and matching the open count — plus what
doctor cannot see: the lock released (doctor reports a held lock only as INFO), the path each fault takes (a
hand-over, the fallback step, a warning logged), and no call made on a stream once it is gone."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from autoscaler.app.doctor import Severity, check_stream
from autoscaler.app.ports import LockState
from autoscaler.app.scale_up import MAX_SETBACKS, Outcome, ScaleUpRequest, ScaleUpResult
from autoscaler.core.capacity import AlarmKind, alarm_name
from autoscaler.core.defaults import LOCK_LEASE_MARGIN_SECONDS
from autoscaler.core.errors import (
    LockUnavailable,
    MetricsUnavailable,
    QuotaExhausted,
    StreamBusy,
    ThrottledError,
)
from autoscaler.core.model import StreamDescription, StreamMode, TriggerKind
from autoscaler.core.scale_up import ScaleUpReason
from tests.conftest import World, make_config

pytestmark = pytest.mark.unit
STREAM = "orders"  # make_config(): min 2, max 64; 2 even shards at 80% → 2 splits to 4 (60 s < 90 s of USC)
ALARM = ScaleUpRequest(
    STREAM, TriggerKind.UTILISATION, alarm_shards=2.0, source="kinesis-autoscaler/orders/incoming-bytes"
)
BUDGET = 900.0  # world.budget(): one invocation's time
THROTTLE_ALARM = alarm_name("kinesis-autoscaler", STREAM, AlarmKind.WRITE_THROTTLED)


def doctor_findings(world: World) -> list[str]:
    """doctor's errors and warnings for the stream, as "check: message".

    On an ON_DEMAND stream doctor stops at its "mode" finding; the remaining checks (tiling, bounds, lock, alarms)
    are then run on a PROVISIONED view too, so a case that ends on-demand still owes them."""
    cfg = world.config.stream(STREAM)
    assert cfg is not None
    try:
        desc: StreamDescription | None = world.kinesis.describe(STREAM)
        shards = world.kinesis.open_shards(STREAM)
    except Exception:  # the stream was deleted: doctor's own "exists" finding covers it
        desc, shards = None, None
    names = [alarm_name(world.config.alarm_name_prefix, STREAM, k) for k in AlarmKind]
    views = [desc]
    if desc is not None and desc.mode is StreamMode.ON_DEMAND:
        views.append(desc._replace(mode=StreamMode.PROVISIONED))
    found = [
        f
        for view in views
        for f in check_stream(
            cfg,
            world.config.alarm_name_prefix,
            desc=view,
            shards=shards,
            alarms=world.alarms.get_alarms(names),
            lock=world.cooldown.read(STREAM),
            now=world.clock.now(),
        )
        if f.severity is not Severity.INFO
    ]
    return [f"{f.check}: {f.message}" for f in found]


def assert_lock_released(world: World) -> LockState:
    """doctor shows a live lock only as INFO: check the lock item itself. Released = no owner (a lapsed lease is
    not a release; only the killed-run case may end with one, and it asserts that on its own)."""
    lock = world.cooldown.read(STREAM)
    assert lock is not None, "no lock item: the run never took the lock"
    assert lock.owner is None, f"lock still held by {lock.owner} until {lock.lease_until - world.clock.now():.0f} s"
    return lock


class Probe:
    """Every Kinesis call the runs make (FakeKinesis.on_call, chained after the case's own hook), split into those
    made while the stream existed and those made after it was gone; and the alarms' version when it went."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.prior = world.kinesis.on_call
        self.calls: list[str] = []
        self.after_gone: list[str] = []
        self.alarms_when_gone: int | None = None
        world.kinesis.on_call = self

    def __call__(self, operation: str, stream: str) -> None:
        gone = stream not in self.world.kinesis.streams
        (self.after_gone if gone else self.calls).append(operation)
        if self.prior is not None:
            self.prior(operation, stream)
        if not gone and stream not in self.world.kinesis.streams:  # deleted by the case's hook, in this call
            self.alarms_when_gone = self.world.alarms.version


def run_all(world: World, request: ScaleUpRequest) -> list[ScaleUpResult]:
    """The first invocation, then the hand-overs delivered as Lambda would (one after another, up to the hop limit).
    Returns every invocation's result. At each hand-over the lock must still be held, by the run that handed over
    (the continuation takes it over from exactly that owner), with a live lease."""
    path = [world.service().scale_up(request, world.budget())]
    while path[-1].outcome is Outcome.CONTINUED:
        (cont,) = world.continuation.pop_all()
        lock = world.cooldown.read(STREAM)
        assert lock is not None and lock.owner == cont.handovers[0].owner, f"hand-over released the lock: {lock}"
        assert lock.lease_until > world.clock.now(), lock
        follow = ScaleUpRequest(STREAM, TriggerKind.OPERATOR, continuation=cont, source="continuation")
        path.append(world.service().scale_up(follow, world.budget()))
    assert world.continuation.requests == [], "a hand-over left undelivered"
    return path


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


def no_datapoints(world: World) -> None:
    world.metrics.data.clear()  # alarmed, but CloudWatch has nothing for the lookback


def busy_with_another_reshard(world: World) -> None:
    """Someone else's reshard (300 s of UPDATING) starts just before our first split: the double's own
    ResourceInUse, which clears only once the clock has moved past it — retrying without waiting would hit the
    setback limit."""

    started: list[float] = []

    def hook(operation: str, stream: str) -> None:
        if operation == "split_shard" and not started:
            started.append(world.clock.now())
            world.kinesis.streams[stream].updating_until = world.clock.now() + 300

    world.kinesis.on_call = hook


def quota_after_first_split(world: World) -> None:
    world.kinesis.account_shard_limit = 3  # the first split reaches the account's quota; the second is refused


def delete_throttle_alarm(world: World) -> None:
    del world.alarms.alarms[THROTTLE_ALARM]


def slow_updating(world: World) -> None:
    world.kinesis.split_seconds = 700  # the second split's UPDATING outlasts a 900 s invocation


class Case(NamedTuple):
    name: str
    setup: Callable[[World], None]
    outcome: Outcome  # the last invocation's
    after: int | None  # open shards after (None: the stream is gone)
    splits: int  # SplitShard calls AWS accepted, all invocations together
    hops: int = 0  # hand-overs first: the first `hops` invocations return CONTINUED
    reason: ScaleUpReason = ScaleUpReason.SCALED_FOR_PEAK  # the first invocation's plan
    detail: str = ""  # in the last result's detail
    logged: tuple[str, str | None] | None = None  # a warning the runs log, and the alarm it names
    doctor: frozenset[str] = (
        frozenset()
    )  # the doctor findings the case leaves, each present ("check: message" prefixes)


CASES = [
    Case("ResourceInUseException on a split", inject("split_shard", StreamBusy("ResourceInUse")), Outcome.SCALED, 4, 2),
    Case("ResourceInUseException: another reshard under way", busy_with_another_reshard, Outcome.SCALED, 4, 2),
    # the adapter's retries exhausted: the first invocation hands over at once, the continuation does both splits
    Case("LimitExceeded, TPS", inject("split_shard", ThrottledError("TPS")), Outcome.SCALED, 4, 2, hops=1),
    Case(
        "LimitExceeded, account shard quota (final)",
        inject("split_shard", QuotaExhausted("quota")),
        Outcome.FAILED,
        2,
        0,
        detail="stopped: quota",
    ),
    # the quota reached by the first split: stops at 3, and the alarms must be retuned to 3 (doctor's alarm check)
    Case(
        "LimitExceeded, account shard quota after one split",
        quota_after_first_split,
        Outcome.FAILED,
        3,
        1,
        detail="stopped: account shard limit 3 reached",
    ),
    Case(
        "stream deleted mid-sequence",
        delete_after_first_split,
        Outcome.FAILED,
        None,
        1,
        detail="stream vanished mid-sequence",
        doctor=frozenset({"exists: the stream does not exist"}),
    ),
    # SplitShard refused on an on-demand stream: retried as ResourceInUse up to the setback limit, then stopped with
    # what was done (one split: 3 shards), alarms retuned (checked on a provisioned view), lock released
    Case(
        "stream switched to on-demand mid-sequence",
        on_demand_after_first_split,
        Outcome.FAILED,
        3,
        1,
        detail=f"stopped after {MAX_SETBACKS + 1} setbacks",
        doctor=frozenset({"mode: the stream is ON_DEMAND"}),
    ),
    # the second split is made, then its UPDATING outlasts the invocation: hand over; the continuation waits it out
    Case("UPDATING longer than the invocation's remaining time", slow_updating, Outcome.SCALED, 4, 2, hops=1),
    # metrics failing → the fallback step ⌈2 × 1.5⌉ = 3 shards of capacity: both halves split → 4
    Case(
        "CloudWatch throttling on the metrics read",
        metrics_fail(MetricsUnavailable("Throttling")),
        Outcome.SCALED,
        4,
        2,
        reason=ScaleUpReason.METRICS_MISSING,
        logged=("metrics unavailable", None),
    ),
    Case(
        "CloudWatch PartialData",
        metrics_fail(MetricsUnavailable("PartialData left unfinished")),
        Outcome.SCALED,
        4,
        2,
        reason=ScaleUpReason.METRICS_MISSING,
        logged=("metrics unavailable", None),
    ),
    Case("no datapoints", no_datapoints, Outcome.SCALED, 4, 2, reason=ScaleUpReason.METRICS_MISSING),
    Case(
        "an alarm deleted by hand",
        delete_throttle_alarm,
        Outcome.SCALED,
        4,
        2,
        logged=("alarm missing; run create-streams to restore it", THROTTLE_ALARM),
        doctor=frozenset({f"alarms: alarm {THROTTLE_ALARM} is missing"}),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault_leaves_the_invariants_intact(world: World, caplog: pytest.LogCaptureFixture, case: Case) -> None:
    caplog.set_level(logging.WARNING, logger="autoscaler")
    world.add_stream(shards=2)
    world.traffic(0.8, 2)  # 1.6 shards of load × headroom 2 → 4: 2 splits
    case.setup(world)
    probe = Probe(world)
    path = run_all(world, ALARM)

    # the path: hand-overs first (if any), then the outcome; the first plan's reason; the fault actually fired
    assert [r.outcome for r in path] == [Outcome.CONTINUED] * case.hops + [case.outcome], [r.detail for r in path]
    first, last = path[0], path[-1]
    assert first.plan is not None and first.plan.reason is case.reason, first.plan
    assert case.detail in last.detail, last.detail
    assert last.after == case.after, last.detail
    assert world.kinesis.reshard_calls() == ["split_shard"] * case.splits
    assert not any(world.kinesis.faults.values()) and world.metrics.fail_next == [], "the injected fault never fired"
    if case.logged is not None:
        message, alarm = case.logged
        hits = [
            r
            for r in caplog.records
            if r.levelno >= logging.WARNING and message in r.getMessage() and getattr(r, "alarm", None) == alarm
        ]
        assert hits, [(r.getMessage(), r.__dict__.get("alarm")) for r in caplog.records]

    # the end state
    if case.after is not None:
        assert len(world.kinesis.open_shards(STREAM)) == case.after
    else:  # gone: nothing more asked of Kinesis, no alarm touched after it went
        assert STREAM not in world.kinesis.streams
        assert probe.alarms_when_gone is not None
        assert world.alarms.version == probe.alarms_when_gone, "alarms written for a deleted stream"
    assert probe.after_gone == [], f"calls made on a stream already gone: {probe.after_gone}"
    assert world.cooldown.acquired == len(path)  # each invocation under the lock, once
    assert_lock_released(world)
    findings = doctor_findings(world)
    assert [f for f in findings if not any(f.startswith(d) for d in case.doctor)] == [], case.name
    assert [d for d in case.doctor if not any(f.startswith(d) for f in findings)] == [], findings


def test_a_run_leases_the_lock_for_its_remaining_time_plus_the_margin(world: World) -> None:
    """What makes a killed run harmless: its lease ends by itself at the invocation's end + 60 s."""
    world.add_stream(shards=2)
    world.traffic(0.8, 2)
    start = world.clock.now()
    held: list[LockState | None] = []
    world.kinesis.on_call = lambda op, _s: held.append(world.cooldown.read(STREAM)) if op == "split_shard" else None
    result = world.service().scale_up(ALARM, world.budget())
    assert (result.outcome, result.after) == (Outcome.SCALED, 4)
    assert len(held) == 2
    for lock in held:  # while splitting: held, the lease at the invocation's deadline + the margin
        assert lock is not None and lock.owner is not None
        assert lock.lease_until == start + BUDGET + LOCK_LEASE_MARGIN_SECONDS
    assert_lock_released(world)


def test_dynamodb_unavailable_fails_closed(world: World) -> None:
    world.add_stream(shards=2)
    world.traffic(0.8, 2)
    alarms_before = world.alarms.version
    world.cooldown.unavailable = LockUnavailable("DynamoDB: ServiceUnavailable")
    # raised, not swallowed into a result: the handler turns it into RetryLater (Lambda retries the event)
    with pytest.raises(LockUnavailable, match="ServiceUnavailable"):
        world.service().scale_up(ALARM, world.budget())
    assert world.kinesis.calls == []  # no reshard (no Kinesis write at all) without the lock
    assert world.alarms.version == alarms_before  # no alarm touched
    assert world.continuation.requests == []  # nothing handed over
    assert world.cooldown.acquired == 0 and world.cooldown.items == {}
    # the table back: Lambda's retry of the same event scales, and leaves the lock released
    world.cooldown.unavailable = None
    retry = world.service().scale_up(ALARM, world.budget())
    assert (retry.outcome, retry.after) == (Outcome.SCALED, 4), retry.detail
    assert_lock_released(world)
    assert doctor_findings(world) == []


def test_a_run_killed_between_two_splits_is_finished_by_the_next_alarm(world: World) -> None:
    """The function times out after its first split (no hand-over, no release): the lock's lease (remaining time
    + 60 s) expires on its own and the next alarm's run re-plans from the open shards and reaches the target."""
    world.add_stream(shards=2)
    world.traffic(0.8, 2)
    now = world.clock.now()
    lease = now + BUDGET + LOCK_LEASE_MARGIN_SECONDS
    world.cooldown.acquire(STREAM, owner="killed", now=now, lease_until=lease, blocked_by=())
    first = world.kinesis.open_shards(STREAM)[0]
    world.kinesis.split_shard(STREAM, first.shard_id, first.start + first.width // 2)  # its first split, then death
    findings = doctor_findings(world)
    assert findings and all(f.startswith("alarms: ") for f in findings), findings  # mid-plan: alarms for 2, 3 open

    # held before the lease lapses: the next alarm is refused, nothing resharded
    lock = world.cooldown.read(STREAM)
    assert lock is not None and lock.owner == "killed" and lock.lease_until > world.clock.now()
    blocked = world.service().scale_up(ALARM, world.budget())
    assert (blocked.outcome, blocked.skip_reason) == (Outcome.SKIPPED, "lock-held"), blocked.detail
    assert world.kinesis.reshard_calls() == ["split_shard"]  # the dead run's only

    # lapsed, not released: the item still names the dead owner, past its lease; doctor reports it
    world.clock.advance(lease - world.clock.now() + 1)
    lock = world.cooldown.read(STREAM)
    assert lock is not None and lock.owner == "killed" and lock.lease_until < world.clock.now()
    assert any(
        f.startswith("lock: a lock left by a run that ended without releasing it") for f in doctor_findings(world)
    )

    # the same 1.6 shards of load, now read on 3 open shards ([¼, ¼, ½]): × 2 → 4 of capacity → split the half
    world.traffic(1.6 / 3, 3)
    done = world.service().scale_up(ALARM, world.budget())
    assert done.outcome is Outcome.SCALED and done.after == 4, done.detail
    assert world.kinesis.reshard_calls() == ["split_shard"] * 2
    assert_lock_released(world)  # taken over from the dead run, then released
    assert doctor_findings(world) == []


def test_scale_down_fault_stream_deleted_between_evaluation_and_merge(world: World) -> None:
    from autoscaler.adapters.fakes.clock import SimBudget
    from autoscaler.app.scale_down import StreamOutcome

    world.config = make_config(min_shards=1, desired_shards=4)
    world.add_stream(shards=4)  # no traffic in 24 h: 4 → 2 by 2 merges (60 s ≤ one UpdateShardCount, 90 s)
    world.kinesis.on_call = lambda op, s: world.kinesis.delete_stream(s) if op == "merge_shards" else None
    result = world.scale_down_service().run(SimBudget(world.clock))
    (row,) = result.results
    assert row.outcome is StreamOutcome.FAILED and "vanished" in row.detail, row
    lock = world.cooldown.read(STREAM)
    assert lock is None or lock.owner is None  # released: nothing left held for a stream that is gone


def test_dynamodb_failing_on_the_release_after_a_reshard(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reshard done and the alarms retuned, the lock table fails on the release: the run raises (Lambda retries
    the event), the retry meets the lock and touches nothing, and the lease lapses on its own; the next alarm finds
    the stream already at its target."""
    world.add_stream(shards=2)
    world.traffic(0.8, 2)  # 1.6 shards of load × headroom 2 → 4
    release = world.cooldown.release

    def table_down(*args: Any, **kwargs: Any) -> None:
        world.cooldown.unavailable = LockUnavailable("DynamoDB: ServiceUnavailable")
        release(*args, **kwargs)

    monkeypatch.setattr(world.cooldown, "release", table_down)
    with pytest.raises(LockUnavailable, match="ServiceUnavailable"):
        world.service().scale_up(ALARM, world.budget())
    monkeypatch.setattr(world.cooldown, "release", release)
    world.cooldown.unavailable = None
    assert world.kinesis.reshard_calls() == ["split_shard"] * 2
    lock = world.cooldown.read(STREAM)
    assert lock is not None and lock.owner is not None and lock.lease_until > world.clock.now()
    assert doctor_findings(world) == []  # 4 open, alarms retuned for 4 before the release failed; the lock is live

    retry = world.service().scale_up(ALARM, world.budget())  # Lambda's retry of the same event
    assert (retry.outcome, retry.skip_reason) == (Outcome.SKIPPED, "lock-held"), retry.detail
    world.clock.advance(lock.lease_until - world.clock.now() + 1)
    assert any(f.startswith("lock: a lock left by a run") for f in doctor_findings(world))

    world.traffic(1.6 / 4, 4)
    later = world.service().scale_up(ALARM, world.budget())
    assert later.outcome is Outcome.NOOP and world.kinesis.reshard_calls() == ["split_shard"] * 2, later.detail
    assert_lock_released(world)
    assert doctor_findings(world) == []


class _Killed(BaseException):
    """Unwinds the frozen run once the test is over (Lambda would have ended the process instead)."""


def test_a_run_frozen_between_two_splits_leaves_its_lock_to_lapse(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real run, not a staged one: its thread is stopped inside its second SplitShard, as a Lambda timeout stops the
    process (no hand-over, no release, no clean-up). The lock stays with it until the lease lapses, refuses the next
    alarm meanwhile, and after the lease the next alarm re-plans from the open shards and reaches the target."""
    world.add_stream(shards=2)
    world.traffic(0.8, 2)  # 1.6 shards of load × headroom 2 → 4: two splits
    real_split = world.kinesis.split_shard
    frozen, thaw = threading.Event(), threading.Event()
    splits: list[str] = []

    def split_then_freeze(stream: str, shard_id: str, key: int) -> None:
        splits.append(shard_id)
        if len(splits) == 2:  # the run is "killed" here: it never returns while the test looks
            frozen.set()
            thaw.wait()
            raise _Killed
        real_split(stream, shard_id, key)

    monkeypatch.setattr(world.kinesis, "split_shard", split_then_freeze)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            world.service().scale_up(ALARM, world.budget())
        except BaseException as exc:  # the unwinding _Killed, recorded
            outcome.append(exc)

    victim = threading.Thread(target=run, daemon=True)
    victim.start()
    assert frozen.wait(10), "the run never reached its second split"
    monkeypatch.setattr(world.kinesis, "split_shard", real_split)
    try:
        assert world.kinesis.reshard_calls() == ["split_shard"]
        lock = world.cooldown.read(STREAM)
        assert lock is not None and lock.owner is not None and lock.lease_until > world.clock.now()
        blocked = world.service().scale_up(ALARM, world.budget())
        assert (blocked.outcome, blocked.skip_reason) == (Outcome.SKIPPED, "lock-held"), blocked.detail

        world.clock.advance(lock.lease_until - world.clock.now() + 1)
        assert any(f.startswith("lock: a lock left by a run") for f in doctor_findings(world))
        world.traffic(1.6 / 3, 3)  # the same load read on the 3 open shards
        done = world.service().scale_up(ALARM, world.budget())
        assert done.outcome is Outcome.SCALED and done.after == 4, done.detail
        assert world.kinesis.reshard_calls() == ["split_shard"] * 2
        assert_lock_released(world)
        assert doctor_findings(world) == []
    finally:
        thaw.set()
        victim.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], _Killed)
