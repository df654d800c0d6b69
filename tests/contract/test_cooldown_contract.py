"""CooldownPort contract: the same cases on FakeCooldown and on CooldownTable over moto's DynamoDB and dynalite.

Every time is an argument (`now`, `at`), so every implementation sees the same timeline; T0 is the suites' "now".
moto's conditional writes are faithful for one writer at a time; the race of many writers runs on the fake and on
dynalite, whose conditional writes are atomic (moto's in-process backends are not: autoscaler/local/moto_server.py).
dynalite returns no item with a failed condition (no ReturnValuesOnConditionCheckFailure), so there the adapter's
refusals read the item back: the `.state` cases prove both paths give the caller the same item.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from autoscaler.app.ports import CooldownPort, Direction, LockState
from autoscaler.core.defaults import LOCK_ITEM_TTL_SECONDS
from autoscaler.core.errors import CooldownActive, LockHeld
from tests.contract.impls import RACERS, T0, LockHarness, only_on

pytestmark = [pytest.mark.integration, pytest.mark.contract]
UP, DOWN = Direction.UP, Direction.DOWN
LEASE = 960.0  # a 900 s invocation + 60 s, as the service takes it
DAY = 86_400.0

# -- refusals: the one place that knows what a refusal says ---------------------------------------------------------
# The adapter is about to learn why its conditional write failed from the refused write itself (DynamoDB's
# ReturnValuesOnConditionCheckFailure=ALL_OLD) instead of a GetItem after it. The cases below name only the kind of
# refusal and its numbers; what the message says is checked here and nowhere else.


def held(seconds_left: float) -> tuple[type[CooldownActive], str]:
    return LockHeld, f"locked by another run for {seconds_left:.0f} s more"


def cooling(direction: Direction, seconds_left: float) -> tuple[type[CooldownActive], str]:
    return CooldownActive, f"{direction.value} cooldown for {seconds_left:.0f} s more"


def handed_over_gone() -> tuple[type[CooldownActive], str]:
    return LockHeld, "the run that handed over no longer holds the lock"


class Refusal:
    """What a `refused` block was told: the refusal's `.state`, filled in when the block ends."""

    state: LockState | None = None


@contextmanager
def refused(expected: tuple[type[CooldownActive], str]) -> Iterator[Refusal]:
    kind, message = expected
    out = Refusal()
    with pytest.raises(CooldownActive) as info:
        yield out
    out.state = info.value.state
    assert type(info.value) is kind  # LockHeld is a CooldownActive: the exact kind matters to the log and the CLI
    assert message in str(info.value)


# -- helpers --------------------------------------------------------------------------------------------------------


@pytest.fixture
def lock(lock_impl: LockHarness) -> CooldownPort:
    return lock_impl.port


def take(
    lock: CooldownPort, owner: str, now: float, *blocked_by: Direction, take_over_from: str | None = None
) -> LockState:
    return lock.acquire(
        "orders", owner=owner, now=now, lease_until=now + LEASE, blocked_by=blocked_by, take_over_from=take_over_from
    )


def after_a_scale_up(lock: CooldownPort) -> None:
    """A took the lock at T0 and released it at T0 + 100 with a 300 s up cooldown: up is blocked until T0 + 400."""
    take(lock, "A", T0, UP)
    lock.release("orders", owner="A", now=T0 + 100, cooldowns={UP: T0 + 400}, action="scale-up 4 -> 8")


# -- renew: re-asserting the lease before every operation ------------------------------------------------------------


def test_renew_by_the_owner_extends_its_lease(lock: CooldownPort) -> None:
    take(lock, "A", T0)  # lease until T0 + 960
    state = lock.renew("orders", owner="A", now=T0 + 500, lease_until=T0 + 500 + LEASE)
    assert (state.owner, state.lease_until) == ("A", T0 + 500 + LEASE)
    with refused(held(LEASE - 100)):  # B at T0 + 600 meets the extended lease (T0 + 1,460), not the first one
        take(lock, "B", T0 + 600)


