"""The ports the service talks through. aws/ implements them on boto clients; sim/ implements them in memory.

Each method's docstring is its contract; both implementations keep it, and the tests hold them to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol

from autoscaler.config.values import StreamConfig
from autoscaler.core.capacity import AlarmSpec
from autoscaler.core.capacity_mode import ModeEvidence
from autoscaler.core.model import (
    Direction,
    LockState,
    OnDemandPricing,
    Shard,
    StreamDescription,
    StreamMetrics,
    StreamMode,
)
from autoscaler.events import Continuation

__all__ = [  # Direction and LockState are domain types (model.py), re-exported for the ports' users
    "AlarmInfo",
    "AlarmsPort",
    "Budget",
    "Clock",
    "ContinuationPort",
    "CooldownPort",
    "Direction",
    "EstimatorPort",
    "KinesisPort",
    "LockState",
    "MetricsPort",
]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let `seconds` pass (the simulated clock advances instead of sleeping)."""
        ...


class Budget(Protocol):
    def remaining(self) -> float:
        """Seconds left in this invocation (Lambda: get_remaining_time_in_millis / 1000)."""
        ...


class KinesisPort(Protocol):
    def describe(self, stream: str) -> StreamDescription:
        """Status, capacity mode and shard-level metrics. Raises StreamNotFound."""
        ...

    def describe_all(self) -> dict[str, StreamDescription]:
        """Every stream of the account and region: status and capacity mode (shard-level metrics not included)."""
        ...

    def list_open_shards(self, stream: str) -> list[Shard]:
        """Every OPEN shard (CLOSED ones dropped), sorted by starting hash key. Raises StreamNotFound."""
        ...

    def split_shard(self, stream: str, shard_id: str, new_starting_hash_key: int) -> None:
        """Start one split; the stream goes UPDATING. Raises StreamBusy (not ACTIVE), ThrottledError (TPS),
        QuotaExhausted (account shard limit), StreamNotFound."""
        ...

    def merge_shards(self, stream: str, lower_shard_id: str, upper_shard_id: str) -> None:
        """Start one merge of two adjacent OPEN shards (lower passed as ShardToMerge); the stream goes UPDATING.
        Raises StreamBusy, ThrottledError, InvalidRequest (not open or not adjacent), StreamNotFound."""
        ...

    def update_shard_count(self, stream: str, target: int) -> None:
        """Start UpdateShardCount(UNIFORM_SCALING). Raises StreamBusy, ThrottledError, UpdateShardCountLimit
        (calls per 24 h or the [½×, 2×] rule), QuotaExhausted, StreamNotFound."""
        ...

    def update_stream_mode(self, stream: str, mode: StreamMode, warm_mibps: int | None = None) -> bool:
        """Start switching the stream's capacity mode (UpdateStreamMode, by the stream's ARN); it goes UPDATING and
        keeps its shard count. With warm_mibps (to on-demand, in an Advantage account), the write throughput asked to
        be ready at once; refused, the switch is made without it. Returns whether warm throughput was accepted.
        Raises StreamBusy (not ACTIVE), ModeSwitchRefused (two switches in 24 h, or the on-demand stream quota),
        StreamNotFound. A switch to the mode the stream is in is never asked for: AWS does not document its reply
        (the double counts it as a switch)."""
        ...

    def on_demand_quota(self) -> tuple[int, int]:
        """(on-demand streams in the account and region, their limit): DescribeLimits' OnDemandStreamCount and
        OnDemandStreamCountLimit."""
        ...

    def on_demand_pricing(self) -> OnDemandPricing:
        """ADVANTAGE while the account's minimum throughput billing commitment is ENABLED (or ENABLED until its
        earliest allowed end), else STANDARD: DescribeAccountSettings. Raises AwsCallFailed when it cannot be read."""
        ...

    def wait_until_active(self, stream: str, timeout_seconds: float) -> None:
        """Return once the stream is ACTIVE; raise StreamBusy if it is not within timeout_seconds."""
        ...


class MetricsPort(Protocol):
    def write_metrics(
        self,
        stream: str,
        *,
        end: float,
        lookback_seconds: int,
        period_seconds: int,
        shard_ids: Sequence[str] = (),
        read: bool = False,
    ) -> StreamMetrics:
        """Raw Sum series of IncomingBytes and IncomingRecords for [end − lookback, end), aligned to the period,
        oldest first, missing periods absent; plus each listed shard's IncomingBytes Sum over the window; with
        `read`, the read side's series too (GetRecords.Bytes, .Success, ReadProvisionedThroughputExceeded as Sums,
        GetRecords.IteratorAgeMilliseconds as Maximum)."""
        ...

    def fleet_series(
        self, streams: Sequence[str], metrics: Sequence[str], *, start: int, end: int, period_seconds: int
    ) -> dict[str, dict[str, dict[int, float]]]:
        """Sum series (Maximum for the lag metrics: core/limits.py stat_of) of each stream-level metric for every
        stream over [start, end) (both aligned to the period), in as few GetMetricData calls as the API allows:
        stream -> metric -> {period start: value}. Missing periods are absent. Raises MetricsUnavailable if any
        series could not be read completely."""
        ...


