"""KinesisPort on a botocore Kinesis client."""

from __future__ import annotations

import random
import threading
from typing import Any

from botocore.exceptions import ClientError

from autoscaler.adapters.aws.errors import error_code
from autoscaler.adapters.aws.retry import retry_throttled
from autoscaler.app.ports import Clock
from autoscaler.core.defaults import WAIT_POLL_INITIAL_SECONDS, WAIT_POLL_MAX_SECONDS
from autoscaler.core.errors import (
    AwsCallFailed,
    InvalidRequest,
    ModeSwitchRefused,
    QuotaExhausted,
    StreamBusy,
    StreamNotFound,
    ThrottledError,
    UpdateShardCountLimit,
)
from autoscaler.core.model import OnDemandPricing, Shard, StreamDescription, StreamMode

READ_ACTIONS = ("kinesis:DescribeLimits", "kinesis:DescribeStreamSummary", "kinesis:ListShards")
SCALE_UP_ACTIONS = ("kinesis:SplitShard",)  # only the scale-up function splits
SCALE_DOWN_ACTIONS = ("kinesis:MergeShards",)  # only the scale-down function merges
# Both resize evenly: scale-up chains doublings, scale-down halves big streams in one call (and must, to keep an even
# layout: merged pairs of even shards are double-width and carry twice the traffic).
RESIZE_ACTIONS = ("kinesis:UpdateShardCount",)
FLEET_READ_ACTIONS = ("kinesis:ListStreams",)  # the fleet's modes and statuses in one call (scale-down)
# capacity-mode switches and the account's on-demand pricing (the fleet function: app/capacity_mode.py)
MODE_ACTIONS = ("kinesis:UpdateStreamMode", "kinesis:DescribeAccountSettings")
GAUGE_ACTIONS = ("kinesis:ListShards",)  # the gauge only counts open shards (autoscaler/app/gauge.py)
IAM_ACTIONS = READ_ACTIONS + SCALE_UP_ACTIONS + SCALE_DOWN_ACTIONS + RESIZE_ACTIONS + FLEET_READ_ACTIONS + MODE_ACTIONS

PAGE_SIZE = 1_000  # ListShards' maximum page
RESHARD_TPS = 4.0  # SplitShard + MergeShards share 5 TPS per account: keep one in five for other callers
DESCRIBE_TPS = 10.0  # DescribeStreamSummary: 20 TPS per account; half of it for the autoscaler's fleet reads


class RateLimiter:
    """At most `per_second` acquisitions per second across threads (evenly spaced), on the Clock port."""

    def __init__(self, clock: Clock, per_second: float) -> None:
        self.clock = clock
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self.clock.now()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self.clock.sleep(slot - now)


