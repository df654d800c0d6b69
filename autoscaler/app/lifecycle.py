"""One action on one stream under its cooldown lock — the lifecycle every use case drives (scale-up, scale-down, and
any later action such as a mode switch).

    acquire ─▶ wait for ACTIVE ─▶ [time left? ─▶ re-assert lease ─▶ operation ─▶ record ─▶ wait]* ─▶ finish
       │                                  │                                         │
       │ refused: the caller's answer     └─ time short / still UPDATING ─▶ hand over (the lock stays held for the
       ▼                                                                        next hop, which takes it over)
   (LockHeld, CooldownActive, LockUnavailable)

finish = wait for ACTIVE (within the time left) → count the open shards → retune the alarms to that count (reset to
OK when the chain acted, so the next breach is a transition that notifies) → the direction's cooldown when the chain
acted → release. "Acted" means an operation of this run, or a chain taken over from a run that handed on.

The rules every exit keeps (tests/unit/test_lifecycle.py holds them as a table):
- every acquire's lease is now + the invocation's remaining time + LOCK_LEASE_MARGIN_SECONDS, so it outlives the run
  (a crash cannot wedge the stream longer than that);
- every run has its own owner; a hand-over names the owner the next hop takes over from;
- the time guard is one number, CONTINUATION_SAFETY_SECONDS: no acquire and no operation with less time left;
- the lease is re-asserted (and extended) before every reshard operation: no operation without a live lease;
- a lock refusal (LockHeld, CooldownActive) is an answer; LockUnavailable (the table down) is an error the caller
  raises or reports — never "the lock moved on";
- alarms are retuned and the lock released on every exit that held the lock, except a successful hand-over.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from autoscaler.app.alarm_sync import sync_alarms
from autoscaler.app.ports import (
    AlarmsPort,
    Budget,
    Clock,
    ContinuationPort,
    CooldownPort,
    KinesisPort,
    MetricsPort,
)
from autoscaler.config import AutoscalerConfig, StreamConfig
from autoscaler.core.defaults import CONTINUATION_SAFETY_SECONDS, LOCK_LEASE_MARGIN_SECONDS
from autoscaler.core.errors import AutoscalerError, CooldownActive, LockHeld, LockUnavailable, StreamNotFound
from autoscaler.core.lock import refusal
from autoscaler.core.model import Direction
from autoscaler.events import HandOver

log = logging.getLogger("autoscaler.lifecycle")

DAY_SECONDS = 86_400


def update_shard_count_calls_24h(cooldown: CooldownPort, stream: str, now: float) -> int | None:
    """Our UpdateShardCount calls on the stream in the last 24 h (AWS allows 10), from the lock item; None when the
    table cannot be read (each caller says what that means for it)."""
    try:
        state = cooldown.read(stream)
    except LockUnavailable as exc:
        log.warning("cooldown table unreadable", extra={"stream": stream, "error": str(exc)})
        return None
    if state is None:
        return 0
    return sum(1 for t in state.update_shard_count_calls if now - t < DAY_SECONDS)


class StreamUseCase:
    """What every use case that acts on streams is built from: the config, the ports, and how a run's owner is
    minted. `start` begins one StreamRun in the use case's direction."""

    direction: Direction

    def __init__(
        self,
        *,
        config: AutoscalerConfig,
        kinesis: KinesisPort,
        metrics: MetricsPort,
        alarms: AlarmsPort,
        cooldown: CooldownPort,
        continuation: ContinuationPort,
        clock: Clock,
        new_owner: Callable[[], str] = lambda: os.urandom(16).hex(),  # uuid4's entropy; uuid costs ~3 ms of import
    ) -> None:
        self.config = config
        self.kinesis = kinesis
        self.metrics = metrics
        self.alarms = alarms
        self.cooldown = cooldown
        self.continuation = continuation
        self.clock = clock
        self.new_owner = new_owner

    def would_refuse(self, stream: str, blocked_by: Sequence[Direction]) -> CooldownActive | LockUnavailable | None:
        """Read-only: what `acquire(blocked_by)` would refuse with now (LockHeld, CooldownActive: the message the run
        logs), LockUnavailable when the table cannot be read (the run fails closed), None when it would take the lock.
        Plans and dry runs say "would be skipped" from this, by the same rule (core/lock.py) the lock applies."""
        try:
            state = self.cooldown.read(stream)
        except LockUnavailable as exc:
            return exc
        return refusal(stream, state, now=self.clock.now(), blocked_by=blocked_by, take_over_from=None)

    def start(self, cfg: StreamConfig, budget: Budget, handover: HandOver | None = None) -> StreamRun:
        ports = RunPorts(self.kinesis, self.alarms, self.cooldown, self.clock, self.config.alarm_name_prefix)
        return StreamRun.start(ports, cfg, self.direction, budget=budget, new_owner=self.new_owner, handover=handover)


