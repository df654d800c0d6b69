"""The `autoscaler` policy in the simulator: the real services and planner, on the doubles, on simulated time.

Nothing of the policy is re-implemented here. The replay plays the parts of AWS around it:
- Kinesis: FakeKinesis (UPDATING for a duration per call, one reshard at a time, UpdateShardCount's limits). Writes
  are served on the layout in place at the start of each minute; a reshard's new layout takes over when it completes.
- CloudWatch: each minute's accepted IncomingBytes / IncomingRecords and refused WriteProvisionedThroughputExceeded
  go into FakeMetrics, readable after the publication delay; AlarmEvaluator judges the alarms once a minute. With a
  read model (ReplayOptions.reads, simulator/reads.py), the minute's GetRecords.Bytes, GetRecords.Success,
  ReadProvisionedThroughputExceeded and GetRecords.IteratorAgeMilliseconds (Maximum) go in too, whatever the
  stream's config: CloudWatch publishes them for any polling consumer. Only a stream with read_side: true has the
  read alarms and reads them (the real services decide that, as deployed).
- SNS → Lambda: an alarm going into ALARM becomes the SNS notification CloudWatch would send, parsed and screened as
  the handler does, and runs ScaleUpService with a 900 s invocation budget; continuations run as the next invocation.
- EventBridge: ScaleDownService runs every `scale_down_every_seconds` from the start of the trace, and the re-arm
  sweep (AlarmSweeper) every `sweep_every_seconds`.
- Lambda's failures, when asked for (`kills`, `lost_continuations`): an invocation killed at a given call stops
  there with no clean-up at all (every port call it makes after is refused, as a dead process makes none), and
  Lambda retries its event twice, 60 s and then 120 s later (asynchronous invocation); a lost continuation never
  runs (its three attempts failed into the failure queue).

Concurrency: a service that waits (for ACTIVE) lets simulated time pass, and the minutes it waits through are served
and evaluated meanwhile; an alarm that fires then is delivered at once, as a concurrent invocation would be, and
meets the lock held. One level of such nesting is delivered at once; deeper ones queue until the outer run returns.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from autoscaler.adapters.fakes.clock import SimBudget, SimClock
from autoscaler.adapters.fakes.cloudwatch import FakeAlarm, FakeAlarms, FakeMetrics
from autoscaler.adapters.fakes.continuation import RecordingContinuation
from autoscaler.adapters.fakes.cooldown import FakeCooldown
from autoscaler.adapters.fakes.kinesis import FakeKinesis
from autoscaler.app.alarm_sync import stream_alarm_specs
from autoscaler.app.scale_down import ScaleDownService
from autoscaler.app.scale_up import Outcome, ScaleUpRequest, ScaleUpResult, ScaleUpService, request_from_alarm
from autoscaler.app.sweeper import AlarmSweeper
from autoscaler.config import AutoscalerConfig
from autoscaler.core.defaults import ALARM_SWEEP_SECONDS
from autoscaler.core.limits import (
    INCOMING_BYTES,
    INCOMING_RECORDS,
    ITERATOR_AGE,
    KINESIS_NAMESPACE,
    READ_BYTES,
    READ_CALLS,
    READ_THROTTLED,
    WRITE_THROTTLED,
    stat_of,
)
from autoscaler.core.model import Direction, Shard, TriggerKind
from autoscaler.core.scale_up import LimitReason, ScaleUpReason
from autoscaler.events import (
    AlarmNotification,
    Continuation,
    parse_scale_up_event,
    screen,
)
from autoscaler.events.notification import sns_alarm_event
from autoscaler.simulator.alarm_eval import AlarmEvaluator
from autoscaler.simulator.baselines import initial_count
from autoscaler.simulator.ledger import Activity, Ledger, PolicyRun
from autoscaler.simulator.reads import ReadModel, ReadRun
from autoscaler.simulator.trace import Trace
from autoscaler.simulator.traffic import UNIFORM, Layout, Skew, accepted_share, layout_of

ACCOUNT = "123456789012"
REGION = "us-east-1"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:kinesis-autoscaler-alarms"
MAX_NESTING = 1  # deliveries made at once from inside a running invocation (a concurrent Lambda)
# Lambda's asynchronous invocation retries a failed event twice, after 1 min and then 2 min (AWS Lambda Developer
# Guide, "Error handling and automatic retries in Lambda"); then the event goes to the on-failure destination.
LAMBDA_RETRY_DELAYS = (60.0, 120.0)
RESHARDS = frozenset({"split_shard", "merge_shards", "update_shard_count"})


class Kill(NamedTuple):
    """Kill the invocation that makes the `nth` call (1-based, over the whole replay) to `op`, before the call takes
    effect. `op` is a port method (split_shard, update_shard_count, merge_shards, continue_later, acquire, renew,
    release, ...) or "reshard": any of the three reshard calls."""

    op: str
    nth: int = 1


class Death(NamedTuple):
    at: float
    op: str
    lease_until: float | None  # the stream's lock lease when the invocation died (None: no lock item)


class _Killed(BaseException):
    """Unwinds a killed invocation. A BaseException, so no `except Exception` of the services stops it; the ports
    refuse every call it makes while unwinding, so its clean-up does nothing (Lambda ends the process instead)."""


class ReplayOptions(NamedTuple):
    metric_delay_seconds: int = 120  # CloudWatch publishes a minute's datapoint ~2 min late (aws-facts.md)
    split_seconds: float = 30.0  # UPDATING per SplitShard (undocumented; ~30 s observed)
    merge_seconds: float = 30.0  # UPDATING per MergeShards (as a split)
    update_shard_count_seconds: float = 120.0  # UPDATING per UpdateShardCount ("a few minutes"; AWS samples)
    scale_down_every_seconds: int = 6 * 3600  # the template's rate(6 hours)
    lambda_timeout_seconds: float = 900.0
    skew: Skew = UNIFORM
    sweep_every_seconds: int | None = ALARM_SWEEP_SECONDS  # the template's AlarmSweepSchedule; None: no sweep
    kills: tuple[Kill, ...] = ()
    lost_continuations: int = 0  # the first N continuations handed over never run
    reads: ReadModel | None = None  # polling consumers reading the stream (simulator/reads.py); None: no reads


class _DrivenClock(SimClock):
    """A SimClock that lets the world catch up (serve minutes, evaluate alarms) whenever time passes."""

    def __init__(self, start: float, on_advance: Callable[[], None]) -> None:
        super().__init__(start)
        self.on_advance = on_advance

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.on_advance()


class _Scheduled(NamedTuple):
    at: float


class _Sweep(NamedTuple):
    at: float


Delivery = FakeAlarm | Continuation | _Scheduled | _Sweep


class _Attempt(NamedTuple):
    item: Delivery
    attempt: int  # 1: the first delivery; 2, 3: Lambda's retries


class _Mortal:
    """A port as the invocations see it: each call is checked against the replay's kills first."""

    def __init__(self, target: Any, replay: AutoscalerReplay) -> None:
        self._target = target
        self._replay = replay

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr
        check = self._replay._check

        def call(*args: Any, **kwargs: Any) -> Any:
            check(name, args)
            return attr(*args, **kwargs)

        return call


