"""The configuration the autoscaler runs on: immutable values, loaded once per process.

Two sources, one result:
- streams.yaml (what operators edit) is validated strictly by autoscaler/config/yaml_loader.py — pydantic models,
  errors naming the file, line, field and fix. Imported only when a YAML file is read.
- a compiled snapshot (JSON written by `kinesis-autoscaler validate-config --compile`, and by the Lambda build) holds
  the already-validated result; the Lambda loads it with no pydantic and no YAML parser. Pydantic's first model
  costs ~0.17 s of cold start on its own (bench/cold_start.py), more than the whole budget the scale-up path has.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from autoscaler.config.rules import (
    ALARM_NAME_PREFIX_PATTERN,
    ALARM_NAME_PREFIX_TEXT,
    TEXT_LENGTHS,
    TUNABLE_BOUNDS,
    range_problem,
    stream_config_problem,
    tunables_problem,
)
from autoscaler.config.values import AutoscalerConfig, StreamConfig, Tunables
from autoscaler.core import defaults as d
from autoscaler.core.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "AutoscalerConfig",
    "StreamConfig",
    "Tunables",
    "config_path_from_env",
    "from_snapshot",
    "load_config",
    "parse_config",
    "snapshot",
]

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[2] / "config" / "streams.yaml"
CONFIG_ENV = "AUTOSCALER_CONFIG"
SNAPSHOT_FORMAT = "kinesis-autoscaler/config-snapshot"
SNAPSHOT_VERSION = 1


def parse_config(text: str, source: str = "<string>") -> AutoscalerConfig:
    """Validate streams.yaml text. Raises ConfigError naming file, line, field and fix."""
    from autoscaler.config.yaml_loader import parse_yaml

    return parse_yaml(text, source)


def snapshot(config: AutoscalerConfig, source_text: str) -> dict[str, Any]:
    """The compiled form of a validated config (JSON-ready), with the digest of the YAML it came from."""
    import hashlib

    return {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "source": config.source,
        "source_sha256": hashlib.sha256(source_text.encode()).hexdigest(),
        "alarm_name_prefix": config.alarm_name_prefix,
        "defaults": asdict(config.defaults),
        "streams": [asdict(s) for s in config.streams],
    }


_SNAPSHOT_TYPES: dict[str, type | tuple[type, ...]] = {"bool": bool, "int": int, "float": (int, float), "str": str}


def _typed(cls: type[Any], raw: Any, where: str) -> Any:
    """Build a dataclass from a snapshot mapping, checking keys and value types (the YAML validator made it)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} is not an object")
    known = {f.name: f for f in fields(cls)}
    unknown = set(raw) - set(known)
    if unknown:
        raise ConfigError(f"{where} has unknown keys {sorted(unknown)}")
    for key, value in raw.items():
        want: type | tuple[type, ...] = _SNAPSHOT_TYPES[str(known[key].type)]
        if (isinstance(value, bool) and want is not bool) or not isinstance(value, want):
            raise ConfigError(f"{where}.{key} has the wrong type ({type(value).__name__})")
    try:
        return cls(**raw)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def from_snapshot(data: Any, source: str) -> AutoscalerConfig:
    """Load a compiled snapshot. A file that is not one (or an older format) is refused with what to do."""
    fix = "recompile it with `kinesis-autoscaler validate-config --config streams.yaml --compile OUT.json`"
    if not isinstance(data, Mapping) or data.get("format") != SNAPSHOT_FORMAT:
        raise ConfigError(f"{source}: not a kinesis-autoscaler config snapshot; {fix}")
    if data.get("version") != SNAPSHOT_VERSION:
        raise ConfigError(f"{source}: snapshot version {data.get('version')!r}, expected {SNAPSHOT_VERSION}; {fix}")
    streams = data.get("streams")
    if not isinstance(streams, list) or not streams:
        raise ConfigError(f"{source}: snapshot has no streams; {fix}")
    config = AutoscalerConfig(
        source=f"{source} (compiled from {data.get('source')})",
        alarm_name_prefix=str(data.get("alarm_name_prefix", d.ALARM_NAME_PREFIX)),
        defaults=_typed(Tunables, data.get("defaults", {}), f"{source}: defaults"),
        streams=tuple(_typed(StreamConfig, s, f"{source}: streams[{i}]") for i, s in enumerate(streams)),
    )
    problem = _unsafe(config)
    if problem:
        raise ConfigError(f"{source}: {problem}; {fix}")
    return config


def _unsafe(config: AutoscalerConfig) -> str | None:
    """The YAML loader's rules (rules.py), re-checked on a snapshot in plain Python (defence in depth: the snapshot
    came from the validator, but a hand-edited file must not reach the planner)."""
    if not ALARM_NAME_PREFIX_PATTERN.fullmatch(config.alarm_name_prefix):
        return f"alarm_name_prefix {config.alarm_name_prefix[:80]!r}: {ALARM_NAME_PREFIX_TEXT}"
    names = [s.name for s in config.streams]
    if len(set(names)) != len(names):
        return "a stream is listed twice"
    defaults = {key: getattr(config.defaults, key) for key in (*TUNABLE_BOUNDS, *TEXT_LENGTHS)}
    problem = range_problem(defaults, TUNABLE_BOUNDS) or tunables_problem(config.defaults)
    if problem is not None:
        return f"defaults.{problem.field}: {problem.message}"
    for s in config.streams:
        problem = stream_config_problem(s)
        if problem is not None:
            return f"stream {s.name!r}, {problem.field}: {problem.message}"
    return None


@functools.lru_cache(maxsize=8)
def _load_cached(path: str) -> AutoscalerConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; set {CONFIG_ENV} or --config to your streams.yaml") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position {exc.start}); "
            "save the file as UTF-8"
        ) from None
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
        return from_snapshot(data, path)
    return parse_config(text, source=path)


def load_config(path: str | os.PathLike[str] | None = None) -> AutoscalerConfig:
    """Load and validate a config file (YAML, or a compiled .json snapshot) once per process."""
    return _load_cached(str(path if path is not None else DEFAULT_CONFIG_PATH))


def config_path_from_env(environ: Mapping[str, str]) -> str:
    """The handlers' config path: $AUTOSCALER_CONFIG, else the bundled config/streams.yaml."""
    return environ.get(CONFIG_ENV) or str(DEFAULT_CONFIG_PATH)
