"""Issue 6, under load: a scale-down run over 500 streams while scale-up alarms fire on some of them, in real
threads on the in-package doubles. No stream is merged and split at once: every reshard call is made while the
calling run itself holds the stream's lock, and within one lock tenure all calls go one way.

The race is forced, not hoped for: on some hot streams the scale-down holds the lock and is stalled before its
first merge until that stream's scale-up has tried the lock (it must be refused); on others the scale-up holds it
and is stalled before its first split until the scale-down has tried (it must be refused). With a lock that does
not exclude, both runs reshard the same stream and the test fails."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from autoscaler.adapters.fakes.clock import SimBudget
from autoscaler.app.ports import LockState
from autoscaler.app.scale_down import ScaleDownService, StreamOutcome, StreamResult
from autoscaler.app.scale_up import Outcome, ScaleUpRequest, ScaleUpResult, ScaleUpService
from autoscaler.config import parse_config
from autoscaler.core.errors import CooldownActive, LockHeld
from autoscaler.core.model import Shard, TriggerKind
from autoscaler.core.scale_up import tiles_key_space
from tests.conftest import World

pytestmark = pytest.mark.unit
STREAMS = 500
HOT = 25  # streams whose alarms fire during the run
DOWN_FIRST = 8  # of them: the scale-down holds the lock, stalled before its first merge, while the scale-up tries
UP_FIRST = 8  # of them: the scale-up holds the lock, stalled before its first split, while the scale-down tries
HANDSHAKE_SECONDS = 20.0  # real time a stalled run waits for its rival before the test records a broken handshake
RESHARDS = frozenset({"split_shard", "merge_shards", "update_shard_count"})
MiB = 1_048_576


@dataclass
class Call:
    """One reshard call as Kinesis saw it: who made it, who held the lock then, the open count before and after."""

    role: str  # "up" or "down": which service's port made it
    stream: str
    op: str
    caller: str | None  # the lock owner of the run that made the call (None: it never asked for the lock)
    holder: str | None  # the stream's lock owner with an unexpired lease at the call (None: nobody)
    before: int
    target: int | None  # UpdateShardCount's target
    after: int | None = None  # None: AWS refused the call

    def direction(self) -> str:
        """Which way it reshards ("up", "down", "none"): by the open count before and after when AWS accepted the
        call, by what was asked for when it refused it (UpdateShardCount by its target, not by its name)."""
        asked = self.after if self.after is not None else self.target
        if asked is None:
            return "up" if self.op == "split_shard" else "down"
        return "up" if asked > self.before else "down" if asked < self.before else "none"


class _Mine(threading.local):
    """Per thread: the owner each stream's lock was last asked for under, and the reshard call in progress."""

    def __init__(self) -> None:
        self.owners: dict[str, str] = {}
        self.role = ""
        self.target: int | None = None
        self.call: Call | None = None


class Race:
    """Records every reshard call and lock refusal, and stalls the runs of the forced streams in a set order."""

    def __init__(self, world: World, down_first: Sequence[str], up_first: Sequence[str]) -> None:
        self.kinesis = world.kinesis
        self.cooldown = world.cooldown
        self.clock = world.clock
        self.down_first = frozenset(down_first)
        self.up_first = frozenset(up_first)
        forced = [*down_first, *up_first]
        self.events = {(what, s): threading.Event() for s in forced for what in ("held", "tried")}
        self.mine = _Mine()
        self.calls: list[Call] = []
        self.refusals: list[tuple[str, str, CooldownActive]] = []  # (role, stream, error)
        self.broken: list[str] = []  # handshakes that timed out
        self._record = threading.Lock()
        world.kinesis.on_call = self._on_call
        world.kinesis.on_reshard = self._on_reshard

    # -- the handshake -------------------------------------------------------------------------------------------

    def _first(self, role: str, stream: str) -> bool:
        """Whether `role` goes first on `stream` (holds the lock while the other tries)."""
        return stream in (self.down_first if role == "down" else self.up_first)

    def _second(self, role: str, stream: str) -> bool:
        return stream in (self.up_first if role == "down" else self.down_first)

    def wait(self, what: str, stream: str) -> None:
        if not self.events[what, stream].wait(HANDSHAKE_SECONDS):
            with self._record:
                self.broken.append(f"{stream}: no '{what}' within {HANDSHAKE_SECONDS} s")

    def before_acquire(self, role: str, stream: str, owner: str) -> None:
        self.mine.owners[stream] = owner
        if self._second(role, stream):
            self.wait("held", stream)  # the rival has the lock: now try it

    def after_acquire(self, role: str, stream: str, error: CooldownActive | None) -> None:
        if error is not None:
            with self._record:
                self.refusals.append((role, stream, error))
        if self._second(role, stream):
            self.events["tried", stream].set()
        elif self._first(role, stream) and error is None:
            self.events["held", stream].set()

    def before_reshard(self, role: str, stream: str, target: int | None) -> None:
        if self._first(role, stream):
            self.wait("tried", stream)  # hold the lock, unchanged stream, until the rival has tried it
        self.mine.role = role
        self.mine.target = target

    # -- the record (both hooks run in the calling thread, under FakeKinesis's lock) -----------------------------

    def _on_call(self, operation: str, stream: str) -> None:
        if operation not in RESHARDS:
            return
        lock = self.cooldown.read(stream)
        holder = lock.owner if lock is not None and lock.lease_until >= self.clock.now() else None
        call = Call(
            self.mine.role,
            stream,
            operation,
            self.mine.owners.get(stream),
            holder,
            self.kinesis.open_count(stream),
            self.mine.target,
        )
        self.mine.call = call
        with self._record:
            self.calls.append(call)

    def _on_reshard(self, stream: str, shards: list[Shard], _completes: float) -> None:
        call = self.mine.call
        assert call is not None and call.stream == stream
        call.after = len(shards)


