"""FakeCooldown: the cooldown lock in memory, with DynamoDB's atomic conditional write and TTL deletion."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from autoscaler.adapters.fakes.clock import SimClock
from autoscaler.core.defaults import LOCK_ITEM_TTL_SECONDS, MODE_SWITCH_MEMORY_SECONDS
from autoscaler.core.lock import lost, refusal
from autoscaler.core.model import Direction, LockState


class FakeCooldown:
    """The rule of core/lock.py (adapters/aws/cooldown.py's condition expressions), under one mutex (DynamoDB's
    per-item atomicity)."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.items: dict[str, tuple[LockState, float]] = {}  # stream -> (state, ttl expires_at)
        self.unavailable: Exception | None = None
        self.acquired = 0
        self._lock = threading.Lock()

    def _expire(self) -> None:
        now = self.clock.now()
        for key in [k for k, (_, exp) in self.items.items() if exp <= now]:
            del self.items[key]  # TTL deletion (AWS does it within days; here at once — the lock never relies on it)

    def acquire(
        self,
        stream: str,
        *,
        owner: str,
        now: float,
        lease_until: float,
        blocked_by: Sequence[Direction],
        take_over_from: str | None = None,
    ) -> LockState:
        with self._lock:
            if self.unavailable is not None:
                raise self.unavailable
            self._expire()
            item = self.items.get(stream)
            refused = refusal(
                stream, item[0] if item else None, now=now, blocked_by=blocked_by, take_over_from=take_over_from
            )
            if refused is not None:
                raise refused
            state = item[0] if item else LockState(stream)
            new = state._replace(owner=owner, lease_until=lease_until)
            # expires_at = max(lease_until, now) + TTL, as aws/cooldown.py writes it: never deleted under its owner
            self.items[stream] = (new, max(lease_until, now) + LOCK_ITEM_TTL_SECONDS)
            self.acquired += 1
            return new

    def release(
        self,
        stream: str,
        *,
        owner: str,
        now: float,
        cooldowns: Mapping[Direction, float],
        action: str | None,
    ) -> None:
        with self._lock:
            if self.unavailable is not None:
                raise self.unavailable
            current = self.items.get(stream)
            if current is None or current[0].owner != owner:
                return
            state = current[0]
            merged = dict(state.cooldown_until)
            merged.update(cooldowns)
            new = state._replace(
                owner=None,
                lease_until=0.0,
                cooldown_until=merged,
                last_action=action or state.last_action,
                last_action_at=now if action else state.last_action_at,
            )
            self.items[stream] = (new, now + LOCK_ITEM_TTL_SECONDS)

    def renew(self, stream: str, *, owner: str, now: float, lease_until: float) -> LockState:
        with self._lock:
            if self.unavailable is not None:
                raise self.unavailable
            self._expire()
            item = self.items.get(stream)
            if item is None or item[0].owner != owner:
                raise lost(stream, item[0] if item else None)
            new = item[0]._replace(lease_until=lease_until)
            self.items[stream] = (new, max(lease_until, now) + LOCK_ITEM_TTL_SECONDS)
            return new

    def note_update_shard_count(self, stream: str, *, owner: str, at: float) -> None:
        self._note(stream, "update_shard_count_calls", 86_400, owner=owner, at=at)

    def note_mode_switch(self, stream: str, *, owner: str, at: float) -> None:
        self._note(stream, "mode_switches", MODE_SWITCH_MEMORY_SECONDS, owner=owner, at=at)

    def _note(self, stream: str, attr: str, keep_seconds: float, *, owner: str, at: float) -> None:
        with self._lock:
            current = self.items.get(stream)
            if current is None or current[0].owner != owner:
                return
            calls = (*(t for t in getattr(current[0], attr) if at - t < keep_seconds), at)
            fields: dict[str, Any] = {attr: calls}
            self.items[stream] = (current[0]._replace(**fields), current[1])

    def read(self, stream: str) -> LockState | None:
        with self._lock:
            if self.unavailable is not None:
                raise self.unavailable
            self._expire()
            item = self.items.get(stream)
            return item[0] if item else None
