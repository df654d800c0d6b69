"""Domain values shared by the core, the ports and the adapters. Pure: no boto3, no clock, no environment."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from autoscaler.core.limits import MAX_HASH_KEY


class Shard(NamedTuple):
    """An OPEN shard and its inclusive hash-key range [start, end].

    NamedTuple rather than a dataclass for the value types made in bulk (shards, split ops, series): a stream can
    have 10,000 shards, and a frozen dataclass costs ~4× more per instance and ~1 ms per class at import.
    """

    shard_id: str
    start: int
    end: int

    @property
    def width(self) -> int:
        return self.end - self.start + 1

    @property
    def share(self) -> float:
        """Fraction of the whole key space this shard owns (uniform keys ⇒ fraction of the traffic)."""
        return self.width / (MAX_HASH_KEY + 1)


class StreamMode(enum.StrEnum):
    PROVISIONED = "PROVISIONED"
    ON_DEMAND = "ON_DEMAND"


class OnDemandPricing(enum.StrEnum):
    """How the account's on-demand streams are billed in this Region (DescribeAccountSettings)."""

    STANDARD = "standard"  # per stream-hour + per GB
    ADVANTAGE = "advantage"  # the account's minimum throughput commitment is on: no stream-hour, lower per GB


class StreamDescription(NamedTuple):
    """What DescribeStreamSummary says that matters here (OpenShardCount is NOT used: moto never updates it)."""

    name: str
    status: str  # CREATING | DELETING | ACTIVE | UPDATING
    mode: StreamMode
    shard_level_metrics: frozenset[str] = frozenset()
    arn: str = ""


class TriggerKind(enum.StrEnum):
    """Why the scale-up was asked for."""

    UTILISATION = "utilisation"  # IncomingBytes / IncomingRecords (or a math alarm over them) breached
    THROTTLE = "throttle"  # WriteProvisionedThroughputExceeded > 0
    READ = "read"  # a read-side alarm: GetRecords.Bytes, ReadProvisionedThroughputExceeded or the iterator age rose
    OPERATOR = "operator"  # the CLI asked


class OpKind(enum.StrEnum):
    SPLIT = "split"
    UPDATE_SHARD_COUNT = "update_shard_count"
    MERGE = "merge"


class SplitOp(NamedTuple):
    """Split the OPEN shard whose range is exactly [parent_start, parent_end] at new_starting_hash_key.

    Addressed by hash range, not only by id: children of earlier splits in the same plan have no id yet, and a
    re-read after a crash finds the same range under whatever id AWS gave it.
    """

    parent_start: int
    parent_end: int
    new_starting_hash_key: int
    parent_shard_id: str | None = None  # known when the parent exists at planning time

    @property
    def kind(self) -> OpKind:
        return OpKind.SPLIT

    def describe(self) -> str:
        who = self.parent_shard_id or f"[{self.parent_start}…{self.parent_end}]"
        share = (self.parent_end - self.parent_start + 1) / (MAX_HASH_KEY + 1)
        return f"split {who} ({share:.2%} of keys) at {self.new_starting_hash_key}"

    def as_dict(self) -> dict[str, object]:
        """The operation as data (the CLI's JSON). Hash keys are decimal strings, as AWS's API writes them: they
        exceed a JSON double's 2^53."""
        return {
            "kind": self.kind.value,
            "shard_id": self.parent_shard_id,
            "hash_key_range": [str(self.parent_start), str(self.parent_end)],
            "key_share": (self.parent_end - self.parent_start + 1) / (MAX_HASH_KEY + 1),
            "new_starting_hash_key": str(self.new_starting_hash_key),
            "description": self.describe(),
        }


class UpdateShardCountOp(NamedTuple):
    """One UpdateShardCount(UNIFORM_SCALING) call from `current` to `target`."""

    current: int
    target: int

    @property
    def kind(self) -> OpKind:
        return OpKind.UPDATE_SHARD_COUNT

    def describe(self) -> str:
        return f"update_shard_count {self.current} -> {self.target} (UNIFORM_SCALING)"

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "from_shards": self.current,
            "to_shards": self.target,
            "scaling_type": "UNIFORM_SCALING",
            "description": self.describe(),
        }