class RaceKinesis:
    """The KinesisPort of one service (role) on the shared FakeKinesis, with the race's stalls before reshards."""

    def __init__(self, race: Race, role: str) -> None:
        self.race, self.role, self.inner = race, role, race.kinesis

    def __getattr__(self, name: str) -> Any:  # the reads: FakeKinesis's own
        return getattr(self.inner, name)

    def split_shard(self, stream: str, shard_id: str, new_starting_hash_key: int) -> None:
        self.race.before_reshard(self.role, stream, None)
        self.inner.split_shard(stream, shard_id, new_starting_hash_key)

    def merge_shards(self, stream: str, lower_shard_id: str, upper_shard_id: str) -> None:
        self.race.before_reshard(self.role, stream, None)
        self.inner.merge_shards(stream, lower_shard_id, upper_shard_id)

    def update_shard_count(self, stream: str, target: int) -> None:
        self.race.before_reshard(self.role, stream, target)
        self.inner.update_shard_count(stream, target)


class RaceCooldown:
    """The CooldownPort of one service (role) on the shared FakeCooldown: notes the caller's owner per thread and
    every refusal, and orders the forced streams' lock attempts."""

    def __init__(self, race: Race, role: str) -> None:
        self.race, self.role, self.inner = race, role, race.cooldown

    def __getattr__(self, name: str) -> Any:  # release, read, note_update_shard_count: FakeCooldown's own
        return getattr(self.inner, name)

    def acquire(self, stream: str, **port_args: Any) -> LockState:  # CooldownPort.acquire's keywords, passed on
        self.race.before_acquire(self.role, stream, port_args["owner"])
        try:
            state = self.inner.acquire(stream, **port_args)
        except CooldownActive as exc:  # LockHeld included
            self.race.after_acquire(self.role, stream, exc)
            raise
        self.race.after_acquire(self.role, stream, None)
        return state


