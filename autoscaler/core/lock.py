"""The cooldown lock's rule as a pure function of the lock item: the DynamoDB adapter states it as a condition
expression (aws/cooldown.py) and explains its refusals with it; the in-memory double decides by it. The contract
suite holds the two to the same answers."""

from __future__ import annotations

from collections.abc import Sequence

from autoscaler.core.errors import CooldownActive, LockHeld
from autoscaler.core.model import Direction, LockState


def lost(stream: str, state: LockState | None) -> LockHeld:
    """A renewal refused: the lock is not the renewing run's any more (what `renew` raises, double and adapter)."""
    holder = "taken over by another run" if state and state.owner else "released or expired"
    return LockHeld(f"{stream}: this run's lock was {holder}; not resharding without it", state)


def held(state: LockState | None, now: float) -> bool:
    """A run holds the lock at `now`: the item names an owner whose lease has not ended (a lapsed lease is free)."""
    return state is not None and state.owner is not None and state.lease_until >= now


def refusal(
    stream: str,
    state: LockState | None,
    *,
    now: float,
    blocked_by: Sequence[Direction],
    take_over_from: str | None,
) -> CooldownActive | None:
    """Why `acquire` may not take the lock now, or None when it may.

    Fresh acquire: the lock is free (no owner, or its lease ended before `now`) and no cooldown in `blocked_by` runs
    past `now`. Take-over: only from `take_over_from` while it still owns the item (its lease may have lapsed: the
    chain is still its), cooldowns not checked.
    """
    if take_over_from is not None:
        if state is None or state.owner != take_over_from:
            return LockHeld(f"{stream}: the run that handed over no longer holds the lock; nothing to continue", state)
        return None
    if state is None:
        return None
    if held(state, now):
        return LockHeld(f"{stream}: locked by another run for {state.lease_until - now:.0f} s more", state)
    for direction in blocked_by:
        until = state.cooldown_until.get(direction, 0.0)
        if until > now:
            return CooldownActive(f"{stream}: {direction.value} cooldown for {until - now:.0f} s more", state)
    return None
