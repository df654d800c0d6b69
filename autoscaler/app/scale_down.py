"""The scale-down use case for the whole fleet: evaluate every managed stream in a few batched reads, then merge
the quiet ones — concurrently across streams, one merge at a time within a stream — under the cooldown lock.

Never builds a client, never reads os.environ; time comes from the Clock and Budget ports.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

from autoscaler.app.lifecycle import StreamRun, StreamUseCase, update_shard_count_calls_24h
from autoscaler.app.ports import (
    Budget,
)
from autoscaler.config import StreamConfig
from autoscaler.core.defaults import (
    MAX_CONTINUATION_HOPS,
    SCALE_DOWN_PERIOD_SECONDS,
    SCALE_DOWN_WINDOW_LAG_SECONDS,
    SPLIT_SECONDS_ESTIMATE,
    UPDATE_SHARD_COUNT_SECONDS_ESTIMATE,
    USC_RESERVED_FOR_SCALE_UP,
)
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
)
from autoscaler.core.limits import (
    INCOMING_BYTES,
    INCOMING_RECORDS,
    ITERATOR_AGE,
    READ_BYTES,
    READ_THROTTLED,
    UPDATE_SHARD_COUNT_CALLS_PER_24H,
    WRITE_METRICS,
    WRITE_THROTTLED,
)
from autoscaler.core.model import Direction, OpKind, Shard, StreamMode
from autoscaler.core.scale_down import (
    ScaleDownDecision,
    ScaleDownInput,
    ScaleDownReason,
    decide_scale_down,
    fleet_lagging,
    next_merge,
    operator_scale_down,
)
from autoscaler.events import Continuation, HandOver

log = logging.getLogger("autoscaler.scale_down")

MERGE_WORKERS = 4  # streams merged at once; their MergeShards calls share the adapter's account-wide rate limit
READ_WORKERS = 8  # parallel ListShards during evaluation
MAX_SETBACKS = 5


class StreamOutcome(enum.StrEnum):
    MERGED = "merged"  # reached the target; alarms retuned; cooldown set
    KEPT = "kept"  # the decision was to keep the count (busy, peak too high, at min, …)
    SKIPPED = "skipped"  # not evaluated or not acted on: disabled, on-demand, cooldown, lock held, not found
    HANDED_ON = "handed_on"  # left for the continuation (time ran short)
    FAILED = "failed"
    DRY_RUN = "dry_run"


class StreamResult(NamedTuple):
    stream: str
    outcome: StreamOutcome
    decision: ScaleDownDecision | None
    detail: str
    after: int | None = None
    merges_done: tuple[str, ...] = ()
    dry_run: bool = False  # a prediction (plan, --dry-run), whatever its outcome

    def log_fields(self) -> dict[str, Any]:
        d = self.decision
        return {
            "stream": self.stream,
            "outcome": self.outcome.value,
            "current": d.current if d else None,
            "target": d.target if d else None,
            "after": self.after,
            "ops": [m.describe() for m in d.merges] if d else [],
            "operations": [m.as_dict() for m in d.merges] if d else [],
            "ops_done": list(self.merges_done),
            "reason": d.reason.value if d else None,
            "decision": d.message if d else None,
            "peak_utilisation": round(d.peak, 4) if d and d.peak is not None else None,
            "mean_utilisation": round(d.mean, 4) if d and d.mean is not None else None,
            "detail": self.detail,
            "dry_run": self.dry_run or self.outcome is StreamOutcome.DRY_RUN,
        }


class Evaluation(NamedTuple):
    settled: list[StreamResult]  # kept or skipped, with their reasons
    candidates: list[tuple[StreamConfig, ScaleDownDecision]]  # to merge
    metric_reads: int  # batched fleet_series reads made


class FleetResult(NamedTuple):
    results: tuple[StreamResult, ...]
    continuation: Continuation | None  # what was handed on, if anything
    metric_reads: int  # fleet_series calls made by this run


@dataclass
class _Work:
    """One stream's merges in this invocation: the decision and the run that carries it out under the lock."""

    run: StreamRun
    decision: ScaleDownDecision
    ending: str = ""  # why the chain is ended instead of continued (its stream disabled since the hand-over)
    blocked_by: tuple[Direction, ...] = (Direction.UP, Direction.DOWN)  # an operator's target: none

    @property
    def cfg(self) -> StreamConfig:
        return self.run.cfg

    @property
    def done(self) -> list[str]:
        return self.run.done