class MergeOp(NamedTuple):
    """Merge two adjacent OPEN shards: [lower_start, lower_end] + [lower_end + 1, upper_end].

    Addressed by hash range like SplitOp. The lower shard is passed as ShardToMerge (moto rejects the other order;
    AWS accepts either).
    """

    lower_start: int
    lower_end: int
    upper_end: int
    lower_shard_id: str | None = None
    upper_shard_id: str | None = None

    @property
    def kind(self) -> OpKind:
        return OpKind.MERGE

    def describe(self) -> str:
        who = (
            f"{self.lower_shard_id} + {self.upper_shard_id}"
            if self.lower_shard_id and self.upper_shard_id
            else f"[{self.lower_start}…{self.lower_end}] + [{self.lower_end + 1}…{self.upper_end}]"
        )
        share = (self.upper_end - self.lower_start + 1) / (MAX_HASH_KEY + 1)
        return f"merge {who} ({share:.2%} of keys)"

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "shard_ids": [self.lower_shard_id, self.upper_shard_id],
            "hash_key_range": [str(self.lower_start), str(self.upper_end)],
            "key_share": (self.upper_end - self.lower_start + 1) / (MAX_HASH_KEY + 1),
            "description": self.describe(),
        }


Op = SplitOp | UpdateShardCountOp


class MetricSeries(NamedTuple):
    """Raw Sum datapoints of one metric, one value per period, oldest first. Missing periods are absent."""

    period_seconds: int
    values: tuple[float, ...] = ()


class ReadMetrics(NamedTuple):
    """Stream-level read series over the scale-up lookback, oldest first, missing periods absent."""

    bytes_read: MetricSeries  # GetRecords.Bytes, Sum
    calls: MetricSeries  # GetRecords.Success, Sum
    throttled_calls: MetricSeries  # ReadProvisionedThroughputExceeded, Sum
    iterator_age_ms: MetricSeries  # GetRecords.IteratorAgeMilliseconds, Maximum


class StreamMetrics(NamedTuple):
    """Stream-level write metrics over the scale-up lookback, plus shard-level IncomingBytes when enabled."""

    incoming_bytes: MetricSeries
    incoming_records: MetricSeries
    shard_incoming_bytes: Mapping[str, float] = MappingProxyType({})  # shard id -> Sum over the lookback
    throttled_records: MetricSeries | None = None  # WriteProvisionedThroughputExceeded Sums (records refused)
    read: ReadMetrics | None = None  # the read side's series, when the stream's read side is managed


class History(NamedTuple):
    """A stream's write history as CloudWatch keeps it: (period start, period seconds, IncomingBytes Sum,
    IncomingRecords Sum) rows, oldest first; periods may differ (5-minute beyond 15 days, 1-minute after)."""

    stream: str
    rows: tuple[tuple[int, int, float, float], ...]
    source: str


class Direction(enum.StrEnum):
    """What a run on a stream does; UP and DOWN each have a cooldown, a capacity-mode switch (MODE) has none."""

    UP = "up"
    DOWN = "down"
    MODE = "mode"


class LockState(NamedTuple):
    """A stream's cooldown-lock item (aws/cooldown.py describes its DynamoDB shape)."""

    stream: str
    owner: str | None = None
    lease_until: float = 0.0
    cooldown_until: Mapping[Direction, float] = MappingProxyType({})
    last_action: str | None = None
    last_action_at: float | None = None
    update_shard_count_calls: tuple[float, ...] = ()  # epoch seconds of our UpdateShardCount calls, last 24 h
    mode_switches: tuple[float, ...] = ()  # epoch seconds of our UpdateStreamMode calls, last MODE_SWITCH_MEMORY
