"""streams.yaml → AutoscalerConfig: strict pydantic models and a loader whose errors name the file, line, field
and fix. Imported only when YAML is read (the Lambda reads a compiled snapshot instead: see config.py).

Shape:
    alarm_name_prefix: kinesis-autoscaler   # optional
    defaults: {<tunable>: value, ...}       # optional; overrides the built-in defaults (defaults.py)
    streams:
      - name: orders
        min_shards: 2
        max_shards: 64
        desired_shards: 4
        <tunable>: value                    # optional per-stream override
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from autoscaler import defaults as d
from autoscaler.config import AutoscalerConfig, StreamConfig, Tunables
from autoscaler.errors import ConfigError

_STREAM_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")  # Kinesis StreamName pattern and length
_PREFIX = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")


class _Problem(ValueError):
    """A cross-field check that failed, with the field the operator should change (the error is reported at it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class TunablesModel(BaseModel):
    """Settings every stream has; `defaults:` and each stream may override them."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = True
    scale_up_threshold: float = Field(d.SCALE_UP_THRESHOLD, gt=0, le=1)
    scale_down_threshold: float = Field(d.SCALE_DOWN_THRESHOLD, gt=0, le=1)
    headroom: float = Field(d.HEADROOM, gt=1, le=d.MAX_HEADROOM)
    scale_up_lookback_minutes: int = Field(d.SCALE_UP_LOOKBACK_MINUTES, ge=1, le=60)
    scale_down_lookback_hours: int = Field(d.SCALE_DOWN_LOOKBACK_HOURS, ge=1, le=14 * 24)
    scale_up_cooldown_seconds: int = Field(d.SCALE_UP_COOLDOWN_SECONDS, ge=0, le=86_400)
    scale_down_cooldown_seconds: int = Field(d.SCALE_DOWN_COOLDOWN_SECONDS, ge=0, le=7 * 86_400)
    fallback_scale_up_factor: float = Field(d.FALLBACK_SCALE_UP_FACTOR, gt=1, le=2)
    alarm_period_seconds: int = Field(d.ALARM_PERIOD_SECONDS, ge=10, le=86_400)
    alarm_evaluation_periods: int = Field(d.ALARM_EVALUATION_PERIODS, ge=1)
    alarm_datapoints_to_alarm: int = Field(d.ALARM_DATAPOINTS_TO_ALARM, ge=1)
    retention_hours: int = Field(d.RETENTION_HOURS, ge=24, le=8_760)
    encrypt: bool = d.ENCRYPT
    kms_key_id: str = Field(d.KMS_KEY_ID, min_length=1, max_length=2_048)
    shard_level_metrics: bool = d.SHARD_LEVEL_METRICS

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.scale_down_threshold >= self.scale_up_threshold:
            raise _Problem(
                "scale_down_threshold",
                f"scale_down_threshold ({self.scale_down_threshold}) must be below scale_up_threshold "
                f"({self.scale_up_threshold}); write e.g. scale_down_threshold: "
                f"{round(self.scale_up_threshold / 2, 3)}",
            )
        # a margin of 1e-9: in binary 0.8 - 0.1 is just above 0.7 and 0.6 - 0.1 just below 0.5; both boundaries refused
        if self.scale_up_threshold - d.SCALE_DOWN_SAFETY_MARGIN - self.scale_down_threshold <= 1e-9:
            raise _Problem(
                "scale_up_threshold",
                f"scale_up_threshold ({self.scale_up_threshold}) minus the scale-down safety margin "
                f"({d.SCALE_DOWN_SAFETY_MARGIN}) must stay above scale_down_threshold ({self.scale_down_threshold}), "
                f"or no merge could ever keep the peak under the alarm; write e.g. scale_up_threshold: "
                f"{round(self.scale_down_threshold + d.SCALE_DOWN_SAFETY_MARGIN + 0.1, 3)}",
            )
        if self.headroom * self.scale_up_threshold <= 1:
            raise _Problem(
                "headroom",
                f"headroom ({self.headroom}) × scale_up_threshold ({self.scale_up_threshold}) must exceed 1: a stream "
                f"scaled to headroom × its peak must sit below its alarm, or every scale-up re-fires it; write e.g. "
                f"headroom: {round(max(1.5, 1.25 / self.scale_up_threshold), 2)}",
            )
        p = self.alarm_period_seconds
        if p not in (10, 20, 30) and p % 60:
            raise _Problem(
                "alarm_period_seconds", f"alarm_period_seconds ({p}) must be 10, 20, 30 or a multiple of 60; write 60"
            )
        if p < 3_600 and p * self.alarm_evaluation_periods > 86_400:
            # reported at alarm_evaluation_periods: the suggested fix changes it (the period has few valid values)
            raise _Problem(
                "alarm_evaluation_periods",
                f"alarm_period_seconds × alarm_evaluation_periods ({p} × {self.alarm_evaluation_periods}) must be "
                f"≤ 86,400 s; write alarm_evaluation_periods: {86_400 // p} or less",
            )
        if self.alarm_datapoints_to_alarm > self.alarm_evaluation_periods:
            raise _Problem(
                "alarm_datapoints_to_alarm",
                f"alarm_datapoints_to_alarm ({self.alarm_datapoints_to_alarm}) must be ≤ alarm_evaluation_periods "
                f"({self.alarm_evaluation_periods}); write alarm_datapoints_to_alarm: {self.alarm_evaluation_periods}",
            )
        return self


class StreamModel(TunablesModel):
    """One managed stream: its bounds, its starting count, and any overridden tunables."""

    name: str
    min_shards: int = Field(ge=1, le=d.MAX_SHARDS_PER_STREAM)
    max_shards: int = Field(ge=1, le=d.MAX_SHARDS_PER_STREAM)
    desired_shards: int = Field(ge=1, le=d.MAX_SHARDS_PER_STREAM)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if not _STREAM_NAME.fullmatch(self.name):
            raise _Problem("name", f"name {self.name!r} is not a Kinesis stream name; use 1–128 of a-z A-Z 0-9 _ . -")
        if self.min_shards > self.max_shards:
            raise _Problem(
                "min_shards",
                f"min_shards ({self.min_shards}) is above max_shards ({self.max_shards}); "
                f"write min_shards ≤ {self.max_shards} or max_shards ≥ {self.min_shards}",
            )
        if not self.min_shards <= self.desired_shards <= self.max_shards:
            raise _Problem(
                "desired_shards",
                f"desired_shards ({self.desired_shards}) is outside [min_shards, max_shards] = "
                f"[{self.min_shards}, {self.max_shards}]; write a desired_shards in that range",
            )
        return self


# ---------------------------------------------------------------------------------------------------------------------
# Loading with line numbers


class _Lines:
    """Maps a path inside the document (("streams", 2, "min_shards")) to its 1-based line."""

    def __init__(self) -> None:
        self.by_path: dict[tuple[Any, ...], int] = {}
        self.nodes = 0  # values built so far: aliases inside aliases can expand exponentially
        self.inside: set[int] = set()  # the collection nodes being built: an alias to one of them is a cycle

    def nearest(self, path: tuple[Any, ...]) -> int | None:
        for i in range(len(path), -1, -1):
            line = self.by_path.get(tuple(path[:i]))
            if line is not None:
                return line
        return None


MAX_YAML_VALUES = 100_000  # a streams.yaml of 10,000 streams has ~50,000; more is an alias bomb


def _construct(node: yaml.Node, path: tuple[Any, ...], lines: _Lines, source: str) -> Any:
    lines.by_path.setdefault(path, node.start_mark.line + 1)
    lines.nodes += 1
    if lines.nodes > MAX_YAML_VALUES:
        raise ConfigError(
            f"{source}: expands to more than {MAX_YAML_VALUES:,} values (aliases repeated inside aliases?); write "
            f"the values out instead of the aliases"
        )
    if isinstance(node, yaml.CollectionNode):
        if id(node) in lines.inside:
            raise ConfigError(
                f"{source}, line {node.start_mark.line + 1}: an alias refers to a value that contains it; write the "
                f"value out instead of the alias"
            )
        lines.inside.add(id(node))
        try:
            return _construct_collection(node, path, lines, source)
        finally:
            lines.inside.discard(id(node))
    return _SCALARS.construct_object(node, deep=True)


def _construct_collection(node: yaml.CollectionNode, path: tuple[Any, ...], lines: _Lines, source: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, (*path, "<key>"), lines, source)
            if not isinstance(key, str):
                raise ConfigError(f"{source}, line {key_node.start_mark.line + 1}: keys must be text, got {key!r}")
            if key in out:
                raise ConfigError(
                    f"{source}, line {key_node.start_mark.line + 1}: {_dotted((*path, key))} appears twice; "
                    f"keep one (YAML would silently use the last)"
                )
            lines.by_path[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*path, key), lines, source)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, source) for i, item in enumerate(node.value)]
    return _SCALARS.construct_object(node, deep=True)


_SCALARS = yaml.SafeLoader("")  # only its constructor is used, on scalar nodes the composer already tagged


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_TOP_KEYS = ("alarm_name_prefix", "defaults", "streams")


_RENAMED = {
    "target_utilisation": "target_utilisation was replaced by headroom (capacity kept = headroom × peak demand; "
    "headroom = 1 / target_utilisation, so 0.6 becomes 1.67); write e.g. headroom: 2",
}


# Keys only a stream has (its name and shard counts): `defaults:` cannot set them.
_STREAM_ONLY = frozenset(StreamModel.model_fields) - frozenset(TunablesModel.model_fields)


def _did_you_mean(key: str, allowed: Iterable[str]) -> str | None:
    """The allowed key `key` is most likely a misspelling of, if any is close enough (difflib's 0.6 ratio)."""
    matches = difflib.get_close_matches(key, list(allowed), n=1)
    return matches[0] if matches else None


def _missing(errors: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    return frozenset(str(e["loc"][0]) for e in errors if e.get("type") == "missing" and e.get("loc"))


def _first_problem(errors: list[ErrorDetails], model: type[TunablesModel]) -> ErrorDetails:
    """The error to report: the first, unless an unknown key is a misspelling of a missing required key — then the
    misspelt key, at its own line (`desired_shard: 4` explains `desired_shards is required`, not the reverse)."""
    missing = _missing(errors)
    for err in errors:
        if err.get("type") == "extra_forbidden" and _did_you_mean(str(err["loc"][-1]), model.model_fields) in missing:
            return err
    return errors[0]


def _unknown_key(field: str, model: type[TunablesModel], missing: frozenset[str]) -> str:
    if field in _RENAMED:
        return _RENAMED[field]
    if model is TunablesModel and field in _STREAM_ONLY:
        if field == "name":
            return "name is set per stream, not in defaults; give each stream its own name"
        return f"{field} is set per stream, not in defaults; move it to each stream that needs it"
    guess = _did_you_mean(field, model.model_fields)
    if guess is not None and guess in missing:
        return f"unknown key {field!r}; did you mean {guess!r}?"
    allowed = ", ".join(sorted(model.model_fields))
    if guess is not None:
        return f"unknown key {field!r}; did you mean {guess!r}? (allowed: {allowed})"
    return f"unknown key {field!r}; check its spelling (allowed: {allowed})"


def _hint(err: Mapping[str, Any], model: type[TunablesModel], missing: frozenset[str] = frozenset()) -> str:
    """What is wrong and what to write. model: the one validated (a defaults key is checked against TunablesModel);
    missing: the required keys absent from the same mapping (an unknown key close to one of them is its misspelling)."""
    kind = err.get("type", "")
    field = str(err["loc"][-1]) if err.get("loc") else ""
    if kind == "extra_forbidden":
        return _unknown_key(field, model, missing)
    if kind == "missing":
        return f"{field} is required; add `{field}: <value>`"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{err.get('msg', '')}; write a whole number, without quotes"
    if kind in ("float_type", "float_parsing"):
        return f"{err.get('msg', '')}; write a number such as 0.8, without quotes"
    if kind == "string_type" and isinstance(err.get("input"), bool):
        return (
            f"{err.get('msg', '')}; YAML reads on/off/yes/no/true/false as booleans: quote the value, e.g. name: 'off'"
        )
    if kind == "bool_type":
        return f"{err.get('msg', '')}; write true or false"
    if kind == "value_error":
        return str(err.get("ctx", {}).get("error", err.get("msg", "")))
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{err.get('msg', '')}; write a value in {_range_text(field)}"
    return str(err.get("msg", "invalid value"))


def _range_text(field: str) -> str:
    info = StreamModel.model_fields.get(field)
    lo, hi = "(-∞", "∞)"
    for meta in info.metadata if info is not None else ():
        if getattr(meta, "gt", None) is not None:
            lo = f"({meta.gt}"
        if getattr(meta, "ge", None) is not None:
            lo = f"[{meta.ge}"
        if getattr(meta, "lt", None) is not None:
            hi = f"{meta.lt})"
        if getattr(meta, "le", None) is not None:
            hi = f"{meta.le}]"
    return f"{lo}, {hi}"


def _error_path(err: Mapping[str, Any]) -> tuple[Any, ...]:
    """Where an error belongs: its loc, or for a cross-field check the field to change (_Problem.field)."""
    loc = tuple(err.get("loc", ()))
    problem = err.get("ctx", {}).get("error") if err.get("type") == "value_error" else None
    if not loc and isinstance(problem, _Problem):
        return (problem.field,)
    return loc


def _fail(source: str, lines: _Lines, path: tuple[Any, ...], message: str) -> ConfigError:
    line = lines.nearest(path)
    where = f"{source}, line {line}" if line else source
    return ConfigError(f"{where}, {_dotted(path)}: {message}")


def parse_yaml(text: str, source: str = "<string>") -> AutoscalerConfig:
    """Parse and validate streams.yaml text. Raises ConfigError naming file, line, field and fix."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}, line {mark.line + 1}" if mark is not None else source
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax") from exc
    if node is None:
        raise ConfigError(f"{source}: the file is empty; add a `streams:` list")
    lines = _Lines()
    try:
        raw = _construct(node, (), lines, source)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: cannot read a value ({exc}); fix the syntax") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}, line 1: the top level must be a mapping with a `streams:` list")
    for key in raw:
        if key not in _TOP_KEYS:
            raise _fail(source, lines, (key,), f"unknown top-level key {key!r}; allowed: {', '.join(_TOP_KEYS)}")

    prefix = raw.get("alarm_name_prefix", d.ALARM_NAME_PREFIX)
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise _fail(source, lines, ("alarm_name_prefix",), "use 1–64 of a-z A-Z 0-9 _ . -")

    raw_defaults = raw.get("defaults") or {}
    if not isinstance(raw_defaults, dict):
        raise _fail(source, lines, ("defaults",), "must be a mapping of setting: value")
    try:
        tunables = TunablesModel.model_validate(raw_defaults)
    except ValidationError as exc:
        err = _first_problem(exc.errors(), TunablesModel)
        raise _fail(source, lines, ("defaults", *_error_path(err)), _hint(err, TunablesModel)) from None

    raw_streams = raw.get("streams")
    if not isinstance(raw_streams, list) or not raw_streams:
        raise _fail(source, lines, ("streams",), "must be a non-empty list of streams (- name: …)")
    streams: list[StreamConfig] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw_streams):
        if not isinstance(item, dict):
            raise _fail(source, lines, ("streams", i), "each stream must be a mapping with name, min_shards, …")
        merged = {**raw_defaults, **item}
        try:
            stream = StreamModel.model_validate(merged)
        except ValidationError as exc:
            errors = exc.errors()
            err = _first_problem(errors, StreamModel)
            loc = _error_path(err)
            hint = _hint(err, StreamModel, _missing(errors))
            key = loc[0] if loc else None
            if key is not None and key not in item and key in raw_defaults:
                raise _fail(source, lines, ("defaults", *loc), hint) from None
            raise _fail(source, lines, ("streams", i, *loc), hint) from None
        if stream.name in seen:
            raise _fail(
                source,
                lines,
                ("streams", i, "name"),
                f"stream {stream.name!r} is listed twice (first as streams[{seen[stream.name]}]); keep one entry",
            )
        seen[stream.name] = i
        streams.append(StreamConfig(**stream.model_dump()))
    return AutoscalerConfig(
        source=source, alarm_name_prefix=prefix, defaults=Tunables(**tunables.model_dump()), streams=tuple(streams)
    )
