"""Use cases: read state through the ports, plan, take the cooldown lock, apply, retune alarms, release.

Never builds a client, never reads os.environ, never reads the wall clock directly (Clock and Budget are ports).
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from autoscaler.capacity import AlarmKind, alarm_name, alarm_threshold, shards_for_threshold
from autoscaler.config import AutoscalerConfig, StreamConfig
from autoscaler.defaults import (
    CONTINUATION_SAFETY_SECONDS,
    LOCK_LEASE_MARGIN_SECONDS,
    MAX_CONTINUATION_HOPS,
)
from autoscaler.errors import (
    AutoscalerError,
    ConfigError,
    CooldownActive,
    InvalidRequest,
    LockUnavailable,
    QuotaExhausted,
    StreamBusy,
    StreamNotFound,
    StreamNotProvisioned,
    ThrottledError,
    UpdateShardCountLimit,
)
from autoscaler.events import AlarmNotification, ContinuationRequest
from autoscaler.model import Op, Shard, SplitOp, StreamMetrics, StreamMode, TriggerKind, UpdateShardCountOp
from autoscaler.planner import PlanInput, ScalePlan, plan_scale_up
from autoscaler.ports import (
    AlarmsPort,
    Budget,
    Clock,
    ContinuationPort,
    CooldownPort,
    Direction,
    KinesisPort,
    MetricsPort,
)

log = logging.getLogger("autoscaler.service")

DAY_SECONDS = 86_400
MAX_SETBACKS = 5


class Outcome(enum.StrEnum):
    SCALED = "scaled"  # the target was reached; alarms retuned; cooldown set
    NOOP = "noop"  # nothing to do (at max, already at target)
    SKIPPED = "skipped"  # refused before planning: cooldown, lock held, disabled, on-demand, unknown stream
    CONTINUED = "continued"  # handed over to a new invocation with the rest of the work
    DRY_RUN = "dry_run"  # planned only; nothing changed
    FAILED = "failed"  # stopped by an error; what was done is reported


@dataclass(frozen=True, slots=True)
class ScaleUpRequest:
    stream: str
    trigger: TriggerKind
    alarm_shards: float | None = None
    continuation: ContinuationRequest | None = None
    source: str = ""  # alarm name, "continuation", "cli"


@dataclass(frozen=True, slots=True)
class ScaleUpResult:
    stream: str
    outcome: Outcome
    detail: str
    plan: ScalePlan | None = None
    before: int | None = None
    after: int | None = None
    ops_done: tuple[str, ...] = ()
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def log_fields(self) -> dict[str, Any]:
        """The structured keys house rule 1 asks for: stream, current, target, ops, reason, dry_run."""
        p = self.plan
        return {
            "stream": self.stream,
            "outcome": self.outcome.value,
            "current": self.before if self.before is not None else (p.current if p else None),
            "target": p.target if p else None,
            "after": self.after,
            "ops": [op.describe() for op in p.ops] if p else [],
            "ops_done": list(self.ops_done),
            "method": p.method.value if p and p.method else None,
            "method_reason": p.method_message if p else None,
            "reason": p.reason.value if p else None,
            "decision": p.message if p else None,
            "detail": self.detail,
            "dry_run": self.dry_run,
        }


def request_from_alarm(note: AlarmNotification, cfg: StreamConfig, prefix: str) -> ScaleUpRequest:
    """How many shards the alarm's threshold stood for, when it is one of ours with a known period and threshold."""
    shards: float | None = None
    kind = next((k for k in AlarmKind if note.alarm_name == alarm_name(prefix, note.stream, k)), None)
    if kind is not None and kind is not AlarmKind.WRITE_THROTTLED and note.threshold and note.period:
        shards = shards_for_threshold(kind, note.threshold, note.period, cfg.scale_up_threshold)
    return ScaleUpRequest(note.stream, note.trigger, alarm_shards=shards, source=note.alarm_name)