def test_renew_after_a_lapse_nobody_used_is_still_the_owners(lock: CooldownPort) -> None:
    """The lease lapsed (the run was frozen) but no one took the lock: it is still the run's, and renewing it is
    safe — whoever comes next meets the new lease."""
    take(lock, "A", T0)
    state = lock.renew("orders", owner="A", now=T0 + 2_000, lease_until=T0 + 2_000 + LEASE)
    assert (state.owner, state.lease_until) == ("A", T0 + 2_000 + LEASE)


def test_renew_of_a_lock_another_run_took_is_refused_with_the_holder(lock: CooldownPort) -> None:
    """A's lease lapsed and B took the lock (the CLI asleep, a Lambda run meanwhile): A's renewal is refused and
    carries B's item; B's lock is untouched."""
    take(lock, "A", T0)
    take(lock, "B", T0 + LEASE + 1)
    with pytest.raises(LockHeld, match="taken over by another run") as info:
        lock.renew("orders", owner="A", now=T0 + 3_600, lease_until=T0 + 3_600 + LEASE)
    assert info.value.state is not None and info.value.state.owner == "B"
    current = lock.read("orders")
    assert current is not None and (current.owner, current.lease_until) == ("B", T0 + LEASE + 1 + LEASE)


def test_renew_of_a_released_or_missing_lock_is_refused(lock: CooldownPort) -> None:
    with pytest.raises(LockHeld, match="released or expired"):
        lock.renew("orders", owner="A", now=T0, lease_until=T0 + LEASE)
    take(lock, "A", T0)
    lock.release("orders", owner="A", now=T0 + 10, cooldowns={}, action=None)
    with pytest.raises(LockHeld, match="released or expired"):
        lock.renew("orders", owner="A", now=T0 + 20, lease_until=T0 + 20 + LEASE)


# -- read and acquire -----------------------------------------------------------------------------------------------


def test_read_of_a_stream_never_locked_is_none(lock: CooldownPort) -> None:
    assert lock.read("orders") is None


def test_acquire_a_free_lock_returns_the_item_as_read_back(lock: CooldownPort) -> None:
    state = take(lock, "A", T0, UP, DOWN)
    assert state == LockState("orders", owner="A", lease_until=T0 + LEASE)
    assert lock.read("orders") == state


def test_acquire_a_held_lock_is_refused_until_its_lease_lapses(lock: CooldownPort) -> None:
    take(lock, "A", T0)  # lease until T0 + 960
    with refused(held(959)):  # 960 − 1
        take(lock, "B", T0 + 1)
    with refused(held(0)):  # at T0 + 960 the lease's last second still holds
        take(lock, "B", T0 + LEASE)
    assert take(lock, "B", T0 + LEASE + 1).owner == "B"  # lapsed: A crashed, B may go on
    with refused(held(LEASE - 1)):  # the same owner name is no key: A's second alarm is refused too
        take(lock, "A", T0 + LEASE + 2)


def test_acquire_returns_what_earlier_runs_left_on_the_item(lock: CooldownPort) -> None:
    after_a_scale_up(lock)
    state = take(lock, "B", T0 + 500, UP)  # the up cooldown ended at T0 + 400
    assert state == LockState(
        "orders",
        owner="B",
        lease_until=T0 + 500 + LEASE,
        cooldown_until={UP: T0 + 400},
        last_action="scale-up 4 -> 8",
        last_action_at=T0 + 100,
    )
    assert lock.read("orders") == state


def test_a_cooldown_blocks_only_the_directions_asked(lock: CooldownPort) -> None:
    after_a_scale_up(lock)
    with refused(cooling(UP, 299)):  # T0 + 400 − (T0 + 101)
        take(lock, "B", T0 + 101, UP)
    with refused(cooling(UP, 299)):
        take(lock, "B", T0 + 101, DOWN, UP)  # either blocked direction refuses
    assert take(lock, "C", T0 + 102, DOWN).owner == "C"  # a scale-down is not held back by the up cooldown
    lock.release("orders", owner="C", now=T0 + 103, cooldowns={}, action=None)
    assert take(lock, "D", T0 + 104).owner == "D"  # blocked by nothing: only the lease counts


