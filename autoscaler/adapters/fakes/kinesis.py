"""FakeKinesis: the KinesisPort with AWS's semantics where moto is loose.

Modelled: UPDATING for a configurable time after each reshard call, ResourceInUse meanwhile (StreamBusy),
one reshard at a time, UpdateShardCount limits (≤ 10 calls per rolling 24 h, target within [½×, 2×], ≤ 10,000),
the account's open-shard quota (temporary UpdateShardCount shards count too), CLOSED parents, ON_DEMAND mode,
mode switches (UpdateStreamMode: two per stream per 24 h, the account's on-demand stream quota, UPDATING for
`mode_switch_seconds` — AWS documents no duration — and the shard count kept in both directions), deletion, and
injected faults.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from autoscaler.adapters.fakes.clock import SimClock
from autoscaler.core.errors import (
    InvalidRequest,
    ModeSwitchRefused,
    QuotaExhausted,
    StreamBusy,
    StreamNotFound,
    UpdateShardCountLimit,
)
from autoscaler.core.limits import MAX_SHARDS_PER_STREAM, UPDATE_SHARD_COUNT_CALLS_PER_24H
from autoscaler.core.model import OnDemandPricing, Shard, StreamDescription, StreamMode
from autoscaler.core.scale_up import uniform_shards


@dataclass
class _Stream:
    name: str
    shards: list[Shard]  # OPEN shards, sorted
    closed: list[Shard] = field(default_factory=list)
    mode: StreamMode = StreamMode.PROVISIONED
    updating_until: float = 0.0
    usc_calls: list[float] = field(default_factory=list)
    mode_switches: list[float] = field(default_factory=list)
    warm_mibps: int | None = None  # on-demand warm throughput asked for on the switch (Advantage accounts only)
    shard_level_metrics: frozenset[str] = frozenset()


class FakeKinesis:
    """Thread-safe in-memory Kinesis control plane on a SimClock."""

    def __init__(
        self,
        clock: SimClock,
        *,
        split_seconds: float = 30.0,
        merge_seconds: float = 30.0,
        update_shard_count_seconds: float = 90.0,
        account_shard_limit: int = 20_000,
        mode_switch_seconds: float = 60.0,
        on_demand_stream_limit: int = 50,  # AWS's default quota of on-demand streams per account
    ) -> None:
        self.clock = clock
        self.split_seconds = split_seconds
        self.merge_seconds = merge_seconds
        self.update_shard_count_seconds = update_shard_count_seconds
        self.account_shard_limit = account_shard_limit
        self.mode_switch_seconds = mode_switch_seconds
        self.on_demand_stream_limit = on_demand_stream_limit
        self.pricing = OnDemandPricing.STANDARD  # the account's On-demand Advantage commitment off
        self.streams: dict[str, _Stream] = {}
        self.calls: list[tuple[str, str]] = []  # (operation, stream), every mutating call that succeeded
        self.faults: dict[str, deque[Exception]] = {}
        self._ids = 0
        self._lock = threading.RLock()
        self.on_call: Callable[[str, str], None] | None = None  # hook for tests (e.g. delete mid-sequence)
        # Called after each reshard call AWS accepted: (stream, the OPEN shards it leads to, when it completes).
        # The simulator serves traffic on the old layout until then.
        self.on_reshard: Callable[[str, list[Shard], float], None] | None = None

    # -- setup and inspection (not part of the port) ----------------------------------------------------------------

    def create_stream(self, name: str, shards: int, *, shard_level_metrics: frozenset[str] = frozenset()) -> None:
        with self._lock:
            layout = uniform_shards(shards, prefix="shardId-")
            self._ids = max(self._ids, shards)
            self.streams[name] = _Stream(name, layout, shard_level_metrics=shard_level_metrics)

    def delete_stream(self, name: str) -> None:
        with self._lock:
            self.streams.pop(name, None)

    def set_mode(self, name: str, mode: StreamMode) -> None:
        with self._lock:
            self._get(name).mode = mode

    def inject(self, operation: str, *errors: Exception) -> None:
        """The next calls of `operation` raise these errors, in order, before doing anything."""
        self.faults.setdefault(operation, deque()).extend(errors)

    def open_count(self, name: str) -> int:
        return len(self._get(name).shards)

    def open_shards(self, name: str) -> list[Shard]:
        return list(self._get(name).shards)

    def reshard_calls(self, name: str | None = None) -> list[str]:
        return [op for op, s in self.calls if name is None or s == name]

    # -- internals ------------------------------------------------------------------------------------------------

    def _get(self, name: str) -> _Stream:
        stream = self.streams.get(name)
        if stream is None:
            raise StreamNotFound(f"stream {name} not found")
        return stream

    def _fault(self, operation: str, stream: str) -> None:
        if self.on_call is not None:
            self.on_call(operation, stream)
        queue = self.faults.get(operation)
        if queue:
            raise queue.popleft()

    def _status(self, s: _Stream) -> str:
        return "UPDATING" if self.clock.now() < s.updating_until else "ACTIVE"

    def _account_open(self) -> int:
        return sum(len(s.shards) for s in self.streams.values())

    def _new_id(self) -> str:
        self._ids += 1
        return f"shardId-{self._ids:012d}"

    # -- the port ---------------------------------------------------------------------------------------------------

    def describe(self, stream: str) -> StreamDescription:
        with self._lock:
            self._fault("describe", stream)
            s = self._get(stream)
            return StreamDescription(stream, self._status(s), s.mode, s.shard_level_metrics, f"arn:sim:{stream}")

    def describe_all(self) -> dict[str, StreamDescription]:
        with self._lock:
            self._fault("describe_all", "")
            # ListStreams' summaries carry no EnhancedMonitoring: shard-level metrics are left empty, as the adapter's
            return {
                name: StreamDescription(name, self._status(s), s.mode, frozenset(), f"arn:sim:{name}")
                for name, s in self.streams.items()
            }

    def list_open_shards(self, stream: str) -> list[Shard]:
        with self._lock:
            self._fault("list_open_shards", stream)
            return sorted(self._get(stream).shards, key=lambda x: x.start)

    def split_shard(self, stream: str, shard_id: str, new_starting_hash_key: int) -> None:
        with self._lock:
            self._fault("split_shard", stream)
            s = self._get(stream)
            if self._status(s) != "ACTIVE":
                raise StreamBusy(f"{stream} is UPDATING (ResourceInUseException)")
            if s.mode is StreamMode.ON_DEMAND:
                raise StreamBusy(f"{stream} is ON_DEMAND: SplitShard is not allowed")
            parent = next((x for x in s.shards if x.shard_id == shard_id), None)
            if parent is None:
                raise InvalidRequest(f"shard {shard_id} is not open (InvalidArgumentException)")
            if not parent.start < new_starting_hash_key <= parent.end:
                raise InvalidRequest("NewStartingHashKey outside the parent range (InvalidArgumentException)")
            if self._account_open() + 1 > self.account_shard_limit:
                raise QuotaExhausted(f"account shard limit {self.account_shard_limit} reached")
            lower = Shard(self._new_id(), parent.start, new_starting_hash_key - 1)
            upper = Shard(self._new_id(), new_starting_hash_key, parent.end)
            s.shards.remove(parent)
            s.closed.append(parent)
            s.shards = sorted([*s.shards, lower, upper], key=lambda x: x.start)
            s.updating_until = self.clock.now() + self.split_seconds
            self.calls.append(("split_shard", stream))
            if self.on_reshard is not None:
                self.on_reshard(stream, list(s.shards), s.updating_until)

    def merge_shards(self, stream: str, lower_shard_id: str, upper_shard_id: str) -> None:
        with self._lock:
            self._fault("merge_shards", stream)
            s = self._get(stream)
            if self._status(s) != "ACTIVE":
                raise StreamBusy(f"{stream} is UPDATING (ResourceInUseException)")
            lower = next((x for x in s.shards if x.shard_id == lower_shard_id), None)
            upper = next((x for x in s.shards if x.shard_id == upper_shard_id), None)
            if lower is None or upper is None:
                raise InvalidRequest("a shard to merge is not open (InvalidArgumentException)")
            if lower.end + 1 != upper.start:
                raise InvalidRequest("shards are not adjacent (InvalidArgumentException)")
            child = Shard(self._new_id(), lower.start, upper.end)
            s.shards = sorted([x for x in s.shards if x not in (lower, upper)] + [child], key=lambda x: x.start)
            s.closed.extend([lower, upper])
            s.updating_until = self.clock.now() + self.merge_seconds
            self.calls.append(("merge_shards", stream))
            if self.on_reshard is not None:
                self.on_reshard(stream, list(s.shards), s.updating_until)

    def update_stream_mode(self, stream: str, mode: StreamMode, warm_mibps: int | None = None) -> bool:
        with self._lock:
            self._fault("update_stream_mode", stream)
            s = self._get(stream)
            if warm_mibps is not None and (
                mode is not StreamMode.ON_DEMAND or self.pricing is not OnDemandPricing.ADVANTAGE
            ):
                warm_mibps = None  # as the adapter: refused (ValidationException), then the switch alone
            if self._status(s) != "ACTIVE":
                raise StreamBusy(f"{stream} is UPDATING (ResourceInUseException)")
            now = self.clock.now()
            s.mode_switches = [t for t in s.mode_switches if now - t < 86_400]
            if len(s.mode_switches) >= 2:
                raise ModeSwitchRefused(f"{stream}: two mode switches in 24 h (LimitExceededException)")
            if mode is StreamMode.ON_DEMAND and self.on_demand_quota()[0] >= self.on_demand_stream_limit:
                raise ModeSwitchRefused(f"on-demand stream quota {self.on_demand_stream_limit} reached")
            s.mode = mode
            s.warm_mibps = warm_mibps if mode is StreamMode.ON_DEMAND else None
            s.mode_switches.append(now)
            s.updating_until = now + self.mode_switch_seconds
            self.calls.append(("update_stream_mode", stream))
            return warm_mibps is not None

    def on_demand_pricing(self) -> OnDemandPricing:
        with self._lock:
            self._fault("on_demand_pricing", "")
            return self.pricing

    def on_demand_quota(self) -> tuple[int, int]:
        with self._lock:
            count = sum(1 for s in self.streams.values() if s.mode is StreamMode.ON_DEMAND)
            return count, self.on_demand_stream_limit

    def update_shard_count(self, stream: str, target: int) -> None:
        with self._lock:
            self._fault("update_shard_count", stream)
            s = self._get(stream)
            if self._status(s) != "ACTIVE":
                raise StreamBusy(f"{stream} is UPDATING (ResourceInUseException)")
            now = self.clock.now()
            s.usc_calls = [t for t in s.usc_calls if now - t < 86_400]
            n = len(s.shards)
            if len(s.usc_calls) >= UPDATE_SHARD_COUNT_CALLS_PER_24H:
                raise UpdateShardCountLimit(f"{stream}: {len(s.usc_calls)} UpdateShardCount calls in 24 h")
            if not (n + 1) // 2 <= target <= 2 * n or target > MAX_SHARDS_PER_STREAM:
                raise UpdateShardCountLimit(f"{stream}: target {target} outside [½×, 2×] of {n}")
            # UNIFORM_SCALING creates the new shards before closing the old: both count toward the quota meanwhile.
            if self._account_open() + target > self.account_shard_limit:
                raise QuotaExhausted(f"account shard limit {self.account_shard_limit} reached")
            s.closed.extend(s.shards)
            s.shards = [Shard(self._new_id(), x.start, x.end) for x in uniform_shards(target)]
            s.usc_calls.append(now)
            s.updating_until = now + self.update_shard_count_seconds
            self.calls.append(("update_shard_count", stream))
            if self.on_reshard is not None:
                self.on_reshard(stream, list(s.shards), s.updating_until)

    def wait_until_active(self, stream: str, timeout_seconds: float) -> None:
        with self._lock:
            s = self._get(stream)
            left = s.updating_until - self.clock.now()
        if left <= 0:
            return
        if left > timeout_seconds:
            self.clock.sleep(timeout_seconds)
            raise StreamBusy(f"{stream} still UPDATING after {timeout_seconds:.0f} s")
        self.clock.sleep(left)