class ScaleUpService:
    """Scale one stream up, under the cooldown lock, exactly once however many alarms fire together."""

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

    # -- reading and planning (shared by the Lambda path and the operator's dry run) --------------------------------

    def _read_metrics(self, cfg: StreamConfig, shards: list[Shard], shard_level: bool) -> StreamMetrics | None:
        try:
            m = self.metrics.write_metrics(
                cfg.name,
                end=self.clock.now(),
                lookback_seconds=cfg.scale_up_lookback_minutes * 60,
                period_seconds=60,
                shard_ids=[s.shard_id for s in shards] if shard_level else (),
            )
        except (AutoscalerError, OSError) as exc:  # metrics are advice: a failed read means the fallback step
            log.warning("metrics unavailable", extra={"stream": cfg.name, "error": str(exc)})
            return None
        if not m.incoming_bytes.values and not m.incoming_records.values:
            return None  # no evidence at all: the planner takes its fallback step
        return m

    def _usc_calls_24h(self, stream: str, now: float) -> int:
        try:
            state = self.cooldown.read(stream)
        except LockUnavailable as exc:  # planning only: assume none; AWS refusing one is handled by falling back
            log.warning("cooldown table unreadable while planning", extra={"stream": stream, "error": str(exc)})
            return 0
        if state is None:
            return 0
        return sum(1 for t in state.update_shard_count_calls if now - t < DAY_SECONDS)

    def plan(self, request: ScaleUpRequest, *, allow_update_shard_count: bool = True) -> ScalePlan:
        """Read the stream and decide. Changes nothing. Raises StreamNotFound, StreamNotProvisioned."""
        cfg = self._stream_config(request.stream)
        desc = self.kinesis.describe(cfg.name)
        if desc.mode is StreamMode.ON_DEMAND:
            raise StreamNotProvisioned(f"{cfg.name} is in ON_DEMAND mode; switch it to PROVISIONED to autoscale it")
        shards = self.kinesis.list_open_shards(cfg.name)
        if not shards:
            raise StreamNotFound(f"{cfg.name} has no open shards (is it being deleted?)")
        metrics = self._read_metrics(cfg, shards, "IncomingBytes" in desc.shard_level_metrics)
        cont = request.continuation
        inp = PlanInput(
            stream=cfg.name,
            shards=tuple(shards),
            min_shards=cfg.min_shards,
            max_shards=cfg.max_shards,
            trigger=request.trigger,
            metrics=metrics,
            target_utilisation=cfg.target_utilisation,
            fallback_factor=cfg.fallback_scale_up_factor,
            alarm_shards=request.alarm_shards,
            requested_target=cont.target if cont else None,
            origin_count=cont.origin_count if cont else None,
            update_shard_count_calls_24h=self._usc_calls_24h(cfg.name, self.clock.now()),
            update_shard_count_allowed=allow_update_shard_count,
        )
        return plan_scale_up(inp)

    def _stream_config(self, name: str) -> StreamConfig:
        cfg = self.config.stream(name)
        if cfg is None:  # screened earlier; kept as the last line of defence: never reshard an unmanaged stream
            raise ConfigError(f"stream {name!r} is not in {self.config.source}; add it there to manage it")
        return cfg

    def dry_run(self, request: ScaleUpRequest) -> ScaleUpResult:
        plan = self.plan(request)
        return ScaleUpResult(plan.stream, Outcome.DRY_RUN, plan.message, plan=plan, before=plan.current, dry_run=True)

    # -- the action ------------------------------------------------------------------------------------------------

    def scale_up(self, request: ScaleUpRequest, budget: Budget) -> ScaleUpResult:
        """Plan and apply under the lock. Never raises for expected AWS conditions: the result says what happened."""
        cfg = self.config.stream(request.stream)
        if cfg is None:
            return ScaleUpResult(request.stream, Outcome.SKIPPED, f"{request.stream!r} is not in the config")
        if not cfg.enabled:
            return ScaleUpResult(cfg.name, Outcome.SKIPPED, "enabled: false in the config")
        cont = request.continuation
        owner = cont.owner if cont else self.new_owner()
        now = self.clock.now()
        try:
            self.cooldown.acquire(
                cfg.name,
                owner=owner,
                now=now,
                lease_until=now + budget.remaining() + LOCK_LEASE_MARGIN_SECONDS,
                blocked_by=() if cont else (Direction.UP,),
            )
        except CooldownActive as exc:
            return ScaleUpResult(cfg.name, Outcome.SKIPPED, str(exc))
        try:
            return self._locked(cfg, request, owner, budget)
        except BaseException:
            self._release(cfg, owner, scaled=False)  # no cooldown: the next alarm may try again
            raise

    def _release(self, cfg: StreamConfig, owner: str, *, scaled: bool, action: str | None = None) -> None:
        now = self.clock.now()
        cooldowns = {Direction.UP: now + cfg.scale_up_cooldown_seconds} if scaled else {}
        self.cooldown.release(cfg.name, owner=owner, now=now, cooldowns=cooldowns, action=action)

    def _locked(self, cfg: StreamConfig, request: ScaleUpRequest, owner: str, budget: Budget) -> ScaleUpResult:
        cont = request.continuation
        try:
            self.kinesis.wait_until_active(cfg.name, max(0.0, budget.remaining() - CONTINUATION_SAFETY_SECONDS))
            plan = self.plan(request)
        except StreamBusy as exc:
            return self._hand_over(
                cfg, request, owner, plan=None, before=len(self.kinesis.list_open_shards(cfg.name)), why=str(exc)
            )
        except (StreamNotFound, StreamNotProvisioned) as exc:
            self._release(cfg, owner, scaled=False)
            return ScaleUpResult(cfg.name, Outcome.SKIPPED, str(exc))

        before = plan.current if cont is None else cont.origin_count
        log.info(
            "scale-up decision",
            extra={
                "stream": cfg.name,
                "current": plan.current,
                "target": plan.target,
                "ops": [o.describe() for o in plan.ops],
                "reason": plan.reason.value,
                "decision": plan.message,
                "dry_run": False,
            },
        )
        if plan.noop:
            synced = self._sync_alarms(cfg, plan.current, force_ok=cont is not None)
            self._release(cfg, owner, scaled=cont is not None, action=f"scale-up to {plan.current}" if cont else None)
            detail = plan.message + (f"; alarms retuned: {', '.join(synced)}" if synced else "")
            outcome = Outcome.SCALED if cont is not None else Outcome.NOOP
            return ScaleUpResult(cfg.name, outcome, detail, plan=plan, before=before, after=plan.current)

        done: list[str] = []
        pending: list[Op] = list(plan.ops)
        error: str | None = None
        setbacks = 0  # ResourceInUse before a call, or a re-plan: bounded so a stuck stream cannot spin a run
        while pending:
            if budget.remaining() < CONTINUATION_SAFETY_SECONDS:
                return self._hand_over(
                    cfg, request, owner, plan=plan, before=before, why="invocation time running short", done=done
                )
            if setbacks > MAX_SETBACKS:
                error = f"stopped after {setbacks} setbacks (ResourceInUse or shards changing under us)"
                break
            op = pending.pop(0)
            applied = False
            try:
                if isinstance(op, UpdateShardCountOp):
                    self.kinesis.update_shard_count(cfg.name, op.target)
                    self.cooldown.note_update_shard_count(cfg.name, owner=owner, at=self.clock.now())
                else:
                    current = self.kinesis.list_open_shards(cfg.name)
                    if len(current) >= plan.target:
                        break
                    parent = _find_range(current, op)
                    if parent is None:  # someone else resharded meanwhile: re-plan the rest from what is there
                        replanned = self.plan(_continuing(request, plan, owner))
                        pending = list(replanned.ops)
                        continue
                    self.kinesis.split_shard(cfg.name, parent.shard_id, op.new_starting_hash_key)
                applied = True
                done.append(op.describe())
                self.kinesis.wait_until_active(cfg.name, max(0.0, budget.remaining() - CONTINUATION_SAFETY_SECONDS))
            except UpdateShardCountLimit as exc:
                log.warning(
                    "UpdateShardCount refused; splitting instead", extra={"stream": cfg.name, "error": str(exc)}
                )
                replanned = self.plan(_continuing(request, plan, owner), allow_update_shard_count=False)
                pending = list(replanned.ops)
            except InvalidRequest as exc:  # the parent closed between our read and the call: re-plan from what is there
                log.warning("split refused; re-planning", extra={"stream": cfg.name, "error": str(exc)})
                setbacks += 1
                replanned = self.plan(_continuing(request, plan, owner))
                pending = list(replanned.ops)
            except StreamBusy as exc:
                if applied:  # our own operation is still UPDATING past the time we may wait: continue later
                    return self._hand_over(cfg, request, owner, plan=plan, before=before, why=str(exc), done=done)
                # ResourceInUse on the call (another reshard under way): wait for ACTIVE, then try the same op again.
                setbacks += 1
                try:
                    self.kinesis.wait_until_active(cfg.name, max(0.0, budget.remaining() - CONTINUATION_SAFETY_SECONDS))
                except StreamBusy as still:
                    return self._hand_over(cfg, request, owner, plan=plan, before=before, why=str(still), done=done)
                pending.insert(0, op)
            except ThrottledError as exc:
                # The adapter already retried with backoff; hand over rather than spin here.
                return self._hand_over(cfg, request, owner, plan=plan, before=before, why=str(exc), done=done)
            except QuotaExhausted as exc:
                error = f"stopped: {exc}"
                break
            except StreamNotFound as exc:
                self._release(cfg, owner, scaled=False)
                return ScaleUpResult(
                    cfg.name,
                    Outcome.FAILED,
                    f"stream vanished mid-sequence: {exc}",
                    plan=plan,
                    before=before,
                    ops_done=tuple(done),
                )

        after = len(self.kinesis.list_open_shards(cfg.name))
        synced = self._sync_alarms(cfg, after, force_ok=True)
        self._release(cfg, owner, scaled=bool(done) or cont is not None, action=f"scale-up {before} -> {after}")
        detail = f"{before} -> {after} shards; alarms retuned: {', '.join(synced) or 'none found'}"
        if error:
            return ScaleUpResult(
                cfg.name,
                Outcome.FAILED,
                f"{error}; {detail}",
                plan=plan,
                before=before,
                after=after,
                ops_done=tuple(done),
            )
        return ScaleUpResult(
            cfg.name, Outcome.SCALED, detail, plan=plan, before=before, after=after, ops_done=tuple(done)
        )

    def _hand_over(
        self,
        cfg: StreamConfig,
        request: ScaleUpRequest,
        owner: str,
        *,
        plan: ScalePlan | None,
        before: int,
        why: str,
        done: list[str] | None = None,
    ) -> ScaleUpResult:
        """Continue in a new invocation that keeps the lock (same owner), or stop at the hop limit."""
        cont = request.continuation
        hop = (cont.hop if cont else 0) + 1
        target = plan.target if plan is not None else (cont.target if cont else None)
        if target is None or hop > MAX_CONTINUATION_HOPS:
            self._release(cfg, owner, scaled=bool(done))
            return ScaleUpResult(
                cfg.name,
                Outcome.FAILED,
                f"{why}; hop limit {MAX_CONTINUATION_HOPS} reached or no target: giving up, the lock is released",
                plan=plan,
                before=before,
                ops_done=tuple(done or ()),
            )
        nxt = ContinuationRequest(cfg.name, target, cont.origin_count if cont else before, hop, owner)
        self.continuation.continue_later(nxt)
        return ScaleUpResult(
            cfg.name,
            Outcome.CONTINUED,
            f"{why}; continuing in hop {hop} towards {target}",
            plan=plan,
            before=before,
            ops_done=tuple(done or ()),
            extra={"hop": hop},
        )

    def _sync_alarms(self, cfg: StreamConfig, shards: int, *, force_ok: bool) -> list[str]:
        """Retune the stream's alarms to N shards (each at its own period) and reset them to OK.

        Only alarms whose threshold changes are re-put; `force_ok` resets all of them so the next breach fires.
        Returns the names of the alarms touched. A missing alarm is logged, not created (create-streams owns that).
        """
        prefix = self.config.alarm_name_prefix
        names = [alarm_name(prefix, cfg.name, k) for k in AlarmKind]
        existing = self.alarms.get_alarms(names)
        for name in names:
            if name not in existing:
                log.warning(
                    "alarm missing; run create-streams to restore it", extra={"stream": cfg.name, "alarm": name}
                )
        changes: dict[str, float] = {}
        for name, info in existing.items():
            kind = next(k for k in AlarmKind if alarm_name(prefix, cfg.name, k) == name)
            want = alarm_threshold(kind, shards, info.period_seconds, cfg.scale_up_threshold)
            if abs(want - info.threshold) > 1e-6 * max(1.0, want):
                changes[name] = want
        if changes:
            self.alarms.put_thresholds(changes)
        touched = sorted(existing) if force_ok or changes else []
        if touched:
            self.alarms.set_ok(touched, f"kinesis-autoscaler: thresholds set for {shards} shards")
        return touched


def _find_range(shards: list[Shard], op: SplitOp) -> Shard | None:
    for s in shards:
        if s.start == op.parent_start and s.end == op.parent_end:
            return s
    return None


def _continuing(request: ScaleUpRequest, plan: ScalePlan, owner: str) -> ScaleUpRequest:
    """A request that re-plans towards the same target from whatever the stream looks like now."""
    origin = request.continuation.origin_count if request.continuation else plan.current
    cont = ContinuationRequest(
        plan.stream, plan.target, origin, request.continuation.hop if request.continuation else 0, owner
    )
    return replace(request, continuation=cont)
