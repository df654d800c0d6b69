"""The configuration the autoscaler runs on: immutable values, loaded once per process.

Two sources, one result:
- streams.yaml (what operators edit) is validated strictly by autoscaler/config_yaml.py — pydantic models,
  errors naming the file, line, field and fix. Imported only when a YAML file is read.
- a compiled snapshot (JSON written by `kinesis-autoscaler validate-config --compile`, and by the Lambda build) holds
  the already-validated result; the Lambda loads it with no pydantic and no YAML parser. Pydantic's first model
  costs ~0.17 s of cold start on its own (bench/cold_start.py), more than the whole budget the scale-up path has.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from autoscaler import defaults as d
from autoscaler.errors import ConfigError

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "streams.yaml"
CONFIG_ENV = "AUTOSCALER_CONFIG"
SNAPSHOT_FORMAT = "kinesis-autoscaler/config-snapshot"
SNAPSHOT_VERSION = 1
_STREAM_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")


@dataclass(frozen=True, kw_only=True)
class Tunables:
    """Settings every stream has; `defaults:` and each stream may override them (ranges: config_yaml.py)."""

    enabled: bool = True
    scale_up_threshold: float = d.SCALE_UP_THRESHOLD
    scale_down_threshold: float = d.SCALE_DOWN_THRESHOLD
    headroom: float = d.HEADROOM
    scale_up_lookback_minutes: int = d.SCALE_UP_LOOKBACK_MINUTES
    scale_down_lookback_hours: int = d.SCALE_DOWN_LOOKBACK_HOURS
    scale_up_cooldown_seconds: int = d.SCALE_UP_COOLDOWN_SECONDS
    scale_down_cooldown_seconds: int = d.SCALE_DOWN_COOLDOWN_SECONDS
    fallback_scale_up_factor: float = d.FALLBACK_SCALE_UP_FACTOR
    alarm_period_seconds: int = d.ALARM_PERIOD_SECONDS
    alarm_evaluation_periods: int = d.ALARM_EVALUATION_PERIODS
    alarm_datapoints_to_alarm: int = d.ALARM_DATAPOINTS_TO_ALARM
    retention_hours: int = d.RETENTION_HOURS
    encrypt: bool = d.ENCRYPT
    kms_key_id: str = d.KMS_KEY_ID
    shard_level_metrics: bool = d.SHARD_LEVEL_METRICS


@dataclass(frozen=True, kw_only=True)
class StreamConfig(Tunables):
    """One managed stream: its bounds, its starting count, and its tunables (defaults merged in)."""

    name: str
    min_shards: int
    max_shards: int
    desired_shards: int


@dataclass(frozen=True, slots=True)
class AutoscalerConfig:
    """The loaded, validated, immutable configuration."""

    source: str
    alarm_name_prefix: str
    defaults: Tunables
    streams: tuple[StreamConfig, ...]
    # name -> stream: every event, result and continuation item is looked up here (a scan made a 10,000-stream run's
    # lookups O(n^2): 1.35 s for 10,000 of them). Names are unique (validated).
    _by_name: dict[str, StreamConfig] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {s.name: s for s in self.streams})

    def stream(self, name: str) -> StreamConfig | None:
        return self._by_name.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.streams)


def parse_config(text: str, source: str = "<string>") -> AutoscalerConfig:
    """Validate streams.yaml text. Raises ConfigError naming file, line, field and fix."""
    from autoscaler.config_yaml import parse_yaml

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
    """The invariants the core relies on, re-checked on a snapshot in plain Python (defence in depth: the
    snapshot came from the validator, but a hand-edited file must not reach the planner)."""
    names = [s.name for s in config.streams]
    if len(set(names)) != len(names):
        return "a stream is listed twice"
    for s in config.streams:
        floats = (s.scale_up_threshold, s.scale_down_threshold, s.headroom, s.fallback_scale_up_factor)
        checks = {
            "1 ≤ min_shards ≤ desired_shards ≤ max_shards ≤ 10,000": 1
            <= s.min_shards
            <= s.desired_shards
            <= s.max_shards
            <= d.MAX_SHARDS_PER_STREAM,
            "0 < scale_down_threshold < scale_up_threshold ≤ 1 < headroom × scale_up_threshold, headroom ≤ 10": all(
                map(math.isfinite, floats)
            )
            and 0 < s.scale_down_threshold < s.scale_up_threshold <= 1
            and s.scale_up_threshold - d.SCALE_DOWN_SAFETY_MARGIN - s.scale_down_threshold > 1e-9
            and s.headroom * s.scale_up_threshold > 1
            and s.headroom <= d.MAX_HEADROOM,
            "1 < fallback_scale_up_factor ≤ 2": 1 < s.fallback_scale_up_factor <= 2,
            "cooldowns ≥ 0 and lookbacks ≥ 1": min(s.scale_up_cooldown_seconds, s.scale_down_cooldown_seconds) >= 0
            and min(s.scale_up_lookback_minutes, s.scale_down_lookback_hours) >= 1,
            "alarm period > 0 and 1 ≤ datapoints ≤ evaluation periods": s.alarm_period_seconds > 0
            and 1 <= s.alarm_datapoints_to_alarm <= s.alarm_evaluation_periods,
            "a Kinesis stream name": bool(_STREAM_NAME.fullmatch(s.name)),
        }
        broken = [rule for rule, ok in checks.items() if not ok]
        if broken:
            return f"stream {s.name!r} breaks {broken[0]}"
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
