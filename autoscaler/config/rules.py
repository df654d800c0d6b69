"""Every rule a configuration keeps, written once: each key's range, and the checks across keys. Both loaders apply
these — the YAML loader through its pydantic models (yaml_loader.py builds each Field from BOUNDS and its validators
call the checks, so the operator gets the file, the line and the fix), the snapshot loader in plain Python (a
compiled file is re-checked without pydantic: a hand-edited one must not reach the planner).

Pure: no pydantic, no YAML. A check returns the first Problem (the key to change and what to write) or None.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from autoscaler.core import defaults as d
from autoscaler.core import limits
from autoscaler.core.capacity_mode import ModePolicy


class Bound(NamedTuple):
    """A key's range: gt/ge is the lower end (open/closed), lt/le the upper."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def admits(self, value: float) -> bool:
        return (
            (self.gt is None or value > self.gt)
            and (self.ge is None or value >= self.ge)
            and (self.lt is None or value < self.lt)
            and (self.le is None or value <= self.le)
        )

    def text(self) -> str:
        """The range as written in the errors: (0, 1], [1, 60], [1, ∞)."""
        lo = f"({self.gt}" if self.gt is not None else f"[{self.ge}" if self.ge is not None else "(-∞"
        hi = f"{self.lt})" if self.lt is not None else f"{self.le}]" if self.le is not None else "∞)"
        return f"{lo}, {hi}"


# The tunables' ranges (defaults: and every stream), then the stream-only keys'.
TUNABLE_BOUNDS: dict[str, Bound] = {
    "scale_up_threshold": Bound(gt=0, le=1),
    "scale_down_threshold": Bound(gt=0, le=1),
    "headroom": Bound(gt=1, le=d.MAX_HEADROOM),
    "rise_lookahead_periods": Bound(ge=0, le=10),
    "scale_up_lookback_minutes": Bound(ge=1, le=60),
    "scale_down_lookback_hours": Bound(ge=1, le=14 * 24),
    "scale_up_cooldown_seconds": Bound(ge=0, le=86_400),
    "scale_down_cooldown_seconds": Bound(ge=0, le=7 * 86_400),
    "far_over_cooldown_seconds": Bound(ge=0, le=7 * 86_400),
    "fallback_scale_up_factor": Bound(gt=1, le=2),
    "alarm_period_seconds": Bound(ge=1, le=86_400),  # and a multiple of 60 (tunables_problem says why)
    "alarm_evaluation_periods": Bound(ge=1),
    "alarm_datapoints_to_alarm": Bound(ge=1),
    "retention_hours": Bound(ge=24, le=8_760),
    "read_consumers": Bound(ge=1, le=50),  # beyond 5, their polls alone fill a shard's 5 calls/s: fan-out
    "max_iterator_age_seconds": Bound(ge=1, le=7 * 86_400),
}
STREAM_BOUNDS: dict[str, Bound] = {
    "min_shards": Bound(ge=1, le=limits.MAX_SHARDS_PER_STREAM),
    "max_shards": Bound(ge=1, le=limits.MAX_SHARDS_PER_STREAM),
    "desired_shards": Bound(ge=1, le=limits.MAX_SHARDS_PER_STREAM),
}
CHOICES: dict[str, tuple[str, ...]] = {"capacity_mode": tuple(m.value for m in ModePolicy)}
TEXT_LENGTHS: dict[str, tuple[int, int]] = {"kms_key_id": (1, 2_048)}
# CloudWatch (PutMetricAlarm): Period × EvaluationPeriods ≤ 7 days, and ≤ 1 day when Period < 1 h. Its 10, 20 and
# 30 s periods are for high-resolution metrics only; Kinesis stream metrics are one-minute Sums, so a 10 s alarm
# would compare a whole minute's Sum with 10 s of capacity (and fire at 1/6 of the threshold).
# alarm_name_prefix: what CloudWatch alarm names and the template's AlarmNamePrefix take, and never "/" (alarm names
# are <prefix>/<stream>/<kind>: a "/" in the prefix would make two deployments' names and IAM scopes overlap)
ALARM_NAME_PREFIX_PATTERN = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
ALARM_NAME_PREFIX_TEXT = "use 1–64 of a-z A-Z 0-9 _ . -"
ALARM_WINDOW_SECONDS = 86_400
ALARM_WINDOW_SECONDS_LONG_PERIODS = 7 * 86_400


class Problem(NamedTuple):
    field: str  # the key the operator should change (the error is reported at its line)
    message: str


class _Tunables(Protocol):
    @property
    def scale_up_threshold(self) -> float: ...
    @property
    def scale_down_threshold(self) -> float: ...
    @property
    def headroom(self) -> float: ...
    @property
    def alarm_period_seconds(self) -> int: ...
    @property
    def alarm_evaluation_periods(self) -> int: ...
    @property
    def alarm_datapoints_to_alarm(self) -> int: ...
    @property
    def capacity_mode(self) -> str: ...


