"""CloudWatch's alarm evaluation over the doubles: what moto never does (aws-facts.md, "Alarms").

Once a minute each alarm looks at its last EvaluationPeriods periods of published datapoints (FakeMetrics' delay
hides the newest minutes), counts the breaching ones (a missing period is not breaching: TreatMissingData
notBreaching, as create-streams sets it) and goes ALARM when at least DatapointsToAlarm breach, OK otherwise.
Actions fire only on a transition into ALARM; SetAlarmState(OK) by the autoscaler is honoured until the next
evaluation, which is what lets a breach that lasts fire again. A period longer than a minute adds its minutes up, or
takes the largest of them for a metric alarmed on its Maximum (the iterator age: core/limits.py stat_of).
"""

from __future__ import annotations

from typing import NamedTuple

from autoscaler.adapters.fakes.cloudwatch import FakeAlarm, FakeAlarms, FakeMetrics
from autoscaler.core.limits import stat_of


class _Watch(NamedTuple):
    name: str
    points: dict[int, float]
    period: int
    periods: int
    to_alarm: int
    threshold: float
    strict: bool  # GreaterThanThreshold (else GreaterThanOrEqualToThreshold)
    maximum: bool = False  # the period's statistic is its largest minute (else their sum)


class AlarmEvaluator:
    def __init__(self, alarms: FakeAlarms, metrics: FakeMetrics) -> None:
        self.alarms = alarms
        self.metrics = metrics
        self._version = -1
        self._watches: list[_Watch] = []
        self._states: dict[str, str] = {}
        self._last: dict[str, int] = {}  # alarm -> end of the newest period it judged
        self.evaluations = 0

    def _reload(self) -> None:
        watches = []
        for name, alarm in self.alarms.alarms.items():
            spec = alarm.spec
            key = (spec.stream, spec.metric_name, "")
            watches.append(
                _Watch(
                    name,
                    self.metrics.data[key],  # defaultdict: the series the simulator will write into
                    spec.period_seconds,
                    spec.evaluation_periods,
                    spec.datapoints_to_alarm,
                    spec.threshold,
                    spec.comparison == "GreaterThanThreshold",
                    stat_of(spec.metric_name) == "Maximum",
                )
            )
            self._states[name] = alarm.state
        self._watches = watches
        self._last.clear()  # thresholds or states changed: judge again even if no new period was published
        self._version = self.alarms.version

    def evaluate(self, now: float) -> list[FakeAlarm]:
        """Judge every alarm at `now`; returns the alarms that went into ALARM (their actions fire)."""
        if self.alarms.version != self._version:
            self._reload()
        visible = int(now - self.metrics.delay_seconds) // 60 * 60  # minutes wholly published: t + 60 ≤ visible
        fired: list[FakeAlarm] = []
        for w in self._watches:
            end = visible // w.period * w.period
            if self._last.get(w.name) == end:
                continue
            self._last[w.name] = end
            self.evaluations += 1
            breaching = 0
            get = w.points.get
            thr = w.threshold
            if w.period == 60:  # the usual case: one datapoint per period, no summing (this runs once a minute)
                for k in range(1, w.periods + 1):
                    v = get(end - 60 * k)
                    if v is not None and (v > thr if w.strict else v >= thr):
                        breaching += 1
            else:
                for k in range(1, w.periods + 1):
                    start = end - k * w.period
                    total = None
                    for t in range(start, start + w.period, 60):
                        v = get(t)
                        if v is not None:
                            total = v if total is None else (max(total, v) if w.maximum else total + v)
                    if total is not None and (total > thr if w.strict else total >= thr):
                        breaching += 1
            state = "ALARM" if breaching >= w.to_alarm else "OK"
            if state != self._states.get(w.name):
                self._states[w.name] = state
                self.alarms.set_state(w.name, state, f"{breaching} of {w.periods} datapoints breaching")
                self._version = self.alarms.version  # our own write: no need to reload
                if state == "ALARM":
                    fired.append(self.alarms.alarms[w.name])
        return fired
