"""streams.yaml → AutoscalerConfig: strict pydantic models and a loader whose errors name the file, line, field
and fix. Imported only when YAML is read (the Lambda reads a compiled snapshot instead: see config/__init__.py).

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
from dataclasses import fields
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from pydantic_core import ErrorDetails

from autoscaler.config.rules import (
    ALARM_NAME_PREFIX_PATTERN,
    ALARM_NAME_PREFIX_TEXT,
    STREAM_BOUNDS,
    TEXT_LENGTHS,
    TUNABLE_BOUNDS,
    stream_problem,
    tunables_problem,
)
from autoscaler.config.values import AutoscalerConfig, StreamConfig, Tunables
from autoscaler.core import defaults as d
from autoscaler.core.errors import ConfigError


class _Problem(ValueError):
    """A cross-field check that failed, with the field the operator should change (the error is reported at it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _field(name: str, default: Any = ...) -> Any:
    """A pydantic Field with the key's range from rules.py (the snapshot loader checks the same bounds)."""
    bound = TUNABLE_BOUNDS.get(name) or STREAM_BOUNDS.get(name)
    kw: dict[str, Any] = {k: v for k, v in (bound._asdict() if bound else {}).items() if v is not None}
    if name in TEXT_LENGTHS:
        kw["min_length"], kw["max_length"] = TEXT_LENGTHS[name]
    return Field(default, **kw)


def _tunables_checks(model: Any) -> Any:
    problem = tunables_problem(model)
    if problem is not None:
        raise _Problem(*problem)
    return model


def _stream_checks(model: Any) -> Any:
    problem = stream_problem(model)
    if problem is not None:
        raise _Problem(*problem)
    return model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


_TYPES: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str}
_TUNABLE_KEYS = frozenset(f.name for f in fields(Tunables))

# The keys are the dataclasses' (values.py): one field list, whichever loader reads the file.
_tunable_fields: dict[str, Any] = {f.name: (_TYPES[str(f.type)], _field(f.name, f.default)) for f in fields(Tunables)}
_stream_fields: dict[str, Any] = {
    f.name: (_TYPES[str(f.type)], _field(f.name)) for f in fields(StreamConfig) if f.name not in _TUNABLE_KEYS
}
_coherent: Any = model_validator(mode="after")(_tunables_checks)
_bounds: Any = model_validator(mode="after")(_stream_checks)
TunablesModel: type[BaseModel] = create_model(
    "TunablesModel", __base__=_Strict, __validators__={"_coherent": _coherent}, **_tunable_fields
)
StreamModel: type[BaseModel] = create_model(
    "StreamModel", __base__=TunablesModel, __validators__={"_bounds": _bounds}, **_stream_fields
)


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
    return _scalar(node, path, lines, source)


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
    return _scalar(node, path, lines, source)


_SCALARS = yaml.SafeLoader("")  # only its constructor is used, on scalar nodes the composer already tagged
_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_TEXT_KEYS = frozenset({"name", "kms_key_id", "alarm_name_prefix"})  # keys whose values are text
_OCTAL = re.compile(r"0[0-7_]+")  # YAML 1.1's octal; YAML 1.2 reads the digits as decimal


def _scalar(node: yaml.Node, path: tuple[Any, ...], lines: _Lines, source: str) -> Any:
    """A scalar, refusing the numbers YAML 1.1 (PyYAML) silently reads as another number than the one written:
    `064` is octal 52 (64 in YAML 1.2), `1:04` base 60, 64 (text in YAML 1.2). Spellings that can only mean one
    number are accepted: `0x40`, `10_000` (tests/unit/test_bad_config_corpus.py ACCEPTED_QUIRKS)."""
    value = _SCALARS.construct_object(node, deep=True)
    text = str(node.value)
    digits = text.lstrip("+-")
    key = path[-1] if path else None
    if key in _TEXT_KEYS and node.tag in (_INT_TAG, _FLOAT_TAG) and (":" in text or _OCTAL.fullmatch(digits)):
        # a text key: the number YAML would read is not the fix, the quotes are (a stream named 0123 is not 123)
        hint = f"{text!r} is read by YAML 1.1 as the number {value!r}; quote it: {key}: '{text}'"
        raise _fail(source, lines, path, hint)
    if node.tag in (_INT_TAG, _FLOAT_TAG) and ":" in text:
        hint = f"{text!r} is read by YAML 1.1 as base 60 ({value!r}) and by YAML 1.2 as text; write {value!r}"
        raise _fail(source, lines, path, hint + ", or quote it if it is text")
    if node.tag == _INT_TAG and _OCTAL.fullmatch(digits):
        meant = text.replace(digits, digits.lstrip("0_") or "0")
        hint = (
            f"{text!r} is octal in YAML 1.1 ({value}) but {meant} in YAML 1.2; write {meant} without the leading zero"
        )
        raise _fail(source, lines, path, hint + ", or quote it if it is text")
    return value


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


def _first_problem(errors: list[ErrorDetails], model: type[BaseModel]) -> ErrorDetails:
    """The error to report: the first, unless an unknown key is a misspelling of a missing required key — then the
    misspelt key, at its own line (`desired_shard: 4` explains `desired_shards is required`, not the reverse)."""
    missing = _missing(errors)
    for err in errors:
        if err.get("type") == "extra_forbidden" and _did_you_mean(str(err["loc"][-1]), model.model_fields) in missing:
            return err
    return errors[0]


def _unknown_key(field: str, model: type[BaseModel], missing: frozenset[str]) -> str:
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


def _hint(err: Mapping[str, Any], model: type[BaseModel], missing: frozenset[str] = frozenset()) -> str:
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
    bound = TUNABLE_BOUNDS.get(field) or STREAM_BOUNDS.get(field)
    return bound.text() if bound is not None else "(-∞, ∞)"


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
    if not isinstance(prefix, str) or not ALARM_NAME_PREFIX_PATTERN.fullmatch(prefix):
        raise _fail(source, lines, ("alarm_name_prefix",), ALARM_NAME_PREFIX_TEXT)

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
        values = stream.model_dump()
        name = values["name"]
        if name in seen:
            raise _fail(
                source,
                lines,
                ("streams", i, "name"),
                f"stream {name!r} is listed twice (first as streams[{seen[name]}]); keep one entry",
            )
        seen[name] = i
        streams.append(StreamConfig(**values))
    return AutoscalerConfig(
        source=source, alarm_name_prefix=prefix, defaults=Tunables(**tunables.model_dump()), streams=tuple(streams)
    )