class AutoscalerReplay:
    def __init__(
        self,
        trace: Trace,
        loads: list[float],
        config: AutoscalerConfig,
        stream: str,
        options: ReplayOptions | None = None,
    ) -> None:
        options = options or ReplayOptions()
        cfg = config.stream(stream)
        if cfg is None:
            raise ValueError(f"stream {stream!r} is not in {config.source}")
        self.trace = trace
        self.cfg = cfg
        self.config = config
        self.options = options
        self.clock = _DrivenClock(float(trace.start), self._advance)
        self.kinesis = FakeKinesis(
            self.clock,
            split_seconds=options.split_seconds,
            merge_seconds=options.merge_seconds,
            update_shard_count_seconds=options.update_shard_count_seconds,
        )
        self.metrics = FakeMetrics(self.clock, delay_seconds=options.metric_delay_seconds)
        self.alarms = FakeAlarms()
        self.cooldown = FakeCooldown(self.clock)
        self.up_continuations = RecordingContinuation()
        self.down_continuations = RecordingContinuation()
        serial = itertools.count(1)

        def owner() -> str:
            return f"sim-{next(serial)}"

        ports: dict[str, Any] = {
            "config": config,
            "kinesis": _Mortal(self.kinesis, self),
            "metrics": _Mortal(self.metrics, self),
            "alarms": _Mortal(self.alarms, self),
            "cooldown": _Mortal(self.cooldown, self),
            "clock": self.clock,
            "new_owner": owner,
        }
        self.up = ScaleUpService(continuation=_Mortal(self.up_continuations, self), **ports)
        self.down = ScaleDownService(continuation=_Mortal(self.down_continuations, self), workers=1, **ports)
        self.sweeper = AlarmSweeper(
            config=config,
            kinesis=ports["kinesis"],
            alarms=ports["alarms"],
            cooldown=ports["cooldown"],
            clock=self.clock,
        )
        self.dead: list[bool] = []  # per running invocation, innermost last: killed?
        self.calls: Counter[str] = Counter()
        self.deaths: list[Death] = []
        self.later: list[tuple[float, int, _Attempt]] = []  # Lambda's retries, by due time
        self.lost = 0
        self.evaluator = AlarmEvaluator(self.alarms, self.metrics)
        self.ledger = Ledger(trace)
        self.reads = ReadRun(options.reads, trace.minutes) if options.reads is not None else None

        start = min(max(initial_count(loads), cfg.min_shards), cfg.max_shards)
        levels = frozenset({"IncomingBytes", "WriteProvisionedThroughputExceeded"}) if cfg.shard_level_metrics else None
        self.kinesis.create_stream(cfg.name, start, shard_level_metrics=levels or frozenset())
        specs = stream_alarm_specs(config.alarm_name_prefix, cfg, start)
        self.alarms.ensure_alarms(specs, [TOPIC])
        self.layout: Layout = layout_of(self.kinesis.open_shards(cfg.name), options.skew)
        self.next_layouts: deque[tuple[float, Layout]] = deque()
        self.loads = loads
        self.history: list[tuple[float, Layout]] = [(float(trace.start), self.layout)]  # for shard-level metrics
        if levels:
            self.metrics.shard_source = self._shard_bytes
        self.kinesis.on_reshard = self._on_reshard
        self.updating_seconds = 0.0
        self.minute = 0
        self.next_scale_down = trace.start + options.scale_down_every_seconds
        every = options.sweep_every_seconds
        self.next_sweep = trace.start + every if every else None
        self.queue: deque[_Attempt] = deque()
        self.depth = 0
        self.outcomes: dict[str, int] = {}
        self.capped_by_max_shards = 0  # scale-up decisions that wanted more than max_shards (capped, or at it)

    # -- AWS's side -------------------------------------------------------------------------------------------------

    def _on_reshard(self, stream: str, shards: list[Shard], done_at: float) -> None:
        layout = layout_of(shards, self.options.skew)
        self.next_layouts.append((done_at, layout))
        self.history.append((done_at, layout))
        self.updating_seconds += done_at - self.clock.now()

    def _shard_bytes(self, stream: str, shard_id: str, minute_start: int) -> float | None:
        """Shard-level IncomingBytes of one minute (Kinesis enhanced monitoring): the shard's accepted share of the
        minute's writes on the layout then in place; None when the shard was not open or the minute not served."""
        m = (minute_start - self.trace.start) // 60
        if not 0 <= m < self.minute:
            return None
        at = bisect.bisect_right(self.history, float(minute_start), key=lambda h: h[0]) - 1
        share = dict(self.history[max(0, at)][1].by_id).get(shard_id)
        if share is None:
            return None
        return self.trace.bytes[m] * accepted_share(share, self.loads[m])

    def _advance(self) -> None:
        """Serve every minute that has ended by now, evaluating the alarms and the schedule after each."""
        now = self.clock.now()
        t0 = self.trace.start
        name = self.cfg.name
        put = self.metrics.put
        while self.minute < self.trace.minutes and t0 + (self.minute + 1) * 60 <= now:
            m = self.minute
            begin = t0 + m * 60
            while self.next_layouts and self.next_layouts[0][0] <= begin:
                self.layout = self.next_layouts.popleft()[1]
            accepted_b, accepted_r, refused_r = self.ledger.serve(m, self.layout)
            if accepted_b or accepted_r:
                put(name, INCOMING_BYTES, begin, accepted_b)
                put(name, INCOMING_RECORDS, begin, accepted_r)
            if refused_r:
                put(name, WRITE_THROTTLED, begin, refused_r)
            if self.reads is not None:
                shards = self.layout.shards
                got = self.reads.step(m, accepted_b, float(shards), shards)
                if got.iterator_age_ms is not None:  # a consumer polled: CloudWatch has the minute's datapoints
                    put(name, READ_BYTES, begin, got.bytes_read)
                    put(name, READ_CALLS, begin, got.calls)
                    put(name, ITERATOR_AGE, begin, got.iterator_age_ms)
                    if got.throttled_calls:
                        put(name, READ_THROTTLED, begin, got.throttled_calls)
            self.minute = m + 1
            end = begin + 60
            self.queue.extend(_Attempt(a, 1) for a in self.evaluator.evaluate(end))
            if end >= self.next_scale_down:
                self.queue.append(_Attempt(_Scheduled(self.next_scale_down), 1))
                self.next_scale_down += self.options.scale_down_every_seconds
            if self.next_sweep is not None and end >= self.next_sweep:
                self.queue.append(_Attempt(_Sweep(self.next_sweep), 1))
                self.next_sweep += self.options.sweep_every_seconds or 0
            while self.later and self.later[0][0] <= end:
                self.queue.append(heapq.heappop(self.later)[2])
            if self.depth <= MAX_NESTING:
                self._drain()

    def _drain(self) -> None:
        while self.queue:
            attempt = self.queue.popleft()
            self.depth += 1
            self.dead.append(False)
            try:
                self._deliver(attempt.item)
            except _Killed:
                self._count("invocation killed")
                if attempt.attempt <= len(LAMBDA_RETRY_DELAYS):
                    due = self.clock.now() + LAMBDA_RETRY_DELAYS[attempt.attempt - 1]
                    heapq.heappush(self.later, (due, len(self.deaths), attempt._replace(attempt=attempt.attempt + 1)))
                else:
                    self._count("event given up (failure queue)")
            finally:
                self.dead.pop()
                self.depth -= 1
            for handed in (*self.up_continuations.pop_all(), *self.down_continuations.pop_all()):
                if self.lost < self.options.lost_continuations:
                    self.lost += 1
                    self._count("continuation lost")
                    self.deaths.append(Death(self.clock.now(), "continuation lost", self._lease()))
                else:
                    self.queue.append(_Attempt(handed, 1))

    def _lease(self) -> float | None:
        lock = self.cooldown.read(self.cfg.name)
        return lock.lease_until if lock is not None and lock.owner is not None else None

    def _check(self, op: str, args: tuple[Any, ...]) -> None:
        """Before a port call: a dead invocation makes none; a call a Kill names kills its invocation."""
        if not self.dead:
            return
        if self.dead[-1]:
            raise _Killed(op)
        self.calls[op] += 1
        if op in RESHARDS:
            self.calls["reshard"] += 1
        for kill in self.options.kills:
            if (kill.op == op or (kill.op == "reshard" and op in RESHARDS)) and self.calls[kill.op] == kill.nth:
                self.dead[-1] = True
                self.deaths.append(Death(self.clock.now(), op, self._lease()))
                raise _Killed(op)

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def _deliver(self, item: Delivery) -> None:
        budget = SimBudget(self.clock, self.options.lambda_timeout_seconds)
        if isinstance(item, FakeAlarm):
            for note in parse_scale_up_event(self._notification(item)):
                if not isinstance(note, AlarmNotification) or screen(
                    note,
                    account_id=ACCOUNT,
                    region=REGION,
                    managed=self.config.names,
                    now=self.clock.now(),
                    read_side=self.config.read_side_names,
                ):
                    self._count("scale-up refused at the edge")
                    continue
                result = self.up.scale_up(request_from_alarm(note, self.cfg, self.config.alarm_name_prefix), budget)
                self._count(f"scale-up {result.outcome.value}")
                self._note_cap(result)
        elif isinstance(item, _Sweep):
            for row in self.sweeper.sweep():
                self._count("sweep re-armed" if row.rearmed else "sweep left to a live run")
        elif isinstance(item, Continuation) and item.direction is Direction.UP:
            request = ScaleUpRequest(
                item.handovers[0].stream, TriggerKind.OPERATOR, continuation=item, source="continuation"
            )
            result = self.up.scale_up(request, budget)
            self._count(
                f"scale-up {result.outcome.value}" if result.outcome is not Outcome.SCALED else "scale-up scaled"
            )
            self._note_cap(result)
        else:
            fleet = self.down.run(
                budget,
                names=[self.cfg.name],
                continuation=item if isinstance(item, Continuation) else None,
            )
            for r in fleet.results:
                self._count(f"scale-down {r.outcome.value}")

    def _note_cap(self, result: ScaleUpResult) -> None:
        """Count a decision max_shards bounded: the plan was capped by it, or found the stream already at it. This is
        where the replay learns that the policy wanted more shards than the config allows (the plan says which limit
        bit: core/scale_up.py limit_target)."""
        plan = result.plan
        if plan is not None and (
            plan.reason is ScaleUpReason.AT_MAX or any(lim.reason is LimitReason.MAX_SHARDS for lim in plan.limits)
        ):
            self.capped_by_max_shards += 1

    def _notification(self, alarm: FakeAlarm) -> dict[str, Any]:
        spec = alarm.spec
        described = {
            "AlarmName": spec.name,
            "AlarmDescription": spec.description,
            "Threshold": spec.threshold,
            "MetricName": spec.metric_name,
            "Namespace": KINESIS_NAMESPACE,
            "Statistic": stat_of(spec.metric_name),  # Maximum for the iterator age, as create-streams sets it
            "Dimensions": [{"Name": "StreamName", "Value": spec.stream}],
            "Period": spec.period_seconds,
            "EvaluationPeriods": spec.evaluation_periods,
            "DatapointsToAlarm": spec.datapoints_to_alarm,
            "ComparisonOperator": spec.comparison,
            "TreatMissingData": "notBreaching",
        }
        at = datetime.fromtimestamp(self.clock.now(), UTC)
        return sns_alarm_event(alarm=described, account=ACCOUNT, region=REGION, topic_arn=TOPIC, at=at)

    # -- the run ----------------------------------------------------------------------------------------------------

    def run(self) -> PolicyRun:
        end = self.trace.start + self.trace.minutes * 60
        while self.minute < self.trace.minutes:
            self.clock.sleep(max(0.0, min(end, self.trace.start + (self.minute + 1) * 60) - self.clock.now()))
            self._drain()
        calls = self.kinesis.reshard_calls(self.cfg.name)
        usc = sum(1 for c in calls if c == "update_shard_count")
        notes = tuple(f"{k}: {v}" for k, v in sorted(self.outcomes.items()))
        activity = Activity(
            len(calls), usc, round(self.updating_seconds / 60), notes, capped_by_max_shards=self.capped_by_max_shards
        )
        # create-streams enables three shard-level metrics when the config asks for them (onboarding.py)
        return PolicyRun(
            "autoscaler",
            self.ledger,
            activity,
            shard_metrics=3 if self.cfg.shard_level_metrics else 0,
            reads=self.reads,
        )
