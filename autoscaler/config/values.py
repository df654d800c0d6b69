"""The configuration's values: immutable dataclasses, the same whether read from streams.yaml (validated by
yaml_loader.py) or from a compiled snapshot. No pydantic and no YAML here: the Lambda imports this module only."""

from __future__ import annotations

from dataclasses import dataclass, field

from autoscaler.core import defaults as d


@dataclass(frozen=True, kw_only=True)
class Tunables:
    """Settings every stream has; `defaults:` and each stream may override them (ranges: config_yaml.py)."""

    enabled: bool = True
    scale_up_threshold: float = d.SCALE_UP_THRESHOLD
    scale_down_threshold: float = d.SCALE_DOWN_THRESHOLD
    headroom: float = d.HEADROOM
    rise_lookahead_periods: float = d.RISE_LOOKAHEAD_PERIODS
    scale_up_lookback_minutes: int = d.SCALE_UP_LOOKBACK_MINUTES
    scale_down_lookback_hours: int = d.SCALE_DOWN_LOOKBACK_HOURS
    scale_up_cooldown_seconds: int = d.SCALE_UP_COOLDOWN_SECONDS
    scale_down_cooldown_seconds: int = d.SCALE_DOWN_COOLDOWN_SECONDS
    far_over_cooldown_seconds: int = d.FAR_OVER_COOLDOWN_SECONDS
    fallback_scale_up_factor: float = d.FALLBACK_SCALE_UP_FACTOR
    alarm_period_seconds: int = d.ALARM_PERIOD_SECONDS
    alarm_evaluation_periods: int = d.ALARM_EVALUATION_PERIODS
    alarm_datapoints_to_alarm: int = d.ALARM_DATAPOINTS_TO_ALARM
    retention_hours: int = d.RETENTION_HOURS
    encrypt: bool = d.ENCRYPT
    kms_key_id: str = d.KMS_KEY_ID
    shard_level_metrics: bool = d.SHARD_LEVEL_METRICS
    capacity_mode: str = d.CAPACITY_MODE  # one of core.capacity_mode.ModePolicy
    warm_on_switch: bool = d.WARM_ON_SWITCH
    read_side: bool = d.READ_SIDE
    read_consumers: int = d.READ_CONSUMERS
    max_iterator_age_seconds: int = d.MAX_ITERATOR_AGE_SECONDS


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

    @property
    def read_side_names(self) -> frozenset[str]:
        """The streams whose read side the autoscaler manages (read_side: true)."""
        return frozenset(s.name for s in self.streams if s.read_side)
