"""The `autoscaler` policy in the simulator: the real services and planner, on the doubles, on simulated time.

Nothing of the policy is re-implemented here. The replay plays the parts of AWS around it:
- Kinesis: FakeKinesis (UPDATING for a duration per call, one reshard at a time, UpdateShardCount's limits). Writes
  are served on the layout in place at the start of each minute; a reshard's new layout takes over when it completes.
- CloudWatch: each minute's accepted IncomingBytes / IncomingRecords and refused WriteProvisionedThroughputExceeded
  go into FakeMetrics, readable after the publication delay; AlarmEvaluator judges the alarms once a minute.
- SNS → Lambda: an alarm going into ALARM becomes the SNS notification CloudWatch would send, parsed and screened as
  the handler does, and runs ScaleUpService with a 900 s invocation budget; continuations run as the next invocation.
- EventBridge: ScaleDownService runs every `scale_down_every_seconds` from the start of the trace.

Concurrency: a service that waits (for ACTIVE) lets simulated time pass, and the minutes it waits through are served
and evaluated meanwhile; an alarm that fires then is delivered at once, as a concurrent invocation would be, and
meets the lock held. One level of such nesting is delivered at once; deeper ones queue until the outer run returns.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
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
from autoscaler.app.scale_up import Outcome, ScaleUpRequest, ScaleUpService, request_from_alarm
from autoscaler.config import AutoscalerConfig
from autoscaler.core.limits import INCOMING_BYTES, INCOMING_RECORDS, KINESIS_NAMESPACE, WRITE_THROTTLED
from autoscaler.core.model import Direction, Shard, TriggerKind
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
from autoscaler.simulator.trace import Trace
from autoscaler.simulator.traffic import UNIFORM, Layout, Skew, accepted_share, layout_of

ACCOUNT = "123456789012"
REGION = "us-east-1"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:kinesis-autoscaler-alarms"
MAX_NESTING = 1  # deliveries made at once from inside a running invocation (a concurrent Lambda)


class ReplayOptions(NamedTuple):
    metric_delay_seconds: int = 120  # CloudWatch publishes a minute's datapoint ~2 min late (aws-facts.md)
    split_seconds: float = 30.0  # UPDATING per SplitShard (undocumented; ~30 s observed)
    merge_seconds: float = 30.0  # UPDATING per MergeShards (as a split)
    update_shard_count_seconds: float = 120.0  # UPDATING per UpdateShardCount ("a few minutes"; AWS samples)
    scale_down_every_seconds: int = 36 * 3600  # the template's rate(36 hours)
    lambda_timeout_seconds: float = 900.0
    skew: Skew = UNIFORM


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


Delivery = FakeAlarm | Continuation | _Scheduled


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
            "kinesis": self.kinesis,
            "metrics": self.metrics,
            "alarms": self.alarms,
            "cooldown": self.cooldown,
            "clock": self.clock,
            "new_owner": owner,
        }
        self.up = ScaleUpService(continuation=self.up_continuations, **ports)
        self.down = ScaleDownService(continuation=self.down_continuations, workers=1, **ports)
        self.evaluator = AlarmEvaluator(self.alarms, self.metrics)
        self.ledger = Ledger(trace)

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
        self.queue: deque[Delivery] = deque()
        self.depth = 0
        self.outcomes: dict[str, int] = {}

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
            self.minute = m + 1
            end = begin + 60
            self.queue.extend(self.evaluator.evaluate(end))
            if end >= self.next_scale_down:
                self.queue.append(_Scheduled(self.next_scale_down))
                self.next_scale_down += self.options.scale_down_every_seconds
            if self.depth <= MAX_NESTING:
                self._drain()

    def _drain(self) -> None:
        while self.queue:
            item = self.queue.popleft()
            self.depth += 1
            try:
                self._deliver(item)
            finally:
                self.depth -= 1
            self.queue.extend(self.up_continuations.pop_all())
            self.queue.extend(self.down_continuations.pop_all())

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def _deliver(self, item: Delivery) -> None:
        budget = SimBudget(self.clock, self.options.lambda_timeout_seconds)
        if isinstance(item, FakeAlarm):
            for note in parse_scale_up_event(self._notification(item)):
                if not isinstance(note, AlarmNotification) or screen(
                    note, account_id=ACCOUNT, region=REGION, managed=self.config.names, now=self.clock.now()
                ):
                    self._count("scale-up refused at the edge")
                    continue
                result = self.up.scale_up(request_from_alarm(note, self.cfg, self.config.alarm_name_prefix), budget)
                self._count(f"scale-up {result.outcome.value}")
        elif isinstance(item, Continuation) and item.direction is Direction.UP:
            request = ScaleUpRequest(
                item.handovers[0].stream, TriggerKind.OPERATOR, continuation=item, source="continuation"
            )
            result = self.up.scale_up(request, budget)
            self._count(
                f"scale-up {result.outcome.value}" if result.outcome is not Outcome.SCALED else "scale-up scaled"
            )
        else:
            fleet = self.down.run(
                budget,
                names=[self.cfg.name],
                continuation=item if isinstance(item, Continuation) else None,
            )
            for r in fleet.results:
                self._count(f"scale-down {r.outcome.value}")

    def _notification(self, alarm: FakeAlarm) -> dict[str, Any]:
        spec = alarm.spec
        described = {
            "AlarmName": spec.name,
            "AlarmDescription": spec.description,
            "Threshold": spec.threshold,
            "MetricName": spec.metric_name,
            "Namespace": KINESIS_NAMESPACE,
            "Statistic": "Sum",
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
        activity = Activity(len(calls), usc, round(self.updating_seconds / 60), notes)
        # create-streams enables three shard-level metrics when the config asks for them (onboarding.py)
        return PolicyRun("autoscaler", self.ledger, activity, shard_metrics=3 if self.cfg.shard_level_metrics else 0)