def test_a_cooldown_ends_at_its_instant(lock: CooldownPort) -> None:
    after_a_scale_up(lock)
    with refused(cooling(UP, 1)):
        take(lock, "B", T0 + 399, UP)
    assert take(lock, "B", T0 + 400, UP).owner == "B"  # cooldown_up_until <= now: over


def test_a_held_lock_is_reported_before_a_running_cooldown(lock: CooldownPort) -> None:
    after_a_scale_up(lock)
    take(lock, "C", T0 + 110, DOWN)  # C scales down during the up cooldown
    with refused(held(LEASE - 10)):  # both forbid B; the lease is what it is told about
        take(lock, "B", T0 + 120, UP)


# -- take-over by a continuation ------------------------------------------------------------------------------------


def test_take_over_succeeds_only_from_the_named_owner(lock: CooldownPort) -> None:
    take(lock, "A", T0, UP)
    with refused(handed_over_gone()):
        take(lock, "X", T0 + 1, take_over_from="B")  # B never held it
    state = take(lock, "A2", T0 + 2, take_over_from="A")  # A's lease is live: the hand-over is what allows it
    assert (state.owner, state.lease_until) == ("A2", T0 + 2 + LEASE)
    with refused(handed_over_gone()):
        take(lock, "A3", T0 + 3, take_over_from="A")  # a duplicate of the same continuation (Lambda may deliver twice)


def test_take_over_after_the_handing_runs_lease_lapsed(lock: CooldownPort) -> None:
    take(lock, "A", T0, UP)
    assert take(lock, "A2", T0 + LEASE + 100, take_over_from="A").owner == "A2"  # still A's: nobody took it meanwhile


def test_take_over_is_refused_once_someone_else_holds_the_lock(lock: CooldownPort) -> None:
    take(lock, "A", T0, UP)
    take(lock, "B", T0 + LEASE + 1, UP)  # A's lease lapsed and B took the lock
    with refused(handed_over_gone()):
        take(lock, "A2", T0 + LEASE + 2, take_over_from="A")


def test_take_over_of_a_released_or_missing_lock_is_refused(lock: CooldownPort) -> None:
    with refused(handed_over_gone()):
        take(lock, "A2", T0, take_over_from="A")  # no item at all
    after_a_scale_up(lock)
    with refused(handed_over_gone()):
        take(lock, "A2", T0 + 101, take_over_from="A")  # A released: a late continuation has nothing to continue


def test_take_over_passes_no_blocked_directions_and_ignores_the_cooldowns(lock: CooldownPort) -> None:
    """How the services hand over: blocked_by=() — the running cooldowns are not the continuation's concern."""
    after_a_scale_up(lock)
    take(lock, "C", T0 + 110, DOWN)
    assert take(lock, "C2", T0 + 120, take_over_from="C").owner == "C2"  # the up cooldown runs until T0 + 400


# -- release --------------------------------------------------------------------------------------------------------


def test_release_by_the_owner_frees_the_lock_and_sets_cooldowns_and_the_last_action(lock: CooldownPort) -> None:
    take(lock, "A", T0, UP)
    lock.release("orders", owner="A", now=T0 + 100, cooldowns={UP: T0 + 400, DOWN: T0 + 3700}, action="scale-up 4 -> 8")
    assert lock.read("orders") == LockState(
        "orders",
        owner=None,
        lease_until=0.0,
        cooldown_until={UP: T0 + 400, DOWN: T0 + 3700},
        last_action="scale-up 4 -> 8",
        last_action_at=T0 + 100,
    )


def test_release_keeps_what_it_is_not_given(lock: CooldownPort) -> None:
    after_a_scale_up(lock)  # up until T0 + 400, last action at T0 + 100
    take(lock, "B", T0 + 500, DOWN)
    lock.release("orders", owner="B", now=T0 + 600, cooldowns={DOWN: T0 + 4200}, action=None)  # nothing was done
    state = lock.read("orders")
    assert state is not None
    assert dict(state.cooldown_until) == {UP: T0 + 400, DOWN: T0 + 4200}
    assert (state.last_action, state.last_action_at) == ("scale-up 4 -> 8", T0 + 100)


