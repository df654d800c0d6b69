"""The create-streams adapter: reads what exists and applies onboarding actions (autoscaler/app/onboarding.py).

Operator-side only (never in a Lambda), so it declares OPERATOR_ACTIONS, not IAM_ACTIONS: the functions' roles
are held to exactly the IAM_ACTIONS of the adapters they use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from autoscaler.adapters.aws.cloudwatch import AlarmsAdapter
from autoscaler.adapters.aws.errors import error_code
from autoscaler.adapters.aws.kinesis import KinesisAdapter
from autoscaler.adapters.aws.retry import retry_throttled
from autoscaler.app.onboarding import Action, ActionKind, ExistingAlarm, ObservedStream
from autoscaler.app.ports import Clock
from autoscaler.config import AutoscalerConfig
from autoscaler.core.capacity import ALARM_NAME_SEPARATOR, AlarmKind, alarm_name
from autoscaler.core.errors import AwsCallFailed, StreamBusy, StreamNotFound
from autoscaler.core.model import StreamMode

OPERATOR_ACTIONS = (
    "kinesis:CreateStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:ListShards",
    "kinesis:DescribeLimits",
    "kinesis:IncreaseStreamRetentionPeriod",
    "kinesis:DecreaseStreamRetentionPeriod",
    "kinesis:StartStreamEncryption",
    "kinesis:EnableEnhancedMonitoring",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:DeleteAlarms",
    "cloudformation:DescribeStacks",
)
CREATE_WAIT_SECONDS = 300  # CreateStream "usually" takes well under a minute; give up on one stream after 5 min


DELETE_ALARMS_BATCH = 100  # CloudWatch DeleteAlarms: AlarmNames has at most 100 members


class Provisioning:
    def __init__(self, kinesis_client: Any, cloudwatch_client: Any, clock: Clock) -> None:
        self.client = kinesis_client
        self.kinesis = KinesisAdapter(kinesis_client, clock)
        self.cloudwatch = cloudwatch_client
        self.alarms = AlarmsAdapter(cloudwatch_client)
        self.clock = clock

    def observe(self, cfg: AutoscalerConfig) -> dict[str, ObservedStream]:
        alarms = self.prefixed_alarms(cfg.alarm_name_prefix)
        out: dict[str, ObservedStream] = {}
        for stream in cfg.streams:
            try:
                summary = self._summary(stream.name)
            except StreamNotFound:
                out[stream.name] = ObservedStream(stream.name, exists=False)
                continue
            metrics: set[str] = set()
            for entry in summary.get("EnhancedMonitoring", []):
                metrics.update(entry.get("ShardLevelMetrics", []))
            mode = summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
            mine = {alarm_name(cfg.alarm_name_prefix, stream.name, kind) for kind in AlarmKind}
            out[stream.name] = ObservedStream(
                name=stream.name,
                exists=True,
                mode=StreamMode(mode) if mode in StreamMode.__members__ else StreamMode.PROVISIONED,
                open_shards=len(self.kinesis.list_open_shards(stream.name)),
                retention_hours=int(summary.get("RetentionPeriodHours", 24)),
                encrypted_with=summary.get("KeyId") if summary.get("EncryptionType") == "KMS" else None,
                shard_level_metrics=frozenset(metrics),
                alarms={n: a for n, a in alarms.items() if n in mine},
            )
        return out

    def _summary(self, name: str) -> dict[str, Any]:
        """DescribeStreamSummary under the adapter's rate limit, retrying TPS throttling (20 TPS per account,
        shared with the functions)."""

        def call() -> dict[str, Any]:
            self.kinesis.describe_rate.acquire()
            try:
                summary: dict[str, Any] = self.client.describe_stream_summary(StreamName=name)[
                    "StreamDescriptionSummary"
                ]
            except ClientError as exc:
                raise KinesisAdapter._common(exc, name) from exc
            return summary

        return retry_throttled(call, sleep=self.clock.sleep)

    def delete_alarms(self, names: list[str]) -> None:
        """DeleteAlarms takes at most 100 names per call; a name that does not exist is no error."""
        for i in range(0, len(names), DELETE_ALARMS_BATCH):
            self.cloudwatch.delete_alarms(AlarmNames=names[i : i + DELETE_ALARMS_BATCH])

    def prefixed_alarms(self, prefix: str) -> dict[str, ExistingAlarm]:
        """Every metric alarm named <prefix>/… (this version's names) or <prefix>-… (earlier versions', which
        create-streams renames)."""
        heads = (prefix + ALARM_NAME_SEPARATOR, f"{prefix}-")
        return {
            a["AlarmName"]: ExistingAlarm(
                name=a["AlarmName"],
                threshold=float(a.get("Threshold", 0.0)),
                period_seconds=int(a.get("Period", 0)),
                evaluation_periods=int(a.get("EvaluationPeriods", 0)),
                datapoints_to_alarm=int(a.get("DatapointsToAlarm", a.get("EvaluationPeriods", 0))),
                comparison=str(a.get("ComparisonOperator", "")),
                actions=tuple(a.get("AlarmActions", [])),
                stream_dimension=next(
                    (d["Value"] for d in a.get("Dimensions", []) if d.get("Name") == "StreamName"), None
                ),
            )
            for a in self.alarms.metric_alarms(AlarmNamePrefix=prefix)
            if a["AlarmName"].startswith(heads)
        }

    def shard_quota(self) -> tuple[int, int]:
        """(ShardLimit, OpenShardCount) of the account in this region (DescribeLimits)."""
        limits = self.client.describe_limits()
        return int(limits.get("ShardLimit", 0)), int(limits.get("OpenShardCount", 0))

    def _check_on_demand_quota(self, name: str) -> None:
        """Refuse an on-demand creation the account has no room for (DescribeLimits, as `shard_quota`), with the fix,
        instead of CreateStream's LimitExceededException."""
        count, limit = self.kinesis.on_demand_quota()
        if limit and count >= limit:
            raise AwsCallFailed(
                f"{name}: the account has {count} on-demand streams in this region, its OnDemandStreamCountLimit is "
                f"{limit}; raise it with a support ticket or set capacity_mode: provisioned for {name}"
            )

    def apply(self, action: Action, topic_arn: str, progress: Callable[[str], None]) -> None:
        name = action.stream
        if action.kind is ActionKind.CREATE_STREAM:
            if action.value == StreamMode.ON_DEMAND.value:  # capacity_mode on-demand or auto (onboarding.create_mode)
                self._check_on_demand_quota(name)
                # no ShardCount: AWS sets an on-demand stream's count (the alarm puts that follow read it)
                self.client.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
            else:
                shards = action.value if isinstance(action.value, int) else 1
                self.client.create_stream(
                    StreamName=name, ShardCount=shards, StreamModeDetails={"StreamMode": "PROVISIONED"}
                )
            self._wait(name, progress, "creating")
        elif action.kind in (ActionKind.SET_RETENTION, ActionKind.START_ENCRYPTION, ActionKind.ENABLE_SHARD_METRICS):
            self._wait(name, progress, "busy (another change or a reshard)")  # a change needs an ACTIVE stream
        if action.kind is ActionKind.SET_RETENTION:
            hours = action.value if isinstance(action.value, int) else 24
            current = int(self._summary(name).get("RetentionPeriodHours", 24))
            call = (
                self.client.increase_stream_retention_period
                if hours > current
                else self.client.decrease_stream_retention_period
            )
            call(StreamName=name, RetentionPeriodHours=hours)
            self._wait(name, progress, "updating retention")
        elif action.kind is ActionKind.START_ENCRYPTION:
            self.client.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=str(action.value))
            self._wait(name, progress, "starting encryption")
        elif action.kind is ActionKind.ENABLE_SHARD_METRICS:
            metrics = list(action.value) if isinstance(action.value, tuple) else []
            self.client.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=metrics)
            self._wait(name, progress, "enabling shard-level metrics")
        elif action.kind is ActionKind.PUT_ALARM and action.alarm is not None:
            spec = action.alarm
            planned = action.value if isinstance(action.value, int) else None
            if planned and spec.threshold:
                # The count may have moved since the run read it (the autoscaler reshards meanwhile): the
                # threshold follows the count at the moment of the put, never a stale one.
                now_open = len(self.kinesis.list_open_shards(name))
                if now_open != planned:
                    spec = spec._replace(threshold=spec.threshold / planned * now_open)
            self.alarms.ensure_alarms([spec], list(dict.fromkeys([topic_arn, *action.keep_actions])))
        elif action.kind in (ActionKind.DELETE_ALARM, ActionKind.RETIRE_ALARM, ActionKind.DROP_READ_ALARM):
            self.cloudwatch.delete_alarms(AlarmNames=[str(action.value)])

    def _wait(self, name: str, progress: Callable[[str], None], what: str) -> None:
        deadline = self.clock.now() + CREATE_WAIT_SECONDS
        while True:
            try:
                self.kinesis.wait_until_active(name, max(0.0, min(20.0, deadline - self.clock.now())))
                return
            except StreamBusy:
                if self.clock.now() >= deadline:
                    raise
                progress(f"{name}: {what}, waiting for ACTIVE …")
            except StreamNotFound:  # CreateStream is eventually consistent for a moment
                if self.clock.now() >= deadline:
                    raise
                self.clock.sleep(1.0)


class StackInfo(NamedTuple):
    """A deployed stack's outputs and parameters (DescribeStacks), what the CLI reads instead of guessing names."""

    name: str
    outputs: dict[str, str]
    parameters: dict[str, str]

    def managed_stream_names(self) -> list[str] | None:
        """The ManagedStreamNames parameter (the streams its functions may touch, by IAM), None when absent."""
        raw = self.parameters.get("ManagedStreamNames")
        return None if raw is None else [n.strip() for n in raw.split(",") if n.strip()]


def describe_stack(cloudformation: Any, stack: str) -> StackInfo | None:
    """The stack's outputs and parameters; None when no stack of that name exists in the region (CloudFormation
    says ValidationError "Stack with id X does not exist"). Other errors (access, throttling) raise."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            return None
        raise
    if not stacks:
        return None
    found = stacks[0]
    return StackInfo(
        name=stack,
        outputs={o["OutputKey"]: str(o["OutputValue"]) for o in found.get("Outputs", []) if "OutputKey" in o},
        parameters={
            p["ParameterKey"]: str(p.get("ParameterValue", ""))
            for p in found.get("Parameters", [])
            if "ParameterKey" in p
        },
    )