class Finished(NamedTuple):
    after: int | None  # open shards at the end; None when they could not be counted
    alarms: tuple[str, ...]  # the alarms retuned or reset


class RunPorts(NamedTuple):
    """What a run on one stream talks through."""

    kinesis: KinesisPort
    alarms: AlarmsPort
    cooldown: CooldownPort
    clock: Clock
    alarm_name_prefix: str


@dataclass
class StreamRun:
    """One invocation's action on one stream (per call, never module-level)."""

    ports: RunPorts
    cfg: StreamConfig
    direction: Direction
    owner: str
    budget: Budget
    taken_over_from: str | None = None  # the owner that handed this chain on, if this run continues one
    before: int = 0  # the open count the action began from (a continuation carries it over)
    done: list[str] = field(default_factory=list)
    held: bool = False
    lease_until: float = 0.0  # the lease this run last wrote (acquire, renew)
    cooldown_seconds: float | None = None  # the direction's cooldown to set at finish, when not the config's
    leave_in_alarm: tuple[str, ...] = ()  # alarms finish does not reset (sync_alarms `leave`)

    @classmethod
    def start(
        cls,
        ports: RunPorts,
        cfg: StreamConfig,
        direction: Direction,
        *,
        budget: Budget,
        new_owner: Callable[[], str],
        handover: HandOver | None = None,
    ) -> StreamRun:
        return cls(
            ports,
            cfg,
            direction,
            new_owner(),
            budget,
            taken_over_from=handover.owner if handover else None,
            before=handover.origin_count if handover else 0,
        )

    @property
    def stream(self) -> str:
        return self.cfg.name

    @property
    def acted(self) -> bool:
        """Whether the chain changed the stream: an operation of this run, or a chain taken over (its earlier hops)."""
        return bool(self.done) or self.taken_over_from is not None

    # -- time -------------------------------------------------------------------------------------------------------

    def time_short(self) -> bool:
        """Too little time left to start an operation and still finish cleanly (the one time guard)."""
        return self.budget.remaining() < CONTINUATION_SAFETY_SECONDS

    def wait_seconds(self) -> float:
        """How long this run may wait for ACTIVE and still hand over or finish within its invocation."""
        return max(0.0, self.budget.remaining() - CONTINUATION_SAFETY_SECONDS)

    # -- the lock ---------------------------------------------------------------------------------------------------

    def acquire(self, blocked_by: Sequence[Direction]) -> None:
        """Take the stream's lock: a fresh run when no cooldown in `blocked_by` runs; a continuation only from the
        run that handed it on (cooldowns not checked). Raises LockHeld, CooldownActive (answers) or
        LockUnavailable (the table is down: no action without the lock)."""
        now = self.ports.clock.now()
        lease_until = now + self.budget.remaining() + LOCK_LEASE_MARGIN_SECONDS
        self.ports.cooldown.acquire(
            self.stream,
            owner=self.owner,
            now=now,
            lease_until=lease_until,
            blocked_by=() if self.taken_over_from else tuple(blocked_by),
            take_over_from=self.taken_over_from,
        )
        self.held = True
        self.lease_until = lease_until

    def handover(self, target: int, method: str = "") -> HandOver:
        """What the next hop needs to take this run's lock over and go on towards `target`. The lock stays held."""
        return HandOver(self.stream, target, self.owner, self.before, method)

    def pass_on(self, target: int, method: str = "") -> HandOver:
        """A continuation that ran out of time before taking its lock over hands the same chain on, unchanged."""
        assert self.taken_over_from is not None and not self.held
        return HandOver(self.stream, target, self.taken_over_from, self.before, method)

    # -- operations -------------------------------------------------------------------------------------------------

    def reassert(self) -> None:
        """Before every reshard operation: the lock is still this run's, its lease extended to the invocation's
        remaining time plus the margin, in one conditional write. A run that outlived its lease (a frozen process,
        a laptop asleep under the CLI) and whose lock another run has taken raises LockHeld here, marked as no
        longer holding: it stops without touching the stream or the lock (the holder finishes). Raises
        LockUnavailable when the table cannot be written (no operation without the lock)."""
        now = self.ports.clock.now()
        lease_until = now + self.budget.remaining() + LOCK_LEASE_MARGIN_SECONDS
        try:
            self.ports.cooldown.renew(self.stream, owner=self.owner, now=now, lease_until=lease_until)
        except LockHeld:
            self.held = False
            raise
        except LockUnavailable as exc:
            # The table did not answer. Nobody can take the lock before the lease this run last wrote: while at
            # least the margin of it is left, the operation is still ours to make; otherwise no operation.
            if self.lease_until - now <= LOCK_LEASE_MARGIN_SECONDS:
                raise
            log.warning("lease not renewed; the last one still holds", extra=self._fields(exc))
            return
        self.lease_until = lease_until

    def wait_until_active(self) -> None:
        """Raises StreamBusy when the stream is not ACTIVE within the time this run may wait."""
        self.ports.kinesis.wait_until_active(self.stream, self.wait_seconds())

    def applied(self, description: str, *, update_shard_count: bool = False, mode_switch: bool = False) -> None:
        """Record an operation AWS accepted; an UpdateShardCount also counts towards the stream's 24 h quota, a mode
        switch towards the switch budget and the dwell (core/capacity_mode.py)."""
        self.done.append(description)
        if update_shard_count:
            self.ports.cooldown.note_update_shard_count(self.stream, owner=self.owner, at=self.ports.clock.now())
        if mode_switch:
            self.ports.cooldown.note_mode_switch(self.stream, owner=self.owner, at=self.ports.clock.now())

    def update_shard_count_calls_24h(self) -> int | None:
        return update_shard_count_calls_24h(self.ports.cooldown, self.stream, self.ports.clock.now())

    # -- exits ------------------------------------------------------------------------------------------------------

    def finish(self) -> Finished:
        """Every exit that holds the lock, except a hand-over and a stream that is not ours any more (`let_go`):
        alarms for the open count, cooldown if the chain acted, release. Best effort up to the release: any trouble
        with the stream or the alarms (a botocore connection error included) is logged and never keeps the lock.
        Raises LockUnavailable only when the release itself cannot be written (the lease then lapses on its own)."""
        after: int | None = None
        touched: list[str] = []
        kinesis = self.ports.kinesis
        try:
            try:  # an operation of ours may still be settling: retune for the count it settles at
                kinesis.wait_until_active(self.stream, self.wait_seconds())
            except StreamNotFound:
                raise
            except (AutoscalerError, OSError) as exc:  # still UPDATING: retune for what is open now
                log.warning("stream not ACTIVE before the alarms are retuned", extra=self._fields(exc))
            after = len(kinesis.list_open_shards(self.stream))
            touched = sync_alarms(
                self.ports.alarms,
                self.ports.alarm_name_prefix,
                self.cfg,
                after,
                force_ok=self.acted,
                leave=self.leave_in_alarm,
            )
        except StreamNotFound as exc:
            log.warning("stream gone: no alarms to retune", extra=self._fields(exc))
        except Exception as exc:  # best effort: nothing here may keep the lock
            log.error("alarms not retuned", extra=self._fields(exc))
        self._release(after, cooldown=True)
        return Finished(after, tuple(touched))

    def finish_after_error(self) -> None:
        """An unexpected error while this run may hold the lock: finish if it does (alarms, release), logging any
        second failure rather than raising it — the original error matters more, and the lease lapses on its own."""
        if not self.held:
            return
        try:
            self.finish()
        except Exception as exc:
            log.error("lock not released after an error", extra=self._fields(exc))

    def let_go(self) -> None:
        """Release a stream found not to be ours to scale after all (gone, or ON_DEMAND): no alarm touched, no
        cooldown (a stream recreated, or switched back to PROVISIONED, may scale at once)."""
        self._release(None, cooldown=False)

    def abandon(self) -> Finished | None:
        """Take a handed-on chain over only to end it (its stream disabled since the hand-over): finish what the
        earlier hops did. None when the chain's lock has moved on (a late or duplicate copy: nothing to do).
        Raises LockUnavailable."""
        try:
            self.acquire(())
        except CooldownActive:  # LockHeld included: the handing run no longer holds it
            return None
        return self.finish()

    def _release(self, after: int | None, *, cooldown: bool) -> None:
        # Not held from here on, whatever the release does: a failed one is not retried by a second finish (the
        # lease lapses on its own), and an error handler finding `held` False does not finish again.
        self.held = False
        now = self.ports.clock.now()
        cooldowns: dict[Direction, float] = {}
        action = None
        if self.acted and cooldown and self.direction is Direction.MODE:
            action = "; ".join(self.done) or "capacity mode switch"  # a switch has no cooldown of its own
        elif self.acted and cooldown:
            up = self.direction is Direction.UP
            configured = self.cfg.scale_up_cooldown_seconds if up else self.cfg.scale_down_cooldown_seconds
            cooldowns[self.direction] = now + (configured if self.cooldown_seconds is None else self.cooldown_seconds)
            verb = f"scale-{self.direction.value}"
            if after is None:
                action = f"{verb} (count unknown)"
            else:
                action = f"{verb} {self.before} -> {after}" if self.before else f"{verb} to {after}"
        self.ports.cooldown.release(self.stream, owner=self.owner, now=now, cooldowns=cooldowns, action=action)

    def _fields(self, exc: BaseException) -> dict[str, str]:
        return {"stream": self.stream, "error": f"{type(exc).__name__}: {exc}"}