class ScaleDownService(StreamUseCase):
    """The fleet's scale-down: evaluate every managed stream, merge the quiet ones, each under its lock."""

    direction = Direction.DOWN

    def __init__(self, *, workers: int = MERGE_WORKERS, **ports: Any) -> None:
        super().__init__(**ports)
        self.workers = workers

    # -- evaluation (the dry run and the first half of a run) -------------------------------------------------------

    def window(self) -> tuple[int, int, int]:
        """(end, settled_end, period): the lookback ends with the period now under way (aligned up to the 5-minute
        period, so a burst minutes ago is seen); periods before settled_end, SCALE_DOWN_WINDOW_LAG_SECONDS ago,
        should be complete (CloudWatch publishes with a delay) and are the ones checked for gaps."""
        period = SCALE_DOWN_PERIOD_SECONDS
        now = self.clock.now()
        end = -(-int(now) // period) * period
        settled = int(now - SCALE_DOWN_WINDOW_LAG_SECONDS) // period * period
        return end, settled, period

    def evaluate(self, names: Sequence[str]) -> Evaluation:
        """Decide for every named stream. Returns the streams settled without acting (kept, skipped) and the
        candidates to merge. Reads: one ListShards per stream, the write series of all streams batched, the
        throttle series of the candidates batched, one DescribeStreamSummary per candidate."""
        settled: list[StreamResult] = []
        shards: dict[str, list[Shard]] = {}
        cfgs: list[StreamConfig] = []
        wanted: list[StreamConfig] = []
        for name in names:
            cfg = self.config.stream(name)
            if cfg is None:
                settled.append(StreamResult(name, StreamOutcome.SKIPPED, None, "not in the config: never resharded"))
            elif not cfg.enabled:
                settled.append(_skip(cfg, ScaleDownReason.DISABLED, "enabled: false in the config"))
            else:
                wanted.append(cfg)

        def list_one(cfg: StreamConfig) -> list[Shard] | AutoscalerError:
            try:
                return self.kinesis.list_open_shards(cfg.name)
            except AutoscalerError as exc:  # not found, busy, denied, throttled: this stream only
                return exc

        # ListShards allows 1,000 TPS per stream: reading streams in parallel hides the round trips (2,000 streams
        # one after another would spend a minute on latency alone).
        with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
            for cfg, listed in zip(wanted, pool.map(list_one, wanted), strict=True):
                if isinstance(listed, AutoscalerError):
                    settled.append(_skip(cfg, ScaleDownReason.NOT_FOUND, f"cannot list its shards: {listed}"))
                else:
                    shards[cfg.name] = listed
                    cfgs.append(cfg)
        end, settled_end, period = self.window()
        reads = 0
        lookbacks = {c.scale_down_lookback_hours for c in cfgs}
        series: dict[str, dict[str, dict[int, float]]] = {}
        for hours in sorted(lookbacks):  # one batched read per distinct lookback (usually one)
            group = [c.name for c in cfgs if c.scale_down_lookback_hours == hours]
            reads += 1
            series.update(
                self.metrics.fleet_series(
                    group, WRITE_METRICS, start=end - hours * 3600, end=end, period_seconds=period
                )
            )
        # the read side's series, for the streams that manage it, batched the same way (the iterator age as Maximum)
        read_series: dict[str, dict[str, dict[int, float]]] = {}
        for hours in sorted({c.scale_down_lookback_hours for c in cfgs if c.read_side}):
            group = [c.name for c in cfgs if c.read_side and c.scale_down_lookback_hours == hours]
            reads += 1
            read_series.update(
                self.metrics.fleet_series(
                    group, READ_SCALE_DOWN_METRICS, start=end - hours * 3600, end=end, period_seconds=period
                )
            )
        lagging = fleet_lagging(
            [m for got in series.values() for m in got.values()], settled_end=settled_end, period=period
        )
        candidates: list[tuple[StreamConfig, ScaleDownDecision]] = []
        for cfg in cfgs:
            got = series.get(cfg.name, {})
            decision = decide_scale_down(
                ScaleDownInput(
                    stream=cfg.name,
                    shards=tuple(shards[cfg.name]),
                    min_shards=cfg.min_shards,
                    scale_down_threshold=cfg.scale_down_threshold,
                    scale_up_threshold=cfg.scale_up_threshold,
                    headroom=cfg.headroom,
                    window_start=end - cfg.scale_down_lookback_hours * 3600,
                    window_end=end,
                    period_seconds=period,
                    incoming_bytes=got.get(INCOMING_BYTES, {}),
                    incoming_records=got.get(INCOMING_RECORDS, {}),
                    metrics_lagging=lagging,
                    **_read_inputs(cfg, read_series.get(cfg.name)),
                )
            )
            if decision.acts:
                candidates.append((cfg, decision))
            else:
                settled.append(StreamResult(cfg.name, StreamOutcome.KEPT, decision, decision.message))
        screened, throttle_reads = self._screen(candidates, end, period)
        excluded = {r.stream for r in screened}
        return Evaluation(
            settled + screened, [c for c in candidates if c[0].name not in excluded], reads + throttle_reads
        )

    def _screen(
        self, candidates: list[tuple[StreamConfig, ScaleDownDecision]], end: int, period: int
    ) -> tuple[list[StreamResult], int]:
        """Candidates that must not be merged after all: write throttling in the lookback, on-demand mode."""
        out: list[StreamResult] = []
        if not candidates:
            return out, 0
        throttled: dict[str, float] = {}
        lookbacks = sorted({c.scale_down_lookback_hours for c, _ in candidates})
        for hours in lookbacks:
            group = [c.name for c, _ in candidates if c.scale_down_lookback_hours == hours]
            got = self.metrics.fleet_series(
                group, (WRITE_THROTTLED,), start=end - hours * 3600, end=end, period_seconds=period
            )
            throttled.update({s: sum(m.get(WRITE_THROTTLED, {}).values()) for s, m in got.items()})
        summaries = self.kinesis.describe_all()  # one ListStreams, not one DescribeStreamSummary per candidate
        for cfg, decision in candidates:
            if throttled.get(cfg.name, 0.0) > 0:
                out.append(
                    _kept(
                        cfg,
                        decision,
                        ScaleDownReason.THROTTLED,
                        f"kept: {throttled[cfg.name]:.0f} throttled writes in the lookback",
                    )
                )
                continue
            desc = summaries.get(cfg.name)
            if desc is None:
                out.append(_skip(cfg, ScaleDownReason.NOT_FOUND, "not listed by ListStreams (deleted meanwhile?)"))
                continue
            if desc.mode is StreamMode.ON_DEMAND:
                out.append(_skip(cfg, ScaleDownReason.ON_DEMAND, "ON_DEMAND mode: AWS scales it"))
        return out, len(lookbacks)

    def dry_run(self, names: Sequence[str] | None = None) -> list[StreamResult]:
        """What `run` would do now, read-only: the evaluation, then for each candidate what its run would meet (the
        lock, the UpdateShardCount quota), with the reason code the run would log."""
        settled, candidates, _ = self.evaluate(names or self.config.names)
        planned = [self._predict(c, d, (Direction.UP, Direction.DOWN)) for c, d in candidates]
        return _ordered([r._replace(dry_run=True) for r in settled] + planned, names or self.config.names)

    def _predict(self, cfg: StreamConfig, d: ScaleDownDecision, blocked_by: tuple[Direction, ...]) -> StreamResult:
        refused = self.would_refuse(cfg.name, blocked_by)
        if isinstance(refused, LockUnavailable):  # the run fails closed on it: so does its prediction
            return StreamResult(cfg.name, StreamOutcome.FAILED, d, f"would fail: {refused}", dry_run=True)
        if refused is not None:
            return _skip(cfg, ScaleDownReason.COOLDOWN, f"would be skipped: {refused}", d)._replace(dry_run=True)
        if d.method is OpKind.UPDATE_SHARD_COUNT:
            used = update_shard_count_calls_24h(self.cooldown, cfg.name, self.clock.now())
            if not usc_to_spare(used):
                return _kept(cfg, d, ScaleDownReason.QUOTA, f"would be kept: {usc_quota_message(used)}")._replace(
                    dry_run=True
                )
        return StreamResult(cfg.name, StreamOutcome.DRY_RUN, d, d.message, dry_run=True)

    # -- an operator's explicit target ----------------------------------------------------------------------------

    def _operator_decision(self, name: str, target: int, reason: str) -> tuple[StreamConfig, ScaleDownDecision]:
        cfg = self.config.stream(name)
        if cfg is None or not cfg.min_shards <= target <= cfg.max_shards:  # the CLI refuses these first
            raise ConfigError(f"{name}: target {target} is not a managed stream's count within its bounds")
        if self.kinesis.describe(name).mode is StreamMode.ON_DEMAND:
            raise StreamNotProvisioned(f"{name} is in ON_DEMAND mode: AWS scales it")
        return cfg, operator_scale_down(name, self.kinesis.list_open_shards(name), target, reason)

    def plan_to(self, name: str, target: int, reason: str) -> StreamResult:
        """`scale_to`'s prediction, read-only. Raises StreamNotProvisioned, StreamNotFound, ConfigError."""
        cfg, d = self._operator_decision(name, target, reason)
        return self._predict(cfg, d, ())

    def scale_to(self, name: str, target: int, reason: str, budget: Budget) -> StreamResult:
        """Merge one stream to an operator's target now, under its lock (not blocked by a cooldown: a person
        decided; a held lock refuses), with the down cooldown set after. What the budget cannot finish is ended
        cleanly (alarms retuned, cooldown, release) and reported: the operator re-runs."""
        cfg, d = self._operator_decision(name, target, reason)
        w = _Work(self.start(cfg, budget), d, blocked_by=())
        result, progress = self._stream_safely(w, budget)
        if progress is not None:
            return self._end_chain(w, f"{result.detail}: re-run to go on towards {target}")
        return result

    # -- the run --------------------------------------------------------------------------------------------------

    def run(
        self, budget: Budget, names: Sequence[str] | None = None, continuation: Continuation | None = None
    ) -> FleetResult:
        """Evaluate and merge. A continuation brings the streams not yet evaluated and the merges in progress.

        Never raises for one stream's trouble: each stream's failure is its own result, with its lock released and
        its alarms retuned for what was merged. Raises only when the fleet's metrics cannot be read at all.
        """
        hop = continuation.hop if continuation else 0
        todo_names = list(continuation.pending if continuation else (names or self.config.names))
        settled, candidates, reads = self.evaluate(todo_names) if todo_names else Evaluation([], [], 0)
        work: list[_Work] = [_Work(self.start(cfg, budget), decision) for cfg, decision in candidates]
        for item in continuation.handovers if continuation else ():
            held = self.config.stream(item.stream)
            if held is None:  # removed from the config since the hand-over: never touched again (its lease lapses)
                settled.append(StreamResult(item.stream, StreamOutcome.SKIPPED, None, "not in the config: untouched"))
                continue
            if not held.enabled:  # disabled by a redeploy since the hand-over: stop and clean up
                # ended in the pool with the others: its clean-up waits for ACTIVE, and must not starve the run
                why = "no longer managed (enabled: false)"
                d = ScaleDownDecision(held.name, item.origin_count, item.target, ScaleDownReason.DISABLED, why)
                work.append(_Work(self.start(held, budget, item), d, ending=why))
                continue
            target = max(item.target, held.min_shards)
            d = ScaleDownDecision(
                held.name,
                item.origin_count,
                target,
                ScaleDownReason.MERGE,
                f"continuing towards {target}",
                method=OpKind(item.method or OpKind.MERGE.value),
            )
            work.append(_Work(self.start(held, budget, item), d))

        results: list[StreamResult] = list(settled)
        handed: list[tuple[_Work, HandOver]] = []
        not_started: list[str] = []
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            for w, (result, progress) in zip(
                work, pool.map(lambda w: self._stream_safely(w, budget), work), strict=True
            ):
                results.append(result)
                if progress is not None:
                    handed.append((w, progress))
                elif result.outcome is StreamOutcome.HANDED_ON:
                    not_started.append(result.stream)
        cont = None
        if handed or not_started:
            cont = Continuation(Direction.DOWN, hop + 1, tuple(p for _, p in handed), tuple(not_started))
            stop = None
            if cont.hop > MAX_CONTINUATION_HOPS:
                stop = f"hop limit {MAX_CONTINUATION_HOPS} reached: the rest waits for the next scheduled run"
            else:
                try:
                    self.continuation.continue_later(cont)
                except (AutoscalerError, OSError) as exc:
                    stop = f"the hand-over failed ({exc}): the rest waits for the next scheduled run"
            if stop is not None:
                log.error(
                    "scale-down stopped",
                    extra={"why": stop, "pending": not_started, "in_progress": [p.stream for _, p in handed]},
                )
                results = [r for r in results if r.outcome is not StreamOutcome.HANDED_ON]
                for name in not_started:
                    results.append(StreamResult(name, StreamOutcome.SKIPPED, None, stop))
                for w, _ in handed:  # finish what this run holds: alarms for the open count, cooldown, release
                    results.append(self._end_chain(w, stop))
                cont = None
        return FleetResult(tuple(_ordered(results, todo_names)), cont, reads)

    def _end_chain(self, w: _Work, why: str) -> StreamResult:
        """A chain that cannot be handed on: finish it, taking it over first if this run never did."""
        run = w.run
        try:
            if run.held:
                after = run.finish().after
            else:
                finished = run.abandon()
                after = finished.after if finished else None
        except Exception as exc:  # this chain's trouble (the table down, a connection error): the lease lapses
            log.exception("could not end a chain", extra={"stream": run.stream})
            return StreamResult(
                run.stream, StreamOutcome.FAILED, w.decision, f"{why}; {exc}", merges_done=tuple(run.done)
            )
        return StreamResult(run.stream, StreamOutcome.FAILED, w.decision, why, after=after, merges_done=tuple(run.done))

    def _abandon(self, run: StreamRun, why: str) -> StreamResult:
        """Take over a handed-on lock only to end the chain, with the alarms retuned to the open count."""
        try:
            finished = run.abandon()
        except Exception as exc:  # this stream's trouble (the table down, …): its lease lapses; the next run sees it
            log.exception("could not end a chain", extra={"stream": run.stream})
            return StreamResult(run.stream, StreamOutcome.FAILED, None, f"{why}; {type(exc).__name__}: {exc}")
        if finished is None:
            return StreamResult(run.stream, StreamOutcome.SKIPPED, None, f"{why}; its lock had already moved on")
        return StreamResult(
            run.stream, StreamOutcome.SKIPPED, None, f"{why}: stopped, lock released", after=finished.after
        )

    def _stream_safely(self, w: _Work, budget: Budget) -> tuple[StreamResult, HandOver | None]:
        """_stream, with any error confined to this stream (the other workers' results and hand-overs survive)."""
        try:
            if w.ending:
                return self._abandon(w.run, w.ending), None
            return self._stream(w)
        except Exception as exc:  # one stream's trouble must not lose the fleet run
            log.exception("scale-down of one stream failed", extra={"stream": w.cfg.name})
            return StreamResult(
                w.cfg.name, StreamOutcome.FAILED, w.decision, f"{type(exc).__name__}: {exc}", merges_done=tuple(w.done)
            ), None

    def _stream(self, w: _Work) -> tuple[StreamResult, HandOver | None]:
        """Merge one stream to its target under the lock; hand back what is left when time runs short."""
        run, cfg, d = w.run, w.cfg, w.decision
        if run.time_short():
            if run.taken_over_from is not None:  # the lock is still the previous hop's: pass the chain on
                return StreamResult(cfg.name, StreamOutcome.HANDED_ON, d, "time short"), run.pass_on(
                    d.target, d.method.value
                )
            return StreamResult(cfg.name, StreamOutcome.HANDED_ON, d, "not started: time short"), None
        try:
            run.acquire(w.blocked_by)
            if d.far_over:  # a burst's capacity: the next halving may come at the next run, not 30 h later
                run.cooldown_seconds = min(cfg.far_over_cooldown_seconds, cfg.scale_down_cooldown_seconds)
        except CooldownActive as exc:  # LockHeld included: scale-up holds it, or a handed-on lock moved on
            return _skip(cfg, ScaleDownReason.COOLDOWN, str(exc), d), None
        try:
            if run.taken_over_from is None:
                # The decision was made at evaluation time; the stream may have changed while it waited in the
                # queue (a scale-up whose cooldown has since ended). Merge only what the decision was made for.
                now_open = len(self.kinesis.list_open_shards(cfg.name))
                if now_open != d.current:
                    run.finish()
                    return _skip(
                        cfg,
                        ScaleDownReason.COOLDOWN,
                        f"changed since evaluation ({d.current} -> {now_open} shards): next run decides",
                        d,
                    ), None
                run.before = d.current
            return self._merge_locked(w)
        except BaseException:
            run.finish_after_error()
            raise

    def _merge_locked(self, w: _Work) -> tuple[StreamResult, HandOver | None]:
        run, cfg, d = w.run, w.cfg, w.decision
        floor = max(d.target, cfg.min_shards)
        setbacks = 0
        while True:
            if run.time_short():
                return StreamResult(
                    cfg.name,
                    StreamOutcome.HANDED_ON,
                    d,
                    "time short: continuing in a new invocation",
                    merges_done=tuple(run.done),
                ), run.handover(d.target, d.method.value)
            if setbacks > MAX_SETBACKS:
                after = run.finish().after
                return StreamResult(
                    cfg.name,
                    StreamOutcome.FAILED,
                    d,
                    f"stopped after {setbacks} setbacks",
                    after=after,
                    merges_done=tuple(run.done),
                ), None
            try:
                shards = self.kinesis.list_open_shards(cfg.name)
                if len(shards) <= floor:
                    break
                even_only = d.method is OpKind.UPDATE_SHARD_COUNT
                if self._halve_by_update_shard_count(run, len(shards), floor, required=even_only):
                    continue
                if even_only:  # merges would leave double-width shards that cannot carry the peak: stop here
                    after = run.finish().after
                    outcome = StreamOutcome.MERGED if run.done else StreamOutcome.KEPT
                    return StreamResult(
                        cfg.name,
                        outcome,
                        d if run.done else d._replace(reason=ScaleDownReason.QUOTA, target=d.current, merges=()),
                        f"{d.current} -> {after} shards; the rest needs UpdateShardCount (merging would leave uneven "
                        f"shards), not available now (24 h quota spent, or the lock table unreadable): next run",
                        after=after,
                        merges_done=tuple(run.done),
                    ), None
                op = next_merge(shards)  # re-read after each merge: the smallest adjacent pair of what is there
                if op is None or op.lower_shard_id is None or op.upper_shard_id is None:
                    break
                run.reassert()
                self.kinesis.merge_shards(cfg.name, op.lower_shard_id, op.upper_shard_id)
                run.applied(op.describe())
                run.wait_until_active()
            except LockHeld as exc:  # outlived its lease and another run took the lock: that run finishes
                return StreamResult(
                    cfg.name,
                    StreamOutcome.FAILED,
                    d,
                    f"{exc}; stopped, the stream and the lock left to their holder",
                    merges_done=tuple(run.done),
                ), None
            except (StreamBusy, ThrottledError, InvalidRequest) as exc:
                setbacks += 1
                log.warning("merge setback", extra={"stream": cfg.name, "error": str(exc)})
                try:
                    run.wait_until_active()
                except StreamBusy:
                    return StreamResult(
                        cfg.name, StreamOutcome.HANDED_ON, d, f"{exc}: continuing later", merges_done=tuple(run.done)
                    ), run.handover(d.target, d.method.value)
            except StreamNotFound as exc:
                run.let_go()
                return StreamResult(
                    cfg.name, StreamOutcome.FAILED, d, f"stream vanished: {exc}", merges_done=tuple(run.done)
                ), None
        after = run.finish().after
        return StreamResult(
            cfg.name,
            StreamOutcome.MERGED,
            d,
            f"{d.current} -> {after} shards",
            after=after,
            merges_done=tuple(run.done),
        ), None

    def _halve_by_update_shard_count(self, run: StreamRun, n: int, floor: int, *, required: bool = False) -> bool:
        """One UpdateShardCount towards the floor (at most halving: AWS's [½×, 2×]) when only an even layout
        carries the peak (`required`) or it is faster than the merges it replaces, and the stream's 24 h quota keeps
        USC_RESERVED_FOR_SCALE_UP calls for scale-up. Returns True when the call was made (and waited for).

        e.g. 400 → 200 shards: 200 merges ≈ 200 × 30 s = 100 min, one UpdateShardCount ≈ 90 s.
        """
        merges = n - floor
        if not required and merges * SPLIT_SECONDS_ESTIMATE <= UPDATE_SHARD_COUNT_SECONDS_ESTIMATE:
            return False
        if not usc_to_spare(run.update_shard_count_calls_24h()):
            return False
        target = max(floor, (n + 1) // 2)
        run.reassert()
        try:
            self.kinesis.update_shard_count(run.stream, target)
        except QuotaExhausted as exc:  # UpdateShardCountLimit included: merge instead
            log.warning("UpdateShardCount refused; merging", extra={"stream": run.stream, "error": str(exc)})
            return False
        run.applied(f"update_shard_count {n} -> {target} (UNIFORM_SCALING)", update_shard_count=True)
        run.wait_until_active()
        return True


READ_SCALE_DOWN_METRICS = (READ_BYTES, READ_THROTTLED, ITERATOR_AGE)


def _read_inputs(cfg: StreamConfig, series: dict[str, dict[int, float]] | None) -> dict[str, Any]:
    """ScaleDownInput's read-side fields for a stream (none when its read side is not managed)."""
    if not cfg.read_side:
        return {}
    got = series or {}
    ages = got.get(ITERATOR_AGE, {})
    return {
        "read_consumers": cfg.read_consumers,
        "read_bytes": got.get(READ_BYTES, {}),
        "read_throttled": sum(got.get(READ_THROTTLED, {}).values()),
        "max_iterator_age_ms": max(ages.values()) if ages else None,
        "iterator_age_bound_ms": cfg.max_iterator_age_seconds * 1000.0,
    }


def usc_to_spare(used: int | None) -> bool:
    """A scale-down may spend an UpdateShardCount call: `used` calls in 24 h leave one beyond the
    USC_RESERVED_FOR_SCALE_UP kept for scale-up (AWS allows 10). An unreadable table (None) spares none."""
    return used is not None and used <= UPDATE_SHARD_COUNT_CALLS_PER_24H - USC_RESERVED_FOR_SCALE_UP - 1


def usc_quota_message(used: int | None) -> str:
    calls = "the lock table is unreadable" if used is None else f"{used} of {UPDATE_SHARD_COUNT_CALLS_PER_24H} used"
    return (
        "only UpdateShardCount keeps the peak under the limit (merging would leave uneven shards) and its 24 h quota "
        f"has no call to spare ({calls}, {USC_RESERVED_FOR_SCALE_UP} kept for scale-up): next run"
    )


def _skip(
    cfg: StreamConfig, reason: ScaleDownReason, message: str, decision: ScaleDownDecision | None = None
) -> StreamResult:
    d = decision or ScaleDownDecision(cfg.name, 0, 0, reason, message)
    return StreamResult(
        cfg.name,
        StreamOutcome.SKIPPED,
        d._replace(reason=reason, message=message, target=d.current, merges=()),
        message,
    )


def _kept(cfg: StreamConfig, decision: ScaleDownDecision, reason: ScaleDownReason, message: str) -> StreamResult:
    return StreamResult(
        cfg.name,
        StreamOutcome.KEPT,
        decision._replace(reason=reason, message=message, target=decision.current, merges=()),
        message,
    )


def _ordered(results: Sequence[StreamResult], names: Sequence[str]) -> list[StreamResult]:
    rank = {n: i for i, n in enumerate(names)}
    return sorted(results, key=lambda r: rank.get(r.stream, len(rank)))
