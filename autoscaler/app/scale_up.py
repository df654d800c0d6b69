"""Use cases: read state through the ports, plan, take the cooldown lock, apply, retune alarms, release.

Never builds a client, never reads os.environ, never reads the wall clock directly (Clock and Budget are ports).
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from autoscaler.app.alarm_sync import rearm
from autoscaler.app.lifecycle import StreamRun, StreamUseCase, update_shard_count_calls_24h
from autoscaler.app.ports import (
    Budget,
)
from autoscaler.config import StreamConfig
from autoscaler.core.capacity import AlarmKind, alarm_stream, kind_of_alarm, shards_for_threshold
from autoscaler.core.defaults import MAX_CONTINUATION_HOPS, METRIC_DELAY_SECONDS
from autoscaler.core.errors import (
    AutoscalerError,
    ConfigError,
    CooldownActive,
    InvalidRequest,
    LockHeld,
    LockUnavailable,
    QuotaExhausted,
    StreamBusy,
    StreamNotFound,
    StreamNotProvisioned,
    ThrottledError,
    UpdateShardCountLimit,
)
from autoscaler.core.limits import INCOMING_BYTES
from autoscaler.core.model import (
    Direction,
    Op,
    ReadMetrics,
    Shard,
    SplitOp,
    StreamMetrics,
    StreamMode,
    TriggerKind,
    UpdateShardCountOp,
)
from autoscaler.core.scale_up import HOT_SHARD_METHOD, PlanInput, ScalePlan, ScaleUpReason, plan_scale_up
from autoscaler.events import AlarmNotification, Continuation, HandOver

log = logging.getLogger("autoscaler.service")

WRITE_SCALED = (AlarmKind.INCOMING_BYTES, AlarmKind.INCOMING_RECORDS)
# no-ops that answer a read alarm with a report (the consumer's side): their alarm is left in ALARM (sync_alarms)
REPORTS = frozenset(
    {ScaleUpReason.READ_CALLS, ScaleUpReason.CONSUMER_LAG, ScaleUpReason.READ_BURSTS, ScaleUpReason.CATCHING_UP}
)

MAX_SETBACKS = 5


class Outcome(enum.StrEnum):
    SCALED = "scaled"  # the target was reached; alarms retuned; cooldown set
    NOOP = "noop"  # nothing to do (at max, already at target)
    SKIPPED = "skipped"  # refused before planning: cooldown, lock held, disabled, on-demand, unknown stream
    CONTINUED = "continued"  # handed over to a new invocation with the rest of the work
    DRY_RUN = "dry_run"  # planned only; nothing changed
    FAILED = "failed"  # stopped by an error; what was done is reported


class ScaleUpRequest(NamedTuple):
    stream: str
    trigger: TriggerKind
    alarm_shards: float | None = None
    continuation: Continuation | None = None  # a scale-up continuation: one stream's hand-over
    source: str = ""  # alarm name, "continuation", "cli"
    target: int | None = None  # an operator's explicit target (`scale --to N`): not blocked by a cooldown
    operator_reason: str = ""

    @property
    def handover(self) -> HandOver | None:
        return self.continuation.handovers[0] if self.continuation else None

    @property
    def hop(self) -> int:
        return self.continuation.hop if self.continuation else 0


class ScaleUpResult(NamedTuple):
    stream: str
    outcome: Outcome
    detail: str
    plan: ScalePlan | None = None
    before: int | None = None
    after: int | None = None
    ops_done: tuple[str, ...] = ()
    dry_run: bool = False
    extra: Mapping[str, Any] | None = None  # e.g. the continuation hop
    skip_reason: str = ""  # SKIPPED only: unmanaged, disabled, lock-held, cooldown, not-found (a metric dimension)

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
            "operations": [op.as_dict() for op in p.ops] if p else [],
            "ops_done": list(self.ops_done),
            "method": p.method.value if p and p.method else None,
            "method_reason": p.method_message if p else None,
            "reason": p.reason.value if p else None,
            "decision": p.decision if p else None,
            "limit": p.limit.value if p else None,
            "detail": self.detail,
            "dry_run": self.dry_run,
            "skip_reason": self.skip_reason or None,
        }


def refusal_code(exc: CooldownActive) -> str:
    """The skip_reason of a lock refusal, the same for the run and its prediction."""
    return "lock-held" if isinstance(exc, LockHeld) else "cooldown"


def request_from_alarm(note: AlarmNotification, cfg: StreamConfig, prefix: str) -> ScaleUpRequest:
    """How many shards the alarm's threshold stood for, when it is one of ours with a known period and threshold."""
    shards: float | None = None
    kind = kind_of_alarm(prefix, note.stream, note.alarm_name)
    # a write alarm's count only: the write planner's "already scaled" test reads it (the read side judges its own)
    if kind in WRITE_SCALED and note.trigger is not TriggerKind.READ and note.threshold and note.period:
        shards = shards_for_threshold(kind, note.threshold, note.period, cfg.scale_up_threshold)
        if not math.isfinite(shards):  # advice only: an unknowable count is no count
            shards = None
    return ScaleUpRequest(note.stream, note.trigger, alarm_shards=shards, source=note.alarm_name)