def test_release_by_anyone_but_the_owner_changes_nothing(lock: CooldownPort) -> None:
    before = take(lock, "A", T0, UP)
    lock.release("orders", owner="B", now=T0 + 1, cooldowns={UP: T0 + 9999}, action="not mine")
    assert lock.read("orders") == before


def test_release_of_a_missing_lock_creates_nothing(lock: CooldownPort) -> None:
    lock.release("orders", owner="A", now=T0, cooldowns={UP: T0 + 300}, action="x")
    assert lock.read("orders") is None


def test_a_lapsed_then_retaken_lock_is_not_released_by_the_old_owner(lock: CooldownPort) -> None:
    take(lock, "crashed", T0, UP)
    retaken = take(lock, "B", T0 + LEASE + 1, UP)
    lock.release("orders", owner="crashed", now=T0 + LEASE + 2, cooldowns={UP: T0 + 5000}, action="late")
    assert lock.read("orders") == retaken  # B still holds it; no cooldown, no last action from the late release


# -- what a refusal carries ----------------------------------------------------------------------------------------


def test_a_refusal_carries_the_item_that_refused(lock: CooldownPort) -> None:
    """The caller logs who holds the lock and until when from the refusal alone (`.state`), with no read of its own:
    the item as it stood when the condition failed — ALL_OLD on AWS, read back where the failure carries none."""
    after_a_scale_up(lock)  # up cooldown until T0 + 400, last action at T0 + 100
    holder = take(lock, "C", T0 + 110, DOWN)
    with refused(held(LEASE - 10)) as refusal:
        take(lock, "B", T0 + 120, UP)
    assert refusal.state == holder
    assert (refusal.state.owner, refusal.state.lease_until, dict(refusal.state.cooldown_until)) == (
        "C",
        T0 + 110 + LEASE,
        {UP: T0 + 400},
    )


def test_a_cooldown_refusal_carries_the_released_item(lock: CooldownPort) -> None:
    after_a_scale_up(lock)
    with refused(cooling(UP, 299)) as refusal:
        take(lock, "B", T0 + 101, UP)
    assert refusal.state == lock.read("orders")
    assert refusal.state is not None and (refusal.state.owner, dict(refusal.state.cooldown_until)) == (
        None,
        {UP: T0 + 400},
    )


def test_a_refused_take_over_carries_the_item_of_the_run_that_holds_it(lock: CooldownPort) -> None:
    take(lock, "A", T0, UP)
    holder = take(lock, "B", T0 + LEASE + 1, UP)  # A's lease lapsed and B took the lock
    with refused(handed_over_gone()) as refusal:
        take(lock, "A2", T0 + LEASE + 2, take_over_from="A")
    assert refusal.state == holder


def test_a_refused_take_over_of_a_missing_item_carries_none(lock: CooldownPort) -> None:
    with refused(handed_over_gone()) as refusal:
        take(lock, "A2", T0, take_over_from="A")
    assert refusal.state is None


# -- many writers at once -------------------------------------------------------------------------------------------

NOT_ATOMIC = (
    "moto's backends hold no lock around a conditional write (its threaded server let 2 of 20 racers win: "
    "autoscaler/local/moto_server.py); a pass in-process would be luck, not the per-item atomicity DynamoDB promises"
)