class _Stream(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def min_shards(self) -> int: ...
    @property
    def max_shards(self) -> int: ...
    @property
    def desired_shards(self) -> int: ...


def tunables_problem(t: _Tunables) -> Problem | None:
    """The checks across the tunables, in the order an operator would fix them."""
    for key, allowed in CHOICES.items():
        value = getattr(t, key)
        if value not in allowed:
            return Problem(key, f"{key} {str(value)[:40]!r} is not one of {', '.join(allowed)}; write one of them")
    if t.scale_down_threshold >= t.scale_up_threshold:
        return Problem(
            "scale_down_threshold",
            f"scale_down_threshold ({t.scale_down_threshold}) must be below scale_up_threshold "
            f"({t.scale_up_threshold}); write e.g. scale_down_threshold: {round(t.scale_up_threshold / 2, 3)}",
        )
    # a margin of 1e-9: in binary 0.8 - 0.1 is just above 0.7 and 0.6 - 0.1 just below 0.5; both boundaries refused
    if t.scale_up_threshold - d.SCALE_DOWN_SAFETY_MARGIN - t.scale_down_threshold <= 1e-9:
        return Problem(
            "scale_up_threshold",
            f"scale_up_threshold ({t.scale_up_threshold}) minus the scale-down safety margin "
            f"({d.SCALE_DOWN_SAFETY_MARGIN}) must stay above scale_down_threshold ({t.scale_down_threshold}), "
            f"or no merge could ever keep the peak under the alarm; write e.g. scale_up_threshold: "
            f"{round(t.scale_down_threshold + d.SCALE_DOWN_SAFETY_MARGIN + 0.1, 3)}",
        )
    if t.headroom * t.scale_up_threshold <= 1:
        return Problem(
            "headroom",
            f"headroom ({t.headroom}) × scale_up_threshold ({t.scale_up_threshold}) must exceed 1: a stream "
            f"scaled to headroom × its peak must sit below its alarm, or every scale-up re-fires it; write e.g. "
            f"headroom: {round(max(1.5, 1.25 / t.scale_up_threshold), 2)}",
        )
    p = t.alarm_period_seconds
    if p % 60:
        return Problem(
            "alarm_period_seconds",
            f"alarm_period_seconds ({p}) must be a multiple of 60: Kinesis stream metrics are one-minute Sums; "
            f"write {max(60, p // 60 * 60)}",
        )
    window = ALARM_WINDOW_SECONDS if p < 3_600 else ALARM_WINDOW_SECONDS_LONG_PERIODS
    if p * t.alarm_evaluation_periods > window:
        # reported at alarm_evaluation_periods: the suggested fix changes it (the period has few valid values)
        return Problem(
            "alarm_evaluation_periods",
            f"alarm_period_seconds × alarm_evaluation_periods ({p} × {t.alarm_evaluation_periods}) must be "
            f"≤ {window:,} s; write alarm_evaluation_periods: {window // p} or less",
        )
    if t.alarm_datapoints_to_alarm > t.alarm_evaluation_periods:
        return Problem(
            "alarm_datapoints_to_alarm",
            f"alarm_datapoints_to_alarm ({t.alarm_datapoints_to_alarm}) must be ≤ alarm_evaluation_periods "
            f"({t.alarm_evaluation_periods}); write alarm_datapoints_to_alarm: {t.alarm_evaluation_periods}",
        )
    return None


def stream_problem(s: _Stream) -> Problem | None:
    """The checks across a stream's own keys."""
    if not limits.STREAM_NAME.fullmatch(s.name):
        return Problem("name", f"name {s.name!r} is not a Kinesis stream name; use 1–128 of a-z A-Z 0-9 _ . -")
    if s.min_shards > s.max_shards:
        return Problem(
            "min_shards",
            f"min_shards ({s.min_shards}) is above max_shards ({s.max_shards}); "
            f"write min_shards ≤ {s.max_shards} or max_shards ≥ {s.min_shards}",
        )
    if not s.min_shards <= s.desired_shards <= s.max_shards:
        return Problem(
            "desired_shards",
            f"desired_shards ({s.desired_shards}) is outside [min_shards, max_shards] = "
            f"[{s.min_shards}, {s.max_shards}]; write a desired_shards in that range",
        )
    return None


def range_problem(values: Mapping[str, Any], bounds: Mapping[str, Bound]) -> Problem | None:
    """A key outside its range (the YAML loader leaves this to pydantic's Field, built from the same bounds)."""
    for key, bound in bounds.items():
        value = values.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # types are the loaders' to check
        if not math.isfinite(value) or not bound.admits(value):
            return Problem(key, f"{key} ({value}) is outside {bound.text()}; write a value in {bound.text()}")
    for key, (shortest, longest) in TEXT_LENGTHS.items():
        text = values.get(key)
        if isinstance(text, str) and not shortest <= len(text) <= longest:
            return Problem(key, f"{key} must be {shortest}–{longest} characters")
    return None


def stream_config_problem(stream: Any) -> Problem | None:
    """Every rule for one stream whose defaults are merged in (a snapshot's stream): ranges, then the checks."""
    values = {key: getattr(stream, key, None) for key in (*TUNABLE_BOUNDS, *STREAM_BOUNDS, *TEXT_LENGTHS)}
    return (
        range_problem(values, {**TUNABLE_BOUNDS, **STREAM_BOUNDS}) or stream_problem(stream) or tunables_problem(stream)
    )