class ScaleUpService(StreamUseCase):
    """Scale one stream up, under the cooldown lock, exactly once however many alarms fire together."""

    direction = Direction.UP

    # -- reading and planning (shared by the Lambda path and the operator's dry run) --------------------------------

    def _read_metrics(
        self, cfg: StreamConfig, shards: list[Shard], shard_level: bool, trigger: TriggerKind
    ) -> tuple[StreamMetrics | None, ReadMetrics | None]:
        """The write metrics (None: no write datapoint, or unreadable) and, with read_side, the read metrics."""
        lookback = cfg.scale_up_lookback_minutes * 60
        if trigger in (TriggerKind.THROTTLE, TriggerKind.READ):
            # The refused write that fired the alarm lies somewhere in the alarm's own window: read at least that
            # (plus CloudWatch's publication delay), or a short lookback would miss the evidence (no_evidence) and a
            # hot shard that trips no utilisation alarm would never be split.
            lookback = max(lookback, cfg.alarm_period_seconds * cfg.alarm_evaluation_periods + METRIC_DELAY_SECONDS)
        try:
            m = self.metrics.write_metrics(
                cfg.name,
                end=self.clock.now(),
                lookback_seconds=lookback,
                period_seconds=60,
                shard_ids=[s.shard_id for s in shards] if shard_level else (),
                read=cfg.read_side,
            )
        except (AutoscalerError, OSError) as exc:  # metrics are advice: a failed read means the fallback step
            log.warning("metrics unavailable", extra={"stream": cfg.name, "error": str(exc)})
            return None, None
        read = m.read
        if read is not None and not any(series.values for series in read):
            read = None  # no read datapoint at all: no reader, or CloudWatch lags
        if not m.incoming_bytes.values and not m.incoming_records.values:
            return None, read  # no write evidence: the planner takes its fallback step (or judges the reads)
        return m, read

    def plan(self, request: ScaleUpRequest, *, allow_update_shard_count: bool = True) -> ScalePlan:
        """Read the stream and decide. Changes nothing. Raises StreamNotFound, StreamNotProvisioned."""
        cfg = self._stream_config(request.stream)
        desc = self.kinesis.describe(cfg.name)
        if desc.mode is StreamMode.ON_DEMAND:
            raise StreamNotProvisioned(f"{cfg.name} is in ON_DEMAND mode; switch it to PROVISIONED to autoscale it")
        shards = self.kinesis.list_open_shards(cfg.name)
        if not shards:
            raise StreamNotFound(f"{cfg.name} has no open shards (is it being deleted?)")
        metrics, read = self._read_metrics(cfg, shards, INCOMING_BYTES in desc.shard_level_metrics, request.trigger)
        cont = request.handover
        now = self.clock.now()
        inp = PlanInput(
            stream=cfg.name,
            shards=tuple(shards),
            min_shards=cfg.min_shards,
            max_shards=cfg.max_shards,
            trigger=request.trigger,
            metrics=metrics,
            headroom=cfg.headroom,
            rise_periods=cfg.rise_lookahead_periods,
            fallback_factor=cfg.fallback_scale_up_factor,
            alarm_shards=request.alarm_shards,
            requested_target=cont.target if cont else None,
            operator_target=request.target if cont is None else None,
            operator_reason=request.operator_reason,
            read_metrics=read,
            read_consumers=cfg.read_consumers if cfg.read_side else 0,
            max_iterator_age_ms=cfg.max_iterator_age_seconds * 1000,
            read_threshold=cfg.scale_up_threshold,
            requested_method=cont.method if cont else "",
            origin_count=cont.origin_count if cont else None,
            # planning only: an unreadable table counts none; AWS refusing a call is handled by splitting instead
            update_shard_count_calls_24h=update_shard_count_calls_24h(self.cooldown, cfg.name, now) or 0,
            update_shard_count_allowed=allow_update_shard_count,
        )
        return plan_scale_up(inp)

    def _stream_config(self, name: str) -> StreamConfig:
        cfg = self.config.stream(name)
        if cfg is None:  # screened earlier; kept as the last line of defence: never reshard an unmanaged stream
            raise ConfigError(f"stream {name!r} is not in {self.config.source}; add it there to manage it")
        return cfg

    @staticmethod
    def blocked_by(request: ScaleUpRequest) -> tuple[Direction, ...]:
        """The cooldowns that refuse the request: the up cooldown, except for an operator's explicit target (an
        incident's decision, taken by a person; a held lock still refuses it and the cooldown is set after)."""
        return () if request.target is not None else (Direction.UP,)

    def dry_run(self, request: ScaleUpRequest) -> ScaleUpResult:
        """What `scale_up` would do now, read-only: refused (disabled, cooldown, lock held, on-demand) in the order
        the run checks, with the same skip_reason, or the plan. A refused prediction still carries the plan, for
        when the refusal lifts."""
        cfg = self.config.stream(request.stream)
        if cfg is None:
            why = f"would be skipped: {request.stream!r} is not in the config"
            return ScaleUpResult(request.stream, Outcome.SKIPPED, why, dry_run=True, skip_reason="unmanaged")
        if not cfg.enabled:
            why = "would be skipped: enabled: false in the config"
            return ScaleUpResult(cfg.name, Outcome.SKIPPED, why, dry_run=True, skip_reason="disabled")
        refused = self.would_refuse(cfg.name, self.blocked_by(request))
        try:
            plan = self.plan(request)
        except StreamNotProvisioned as exc:
            if refused is None:
                return ScaleUpResult(
                    cfg.name, Outcome.SKIPPED, f"would be skipped: {exc}", dry_run=True, skip_reason="on-demand"
                )
            plan = None
        if refused is not None:
            code = "lock-unavailable" if isinstance(refused, LockUnavailable) else refusal_code(refused)
            return ScaleUpResult(
                cfg.name,
                Outcome.SKIPPED,
                f"would be skipped: {refused}",
                plan=plan,
                before=plan.current if plan else None,
                dry_run=True,
                skip_reason=code,
            )
        assert plan is not None
        return ScaleUpResult(plan.stream, Outcome.DRY_RUN, plan.decision, plan=plan, before=plan.current, dry_run=True)

    # -- the action ------------------------------------------------------------------------------------------------

    def scale_up(self, request: ScaleUpRequest, budget: Budget) -> ScaleUpResult:
        """Plan and apply under the lock (one StreamRun). Never raises for expected AWS conditions: the result says
        what happened.

        Raises only when it could not act and a retry of the same event may succeed (the lock table is down, an
        unclassified AWS error): the handler then lets Lambda retry the event. Whatever was applied before an
        error is finished first: alarms retuned to the open count, cooldown set, lock released.
        """
        cfg = self.config.stream(request.stream)
        if cfg is None:
            return ScaleUpResult(
                request.stream, Outcome.SKIPPED, f"{request.stream!r} is not in the config", skip_reason="unmanaged"
            )
        handover = request.handover
        run = self.start(cfg, budget, handover)
        if not cfg.enabled:
            if handover is not None:  # disabled by a redeploy since the hand-over: stop there and clean up
                return self._abandon(run, handover)
            return ScaleUpResult(cfg.name, Outcome.SKIPPED, "enabled: false in the config", skip_reason="disabled")
        if run.time_short():
            why = "invocation time running short before the lock was taken"
            if handover is not None:  # not taken over yet: hand the same chain on
                return self._send(run, request, run.pass_on(handover.target, handover.method), None, why=why)
            return ScaleUpResult(cfg.name, Outcome.SKIPPED, why + self._rearm(run, request), skip_reason="time-short")
        try:
            run.acquire(self.blocked_by(request))
        except LockHeld as exc:
            # The holder may be dead (a crash, a lost hand-over): its lease lapses, but CloudWatch notifies only on a
            # transition into ALARM. Re-armed, the alarm fires again while the breach lasts, and the first delivery
            # after the lease finds the lock free. A live holder resets it at its release anyway.
            return ScaleUpResult(
                cfg.name, Outcome.SKIPPED, str(exc) + self._rearm(run, request), skip_reason=refusal_code(exc)
            )
        except CooldownActive as exc:
            return ScaleUpResult(
                cfg.name, Outcome.SKIPPED, str(exc) + self._rearm(run, request), skip_reason=refusal_code(exc)
            )
        try:
            return self._locked(run, request)
        except BaseException:
            run.finish_after_error()
            raise

    def _abandon(self, run: StreamRun, handover: HandOver) -> ScaleUpResult:
        """Take a handed-on lock over only to finish what was applied: alarms for the open count, cooldown, release.

        Without this the lock would sit until its lease lapsed and the alarms would keep the thresholds of the count
        the hand-over started from. Raises LockUnavailable (the handler retries the event).
        """
        finished = run.abandon()
        if finished is None:
            why = "enabled: false since the hand-over; its lock had already moved on"
            return ScaleUpResult(run.stream, Outcome.SKIPPED, why, skip_reason="disabled")
        detail = (
            f"enabled: false since the hand-over: stopped at {finished.after} shards (from {run.before}, "
            f"target was {handover.target}); alarms retuned: {', '.join(finished.alarms) or 'none found'}; "
            "lock released"
        )
        return ScaleUpResult(
            run.stream, Outcome.SKIPPED, detail, before=run.before, after=finished.after, skip_reason="disabled"
        )

    def _rearm(self, run: StreamRun, request: ScaleUpRequest) -> str:
        """After refusing a fresh alarm without resharding, set that alarm back to OK (best effort).

        Alarm actions fire only on a transition into ALARM: an alarm left in ALARM would never notify again, even
        if the breach outlasts the cooldown. Back in OK, CloudWatch re-evaluates it within a period and fires again
        while the breach lasts — each time a new chance once the cooldown is over.
        """
        prefix = self.config.alarm_name_prefix
        # any alarm the function may re-arm (IAM: <prefix>/*) of this stream: its own three or an operator's
        if request.continuation is not None or alarm_stream(prefix, request.source) != run.stream:
            return ""
        try:
            rearm(self.alarms, [request.source], "a scale-up was refused without resharding")
        except (AutoscalerError, OSError) as exc:
            log.warning(
                "could not re-arm alarm", extra={"stream": run.stream, "alarm": request.source, "error": str(exc)}
            )
            return ""
        return f"; re-armed {request.source} so a breach that lasts fires again"

    def _locked(self, run: StreamRun, request: ScaleUpRequest) -> ScaleUpResult:
        cfg = run.cfg
        taken_over = request.continuation is not None
        try:
            run.wait_until_active()
            plan = self.plan(request)
        except StreamBusy as exc:
            return self._hand_over(run, request, None, why=str(exc))
        except (StreamNotFound, StreamNotProvisioned) as exc:
            run.let_go()
            reason = "on-demand" if isinstance(exc, StreamNotProvisioned) else "not-found"
            return ScaleUpResult(cfg.name, Outcome.SKIPPED, str(exc), skip_reason=reason)
        if not taken_over:
            run.before = plan.current
        log.info(
            "scale-up decision",
            extra={
                "stream": cfg.name,
                "current": plan.current,
                "target": plan.target,
                "ops": [o.describe() for o in plan.ops],
                "reason": plan.reason.value,
                "decision": plan.decision,
                "limit": plan.limit.value,
                "dry_run": False,
            },
        )
        if plan.noop:
            if plan.reason in REPORTS:  # a report, not a capacity question: the cause outlasts any minute
                run.leave_in_alarm = (request.source,)
            finished = run.finish()
            detail = plan.decision + (f"; alarms retuned: {', '.join(finished.alarms)}" if finished.alarms else "")
            outcome = Outcome.SCALED if taken_over else Outcome.NOOP
            return ScaleUpResult(cfg.name, outcome, detail, plan=plan, before=run.before, after=plan.current)

        error = self._apply(run, request, plan)
        if isinstance(error, ScaleUpResult):
            return error
        finished = run.finish()
        detail = (
            f"{run.before} -> {finished.after} shards; alarms retuned: {', '.join(finished.alarms) or 'none found'}"
        )
        return ScaleUpResult(
            cfg.name,
            Outcome.FAILED if error else Outcome.SCALED,
            f"{error}; {detail}" if error else detail,
            plan=plan,
            before=run.before,
            after=finished.after,
            ops_done=tuple(run.done),
        )

    def _apply(self, run: StreamRun, request: ScaleUpRequest, plan: ScalePlan) -> str | ScaleUpResult | None:
        """Apply the plan's operations one at a time, waiting for ACTIVE after each.

        Returns None when the target is reached, an error text when it stopped for good (quota, setbacks), or a
        finished result when it handed over to a continuation or the stream vanished.
        """
        cfg = run.cfg
        pending: list[Op] = list(plan.ops)
        setbacks = 0  # ResourceInUse before a call, or a re-plan: bounded so a stuck stream cannot spin a run

        def replan(**kw: bool) -> list[Op]:
            return list(self.plan(_continuing(request, plan, run), **kw).ops)

        while pending:
            if run.time_short():
                return self._hand_over(run, request, plan, why="invocation time running short")
            if setbacks > MAX_SETBACKS:
                return f"stopped after {setbacks} setbacks (ResourceInUse or shards changing under us)"
            op = pending.pop(0)
            applied = False
            try:
                if isinstance(op, UpdateShardCountOp):
                    run.reassert()
                    self.kinesis.update_shard_count(cfg.name, op.target)
                    applied = True
                    run.applied(op.describe(), update_shard_count=True)
                else:
                    current = self.kinesis.list_open_shards(cfg.name)
                    if len(current) >= plan.target:
                        return None
                    parent = _find_range(current, op)
                    if parent is None:  # someone else resharded meanwhile: re-plan the rest from what is there
                        setbacks += 1
                        pending = replan()
                        continue
                    run.reassert()
                    self.kinesis.split_shard(cfg.name, parent.shard_id, op.new_starting_hash_key)
                    applied = True
                    run.applied(op.describe())
                run.wait_until_active()
            except LockHeld as exc:  # outlived its lease and another run took the lock: that run finishes
                return ScaleUpResult(
                    cfg.name,
                    Outcome.FAILED,
                    f"{exc}; stopped before {op.describe()}, the stream and the lock left to their holder",
                    plan=plan,
                    before=run.before,
                    ops_done=tuple(run.done),
                )
            except (UpdateShardCountLimit, QuotaExhausted) as exc:
                if not isinstance(op, UpdateShardCountOp):
                    return f"stopped: {exc}"  # a split hit the account's shard quota: final
                # UpdateShardCount refused (24 h call limit, its range rule, or its temporary shards over the
                # quota): splits may still get some or all of the way.
                log.warning("UpdateShardCount refused; splitting", extra={"stream": cfg.name, "error": str(exc)})
                pending = replan(allow_update_shard_count=False)
            except InvalidRequest as exc:  # the parent closed between our read and the call: re-plan from what is there
                log.warning("split refused; re-planning", extra={"stream": cfg.name, "error": str(exc)})
                setbacks += 1
                pending = replan()
            except StreamBusy as exc:
                if applied:  # our own operation is still UPDATING past the time we may wait: continue later
                    return self._hand_over(run, request, plan, why=str(exc))
                # ResourceInUse on the call (another reshard under way): wait for ACTIVE, then try the same op again.
                setbacks += 1
                try:
                    run.wait_until_active()
                except StreamBusy as still:
                    return self._hand_over(run, request, plan, why=str(still))
                pending.insert(0, op)
            except ThrottledError as exc:
                # The adapter already retried with backoff; hand over rather than spin here.
                return self._hand_over(run, request, plan, why=str(exc))
            except StreamNotFound as exc:
                run.let_go()
                return ScaleUpResult(
                    cfg.name,
                    Outcome.FAILED,
                    f"stream vanished mid-sequence: {exc}",
                    plan=plan,
                    before=run.before,
                    ops_done=tuple(run.done),
                )
        return None

    def _hand_over(self, run: StreamRun, request: ScaleUpRequest, plan: ScalePlan | None, *, why: str) -> ScaleUpResult:
        """Continue in a new invocation that takes the lock over from this one, or stop (no target yet, the hop
        limit, the hand-over itself failing) — finishing what was done: alarms for the open count, cooldown, release."""
        handover = request.handover
        target = plan.target if plan is not None else (handover.target if handover else None)
        if target is None:
            return self._stop(run, request, plan, f"{why}; nothing planned yet: giving up, the lock is released")
        return self._send(run, request, run.handover(target, _method(request, plan)), plan, why=why)

    def _send(
        self, run: StreamRun, request: ScaleUpRequest, handover: HandOver, plan: ScalePlan | None, *, why: str
    ) -> ScaleUpResult:
        hop = request.hop + 1
        if hop > MAX_CONTINUATION_HOPS:
            stop = f"{why}; hop limit {MAX_CONTINUATION_HOPS} reached: giving up, the lock is released"
            return self._stop(run, request, plan, stop)
        try:
            self.continuation.continue_later(Continuation(Direction.UP, hop, (handover,)))
        except (AutoscalerError, OSError) as exc:
            return self._stop(run, request, plan, f"{why}; the hand-over failed ({exc}): stopping here")
        return ScaleUpResult(
            run.stream,
            Outcome.CONTINUED,
            f"{why}; continuing in hop {hop} towards {handover.target}",
            plan=plan,
            before=run.before,
            ops_done=tuple(run.done),
            extra={"hop": hop},
        )

    def _stop(self, run: StreamRun, request: ScaleUpRequest, plan: ScalePlan | None, stop: str) -> ScaleUpResult:
        """Give up on the chain here: finish what it holds (a chain not taken over yet is ended by taking it over)."""
        after = None
        if run.held:
            after = run.finish().after
        elif run.taken_over_from is not None:
            finished = run.abandon()
            after = finished.after if finished else None
        if not run.acted:
            stop += self._rearm(run, request)
        return ScaleUpResult(
            run.stream, Outcome.FAILED, stop, plan=plan, before=run.before, after=after, ops_done=tuple(run.done)
        )


def _find_range(shards: list[Shard], op: SplitOp) -> Shard | None:
    for s in shards:
        if s.start == op.parent_start and s.end == op.parent_end:
            return s
    return None


def _method(request: ScaleUpRequest, plan: ScalePlan | None) -> str:
    """The method a re-plan keeps: a plan that cut hot shards goes on cutting them (issue 12 section 2)."""
    if plan is not None and plan.reason is ScaleUpReason.HOT_SHARD:
        return HOT_SHARD_METHOD
    return request.handover.method if request.handover else ""


def _continuing(request: ScaleUpRequest, plan: ScalePlan, run: StreamRun) -> ScaleUpRequest:
    """A request that re-plans towards the same target, by the same method, from whatever the stream is now."""
    handover = HandOver(plan.stream, plan.target, run.owner, run.before or plan.current, _method(request, plan))
    return request._replace(continuation=Continuation(Direction.UP, request.hop, (handover,)))