def test_scale_down_over_500_streams_with_alarms_firing_never_merges_and_splits_at_once(world: World) -> None:
    names = [f"s{i:03d}" for i in range(STREAMS)]
    world.config = parse_config(
        "streams:\n" + "".join(f"  - {{name: {n}, min_shards: 1, max_shards: 64, desired_shards: 4}}\n" for n in names)
    )
    now = world.clock.now()
    # every third stream is twice as wide: its scale-down halves it by UpdateShardCount first, then merges
    width = {n: 8 if i % 3 == 0 else 4 for i, n in enumerate(names)}
    for n in names:
        world.add_stream(n, width[n])
        # a quiet day (10% of its shards) for every stream: all are scale-down candidates ...
        for k in range(1, 289):
            world.metrics.put(n, "IncomingBytes", now - 300 * k, 0.1 * width[n] * MiB * 300)
            world.metrics.put(n, "IncomingRecords", now - 300 * k, 10.0)
    # ... and these also get an operator's scale-up meanwhile (one split wanted) while the scale-down,
    # on the same quiet day, wants to merge them: both runs contend for the same streams' locks. The forced ones
    # are spread from the head of the scale-down's queue to past its middle; the free ones (after) race as they may.
    hot = names[:: STREAMS // HOT][:HOT]
    down_first, up_first = hot[0 : 2 * DOWN_FIRST : 2], hot[1 : 2 * UP_FIRST : 2]
    free = [n for n in hot if n not in down_first and n not in up_first]  # left to the scheduler
    assert len(free) == HOT - DOWN_FIRST - UP_FIRST > 0

    # SimClock's sleep advances one global time for every thread: with real UPDATING times, 25 scale-ups waiting in
    # parallel would move the clock past the quiet day's data, and a stalled scale-up would see its 900 s budget
    # (and lease) run out while the scale-down's ~1,000 merges advance the clock. 0.1 s per reshard keeps the
    # interleaving, not the drift: the whole run spends ~2 simulated minutes (checked below).
    world.kinesis.split_seconds = world.kinesis.merge_seconds = world.kinesis.update_shard_count_seconds = 0.1
    began = world.clock.now()
    race = Race(world, down_first, up_first)

    def ports(role: str) -> dict[str, Any]:
        """The world's ports, with Kinesis and the lock seen through this role's recorders."""
        shared = {"metrics": world.metrics, "alarms": world.alarms, "continuation": world.continuation}
        return {
            **shared,
            "config": world.config,
            "clock": world.clock,
            "kinesis": RaceKinesis(race, role),
            "cooldown": RaceCooldown(race, role),
        }

    down = ScaleDownService(**ports("down"))
    up = ScaleUpService(**ports("up"))
    start = threading.Barrier(1 + HOT)
    errors: list[BaseException] = []
    fleet: list[StreamResult] = []
    ups: dict[str, ScaleUpResult] = {}

    def scale_down() -> None:
        start.wait()
        try:
            fleet.extend(down.run(SimBudget(world.clock, 3600)).results)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def alarm(name: str) -> None:
        start.wait()
        try:
            if name in race.down_first:
                race.wait("held", name)  # the alarm fires while the scale-down is merging this stream
            # an operator's scale-up (the CLI's, "as if an alarm fired": one shard more) on a stream the quiet day
            # makes a scale-down candidate; a throttle alarm would need refused writes, which would keep it
            ups[name] = up.scale_up(ScaleUpRequest(name, TriggerKind.OPERATOR, source="cli"), world.budget())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=scale_down)] + [threading.Thread(target=alarm, args=(n,)) for n in hot]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a run hung"
    assert not errors, errors
    assert not race.broken, race.broken
    assert world.clock.now() - began < 300 and not world.continuation.requests  # no budget, lease or hand-over ran out
    downs = {r.stream: r for r in fleet}
    assert set(downs) == set(names) and set(ups) == set(hot)

    # The forced overlaps: the rival that came second was refused by the lock (not a cooldown, not a changed count).
    held = {(role, s) for role, s, exc in race.refusals if isinstance(exc, LockHeld)}
    for s in down_first:
        assert ("up", s) in held, f"{s}: the scale-up got the lock the scale-down held: {ups[s]}"
        assert ups[s].outcome is Outcome.SKIPPED and ups[s].skip_reason == "lock-held", ups[s]
        assert downs[s].outcome is StreamOutcome.MERGED, downs[s]
    for s in up_first:
        assert ("down", s) in held, f"{s}: the scale-down got the lock the scale-up held: {downs[s]}"
        assert downs[s].outcome is StreamOutcome.SKIPPED and "locked by another run" in downs[s].detail, downs[s]
        assert ups[s].outcome is Outcome.SCALED, ups[s]
    assert len(held) >= DOWN_FIRST + UP_FIRST

    # Every reshard call: made by a run that holds the stream's lock itself at that moment; one way per tenure.
    tenures: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in race.calls:
        assert c.caller is not None, f"a reshard call by a run that never asked for the lock: {c}"
        assert c.holder == c.caller, f"a reshard call by a run not holding the lock (holder {c.holder}): {c}"
        tenures[c.stream, c.caller].add(c.direction())
        assert c.direction() == c.role, f"the scale-{c.role} resharded the other way: {c}"
    for (stream, owner), kinds in tenures.items():
        calls = [c for c in race.calls if c.stream == stream]
        assert len(kinds) == 1, f"{stream}: {kinds} in one lock tenure ({owner}): {calls}"

    shrunk = {c.stream for c in race.calls if c.direction() == "down" and c.after is not None}
    grown = {c.stream for c in race.calls if c.direction() == "up" and c.after is not None}
    assert shrunk >= set(names) - set(free) - set(up_first)  # the quiet ones and the down-first ones shrunk ...
    assert not shrunk & set(up_first)
    assert set(up_first) <= grown <= set(up_first) | set(free)  # ... the up-first ones split, and no down-first one
    usc = {c.stream for c in race.calls if c.op == "update_shard_count"}
    assert usc & set(down_first) and len(usc) > STREAMS // 4  # UpdateShardCount was in the race too
    for n in names:
        shards = world.kinesis.open_shards(n)
        assert tiles_key_space(shards) and 1 <= len(shards) <= 64
        lock = world.cooldown.read(n)
        assert lock is None or lock.owner is None, f"{n}: lock left held"