class AlarmInfo(NamedTuple):
    name: str
    threshold: float
    period_seconds: int
    state: str


class AlarmsPort(Protocol):
    def get_alarms(self, names: Sequence[str]) -> dict[str, AlarmInfo]:
        """The named metric alarms that exist (missing names are simply absent)."""
        ...

    def put_thresholds(self, thresholds: Mapping[str, float]) -> None:
        """Change only the Threshold of each existing alarm, keeping the rest of its configuration and its state."""
        ...

    def set_ok(self, names: Sequence[str], reason: str) -> None:
        """SetAlarmState OK on each, so the next breach is a transition that fires the actions again."""
        ...

    def alarmed(self, name_prefix: str) -> list[str]:
        """The names of the metric alarms in ALARM whose names start with name_prefix, sorted."""
        ...

    def ensure_alarms(self, specs: Sequence[AlarmSpec], action_arns: Sequence[str]) -> None:
        """Create or overwrite each alarm to match its spec (PutMetricAlarm), actions on ALARM → action_arns."""
        ...


class CooldownPort(Protocol):
    def acquire(
        self,
        stream: str,
        *,
        owner: str,
        now: float,
        lease_until: float,
        blocked_by: Sequence[Direction],
        take_over_from: str | None = None,
    ) -> LockState:
        """Take the stream's lock in one conditional write: free or lease expired, and no cooldown in `blocked_by`
        still running. With `take_over_from`, only if that owner still holds it, whatever its lease (a
        continuation taking over from the run that handed on; it passes no `blocked_by`, so no cooldown is
        checked). Raises LockHeld (someone else holds it, or the handing run no longer does) or CooldownActive
        (a cooldown runs), saying which and carrying the item that refused (`.state`, None when there was none);
        LockUnavailable when the table cannot be written."""
        ...

    def release(
        self,
        stream: str,
        *,
        owner: str,
        now: float,
        cooldowns: Mapping[Direction, float],
        action: str | None,
    ) -> None:
        """Drop the lease if we still own it, setting each given cooldown end (epoch s) and the last action.
        A lock taken over by someone else after our lease expired is left alone."""
        ...

    def renew(self, stream: str, *, owner: str, now: float, lease_until: float) -> LockState:
        """Re-assert ownership before an operation, in one conditional write that also extends the lease to
        `lease_until`: only while `owner` still holds the item (a lease that lapsed with nobody taking the lock over
        is still ours). Raises LockHeld, carrying the item, when another run holds it or nobody does;
        LockUnavailable when the table cannot be written."""
        ...

    def note_update_shard_count(self, stream: str, *, owner: str, at: float) -> None:
        """Record one UpdateShardCount call (kept 24 h) for the per-stream quota, as the lock owner."""
        ...

    def note_mode_switch(self, stream: str, *, owner: str, at: float) -> None:
        """Record one UpdateStreamMode call (kept MODE_SWITCH_MEMORY_SECONDS: the switch budget and the dwell), as
        the lock owner."""
        ...

    def read(self, stream: str) -> LockState | None:
        """The stream's lock item, or None."""
        ...


class ContinuationPort(Protocol):
    def continue_later(self, request: Continuation) -> None:
        """Hand the rest of a run to a new asynchronous invocation of this function (one payload, whatever the
        direction). Raises AutoscalerError (or OSError) when it could not be handed over: the caller finishes
        what it holds instead."""
        ...


class EstimatorPort(Protocol):
    def estimate(
        self,
        cfg: StreamConfig,
        now: float,
        pricing: OnDemandPricing = OnDemandPricing.STANDARD,
        provisioned_since: float | None = None,
    ) -> ModeEvidence:
        """The stream's own write history up to `now` (the last EVIDENCE_DAYS) replayed under each capacity mode with
        the cost model, on-demand priced as the account is billed: each mode's cost and throttled share; with
        provisioned_since (our last switch to provisioned), also each mode's figures over the last RECENT_SECONDS
        since then. Raises MetricsUnavailable when the history cannot be read, TraceError when there is none."""
        ...