class KinesisAdapter:
    def __init__(self, client: Any, clock: Clock, *, attempts: int = 5, reshard_tps: float = RESHARD_TPS) -> None:
        self.client = client
        self.clock = clock
        self.attempts = attempts
        self.reshard_rate = RateLimiter(clock, reshard_tps)
        self.describe_rate = RateLimiter(clock, DESCRIBE_TPS)

    def describe(self, stream: str) -> StreamDescription:
        def call() -> dict[str, Any]:
            self.describe_rate.acquire()
            try:
                response = self.client.describe_stream_summary(StreamName=stream)
            except ClientError as exc:
                raise self._common(exc, stream) from exc
            summary: dict[str, Any] = response["StreamDescriptionSummary"]
            return summary

        out = retry_throttled(call, sleep=self.clock.sleep, attempts=self.attempts)
        metrics: set[str] = set()
        for entry in out.get("EnhancedMonitoring", []):
            metrics.update(entry.get("ShardLevelMetrics", []))
        mode = out.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
        return StreamDescription(
            name=stream,
            status=out["StreamStatus"],
            mode=StreamMode(mode) if mode in StreamMode.__members__ else StreamMode.PROVISIONED,
            shard_level_metrics=frozenset(metrics),
            arn=out.get("StreamARN", ""),
        )

    def describe_all(self) -> dict[str, StreamDescription]:
        """Every stream of the account and region with its status and mode, from ListStreams' StreamSummaries
        (Limit 10,000 a page, NextToken pages): one call where DescribeStreamSummary would take one per stream at
        20 TPS per account. Shard-level metrics are not in the summaries (scale-down does not need them).

        ListStreams before 2023 (kinesis-mock, so LocalStack) returns StreamNames only, and pages with
        ExclusiveStartStreamName instead of NextToken: a stream listed without its summary is described one by one
        (a stream deleted meanwhile is left out, as if listed a moment later)."""

        def call() -> tuple[dict[str, StreamDescription], list[str]]:
            out: dict[str, StreamDescription] = {}
            unsummarised: list[str] = []
            kwargs: dict[str, Any] = {"Limit": 10_000}
            while True:
                try:
                    page = self.client.list_streams(**kwargs)
                except ClientError as exc:
                    raise self._common(exc, "(all streams)") from exc
                for summary in page.get("StreamSummaries", []):
                    mode = summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
                    out[summary["StreamName"]] = StreamDescription(
                        name=summary["StreamName"],
                        status=summary.get("StreamStatus", ""),
                        mode=StreamMode(mode) if mode in StreamMode.__members__ else StreamMode.PROVISIONED,
                        arn=summary.get("StreamARN", ""),
                    )
                names = page.get("StreamNames", [])
                unsummarised += [n for n in names if n not in out]
                token = page.get("NextToken")
                if not page.get("HasMoreStreams"):
                    return out, unsummarised
                if token:
                    kwargs = {"NextToken": token}
                elif names:
                    kwargs = {"Limit": 10_000, "ExclusiveStartStreamName": names[-1]}
                else:
                    return out, unsummarised  # more promised, no way to ask for it: what was listed

        out, unsummarised = retry_throttled(call, sleep=self.clock.sleep, attempts=self.attempts)
        for name in unsummarised:
            try:
                out[name] = self.describe(name)
            except StreamNotFound:
                continue
        return out

    def list_open_shards(self, stream: str) -> list[Shard]:
        """ListShards, paginated the AWS way: the first page names the stream (and ShardFilter AT_LATEST: open
        shards only); every later page sends NextToken alone — AWS rejects StreamName next to NextToken.
        An expired NextToken (300 s) restarts the listing once. CLOSED shards are dropped even if the filter is
        ignored (moto ignores it)."""

        def call() -> list[Shard]:
            for attempt in range(2):
                try:
                    return self._list_once(stream)
                except ClientError as exc:
                    if error_code(exc) == "ExpiredNextTokenException" and attempt == 0:
                        continue
                    raise self._common(exc, stream) from exc
            raise AssertionError("unreachable")

        return retry_throttled(call, sleep=self.clock.sleep, attempts=self.attempts)

    def _list_once(self, stream: str) -> list[Shard]:
        shards: list[Shard] = []
        kwargs: dict[str, Any] = {"StreamName": stream, "ShardFilter": {"Type": "AT_LATEST"}, "MaxResults": PAGE_SIZE}
        while True:
            page = self.client.list_shards(**kwargs)
            for raw in page.get("Shards", []):
                if raw.get("SequenceNumberRange", {}).get("EndingSequenceNumber") is not None:
                    continue  # CLOSED
                rng = raw["HashKeyRange"]
                shards.append(Shard(raw["ShardId"], int(rng["StartingHashKey"]), int(rng["EndingHashKey"])))
            token = page.get("NextToken")
            if not token:
                break
            kwargs = {"NextToken": token, "MaxResults": PAGE_SIZE}
        return sorted(shards, key=lambda s: s.start)

    def split_shard(self, stream: str, shard_id: str, new_starting_hash_key: int) -> None:
        def call() -> None:
            self.reshard_rate.acquire()
            try:
                self.client.split_shard(
                    StreamName=stream, ShardToSplit=shard_id, NewStartingHashKey=str(new_starting_hash_key)
                )
            except ClientError as exc:
                code = error_code(exc)
                if code == "LimitExceededException":
                    raise self._quota_or_throttle(stream, added=1) from exc
                raise self._common(exc, stream) from exc

        retry_throttled(call, sleep=self.clock.sleep, attempts=self.attempts)

    def merge_shards(self, stream: str, lower_shard_id: str, upper_shard_id: str) -> None:
        def call() -> None:
            self.reshard_rate.acquire()
            try:
                self.client.merge_shards(
                    StreamName=stream, ShardToMerge=lower_shard_id, AdjacentShardToMerge=upper_shard_id
                )
            except ClientError as exc:
                # A merge never adds shards: LimitExceeded here is the account's concurrency or TPS limit.
                raise self._common(exc, stream) from exc

        retry_throttled(call, sleep=self.clock.sleep, attempts=self.attempts)

    def update_stream_mode(self, stream: str, mode: StreamMode, warm_mibps: int | None = None) -> bool:
        arn = self.describe(stream).arn  # UpdateStreamMode takes the ARN only
        if not arn:
            raise InvalidRequest(f"{stream}: DescribeStreamSummary gave no StreamARN")

        def call(warm: int | None) -> None:
            extra = {"WarmThroughputMiBps": warm} if warm is not None else {}
            try:
                self.client.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": mode.value}, **extra)
            except ClientError as exc:
                if error_code(exc) == "LimitExceededException":
                    # two switches per stream per 24 h, or the on-demand stream quota: final for the window, never
                    # a rate limit to retry (docs/capacity-modes.md, conservative reading 3)
                    raise ModeSwitchRefused(f"{stream}: UpdateStreamMode refused (LimitExceededException)") from exc
                raise self._common(exc, stream) from exc

        if warm_mibps is None:
            retry_throttled(lambda: call(None), sleep=self.clock.sleep, attempts=self.attempts)
            return False
        try:
            retry_throttled(lambda: call(warm_mibps), sleep=self.clock.sleep, attempts=self.attempts)
            return True
        except (InvalidRequest, ModeSwitchRefused):
            # Warm throughput is refused without the Advantage commitment (ValidationException, inferred) or above
            # the account's on-demand throughput limit, and LimitExceededException is ambiguous: the switch is what
            # matters, so it is asked for once more without it (a real refusal of the switch repeats itself).
            retry_throttled(lambda: call(None), sleep=self.clock.sleep, attempts=self.attempts)
            return False

    def on_demand_quota(self) -> tuple[int, int]:
        def call() -> tuple[int, int]:
            try:
                limits = self.client.describe_limits()
            except ClientError as exc:
                raise self._common(exc, "(DescribeLimits)") from exc
            return int(limits.get("OnDemandStreamCount", 0)), int(limits.get("OnDemandStreamCountLimit", 0))

        return retry_throttled(call, sleep=self.clock.sleep, attempts=self.attempts)

    def on_demand_pricing(self) -> OnDemandPricing:
        def call() -> OnDemandPricing:
            try:
                settings = self.client.describe_account_settings()
            except ClientError as exc:
                raise self._common(exc, "(DescribeAccountSettings)") from exc
            status = settings.get("MinimumThroughputBillingCommitment", {}).get("Status", "DISABLED")
            # ENABLED_UNTIL_EARLIEST_ALLOWED_END: a disable is pending, the commitment still bills until then
            advantage = status in ("ENABLED", "ENABLED_UNTIL_EARLIEST_ALLOWED_END")
            return OnDemandPricing.ADVANTAGE if advantage else OnDemandPricing.STANDARD

        return retry_throttled(call, sleep=self.clock.sleep, attempts=self.attempts)

    def update_shard_count(self, stream: str, target: int) -> None:
        def call() -> None:
            try:
                self.client.update_shard_count(
                    StreamName=stream, TargetShardCount=target, ScalingType="UNIFORM_SCALING"
                )
            except ClientError as exc:
                code = error_code(exc)
                if code == "LimitExceededException":
                    quota = self._quota_or_throttle(stream, added=target)
                    if isinstance(quota, QuotaExhausted):
                        raise quota from exc
                    # The same code covers the 10-calls-per-24-h rule, the [½×, 2×] rule and TPS; splitting
                    # works in every one of those cases, so the service falls back to splits.
                    raise UpdateShardCountLimit(f"{stream}: UpdateShardCount refused (LimitExceededException)") from exc
                if code in ("InvalidArgumentException", "ValidationException"):
                    raise UpdateShardCountLimit(f"{stream}: UpdateShardCount to {target} refused ({code})") from exc
                raise self._common(exc, stream) from exc

        retry_throttled(call, sleep=self.clock.sleep, attempts=self.attempts)

    def wait_until_active(self, stream: str, timeout_seconds: float) -> None:
        """Poll DescribeStreamSummary with jittered, doubling intervals (2 s … 20 s) until ACTIVE or timeout."""
        deadline = self.clock.now() + timeout_seconds
        interval = WAIT_POLL_INITIAL_SECONDS
        while True:
            try:
                status = self.describe(stream).status
            except ThrottledError:
                status = "UNKNOWN"
            if status == "ACTIVE":
                return
            left = deadline - self.clock.now()
            if left <= 0:
                raise StreamBusy(f"{stream} is still {status} after {timeout_seconds:.0f} s")
            self.clock.sleep(min(left, interval * random.uniform(0.5, 1.0)))  # noqa: S311 - jitter, not crypto
            interval = min(WAIT_POLL_MAX_SECONDS, interval * 2)

    def _quota_or_throttle(self, stream: str, *, added: int) -> QuotaExhausted | ThrottledError:
        """LimitExceededException means either the account's shard quota or a TPS limit. DescribeLimits tells them
        apart without reading the message: if the open shards plus the ones this call adds exceed ShardLimit it is
        the quota (final), otherwise a rate limit (retry)."""
        try:
            limits = self.client.describe_limits()
        except ClientError:
            return ThrottledError(f"{stream}: LimitExceededException; DescribeLimits also failed, treating as TPS")
        limit, open_count = int(limits.get("ShardLimit", 0)), int(limits.get("OpenShardCount", 0))
        if limit and open_count + added > limit:
            return QuotaExhausted(
                f"account shard quota reached ({open_count} open + {added} > ShardLimit {limit}); "
                f"request a Kinesis shard limit increase in Service Quotas"
            )
        return ThrottledError(f"{stream}: LimitExceededException with quota room ({open_count}/{limit}): TPS")

    @staticmethod
    def _common(exc: ClientError, stream: str) -> Exception:
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            return StreamNotFound(f"stream {stream} not found")
        if code == "ResourceInUseException":
            return StreamBusy(f"{stream} is not ACTIVE (ResourceInUseException)")
        if code in ("LimitExceededException", "ThrottlingException", "ProvisionedThroughputExceededException"):
            return ThrottledError(f"{stream}: {code}")
        if code in ("InvalidArgumentException", "ValidationException"):
            return InvalidRequest(f"{stream}: {code}")
        return AwsCallFailed(f"{stream}: Kinesis call failed with {code or 'an unknown error'}")