@only_on("fake", "dynalite", reason=NOT_ATOMIC)
def test_of_many_writers_racing_for_a_free_lock_exactly_one_wins(lock: CooldownPort) -> None:
    """30 runs (alarms, a scale-down, a continuation's duplicate) ask for the same free item at the same instant:
    one gets it; every other is told LockHeld, by the winner's item."""
    start = threading.Barrier(RACERS)
    won: list[LockState] = []
    lost: list[Exception] = []

    def racer(owner: str) -> None:
        start.wait(timeout=30)
        try:
            won.append(take(lock, owner, T0, UP, DOWN))
        except Exception as exc:  # every refusal is checked below
            lost.append(exc)

    threads = [threading.Thread(target=racer, args=(f"run-{i}",)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert len(won) == 1, [s.owner for s in won]
    (winner,) = won
    assert len(lost) == RACERS - 1
    for exc in lost:
        assert type(exc) is LockHeld, repr(exc)
        assert exc.state == winner  # each refusal names the run that holds the lock
    assert lock.read("orders") == winner


# -- UpdateShardCount calls -----------------------------------------------------------------------------------------


def test_update_shard_count_calls_are_kept_24_hours(lock: CooldownPort) -> None:
    take(lock, "A", T0)
    for at in (T0, T0 + 100, T0 + 86_000):
        lock.note_update_shard_count("orders", owner="A", at=at)
    lock.note_update_shard_count("orders", owner="A", at=T0 + DAY)  # T0 is exactly 24 h old now: dropped
    state = lock.read("orders")
    assert state is not None and state.update_shard_count_calls == (T0 + 100, T0 + 86_000, T0 + DAY)


def test_update_shard_count_calls_are_noted_only_by_the_owner(lock: CooldownPort) -> None:
    take(lock, "A", T0)
    lock.note_update_shard_count("orders", owner="A", at=T0 + 1)
    lock.note_update_shard_count("orders", owner="B", at=T0 + 2)  # not the owner: ignored
    lock.note_update_shard_count("elsewhere", owner="A", at=T0 + 3)  # no lock item at all: ignored, nothing created
    state = lock.read("orders")
    assert state is not None and state.update_shard_count_calls == (T0 + 1,)
    assert lock.read("elsewhere") is None


def test_update_shard_count_calls_outlive_the_run_that_made_them(lock: CooldownPort) -> None:
    """The quota is the stream's (10 per 24 h), not one run's: release and the next acquire keep the calls."""
    take(lock, "A", T0)
    lock.note_update_shard_count("orders", owner="A", at=T0 + 10)
    lock.release("orders", owner="A", now=T0 + 20, cooldowns={}, action="scale-up 4 -> 8")
    assert take(lock, "B", T0 + 30).update_shard_count_calls == (T0 + 10,)


def test_mode_switches_are_kept_a_week_and_apart_from_update_shard_count_calls(lock: CooldownPort) -> None:
    """The switch budget (2 per 24 h) and the dwell (7 days) read this list: a week of it is enough for both, and
    no more than the item's TTL keeps."""
    take(lock, "A", T0)
    lock.note_mode_switch("orders", owner="A", at=T0)
    lock.note_mode_switch("orders", owner="A", at=T0 + 3 * DAY)
    lock.note_mode_switch("orders", owner="B", at=T0 + 3 * DAY + 1)  # not the owner: ignored
    lock.note_update_shard_count("orders", owner="A", at=T0 + 5)
    lock.note_mode_switch("orders", owner="A", at=T0 + 7 * DAY)  # T0 is exactly 7 days old now: dropped
    state = lock.read("orders")
    assert state is not None
    assert state.mode_switches == (T0 + 3 * DAY, T0 + 7 * DAY)
    assert state.update_shard_count_calls == (T0 + 5,)
    lock.release("orders", owner="A", now=T0 + 7 * DAY + 1, cooldowns={}, action="mode PROVISIONED -> ON_DEMAND")
    assert take(lock, "B", T0 + 7 * DAY + 2).mode_switches == (T0 + 3 * DAY, T0 + 7 * DAY)


# -- TTL ------------------------------------------------------------------------------------------------------------


@only_on(
    "fake",
    reason={
        "moto": "moto never expires TTL items (AWS: deleted some time, typically days, after expires_at)",
        "dynalite": "dynalite has no TTL (UpdateTimeToLive is an UnknownOperationException; docs/emulators.md)",
    },
)
def test_the_item_expires_a_ttl_after_its_last_write_and_its_lease(lock_impl: LockHarness) -> None:
    lock = lock_impl.port
    lease_until = T0 + 2 * DAY  # longer than any real lease, to tell "after the write" from "after the lease"
    lock.acquire("orders", owner="A", now=T0, lease_until=lease_until, blocked_by=())
    # expires_at = max(lease_until, now) + TTL (aws/cooldown.py): a held lock is never deleted under its owner
    lock_impl.advance(lease_until + LOCK_ITEM_TTL_SECONDS - T0 - 1)
    assert lock.read("orders") is not None
    lock_impl.advance(1)
    assert lock.read("orders") is None
