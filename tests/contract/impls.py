"""The implementations each contract suite runs on, behind one small harness per port.

A harness gives the suite the port itself plus the few setup and inspection steps the port does not offer (create a
stream, publish a datapoint, move an alarm's state the way CloudWatch's evaluation would). Each harness is built by
a factory in IMPLS below: that table is the one place to add an implementation (kinesis-mock for Kinesis, dynalite
for DynamoDB): write a factory that yields a harness talking to the emulator and add its name to the port's list.

Cases an implementation cannot run are marked with `only_on(...)` in the suites (see conftest.py), never skipped
inside a test body, so the matrix of case × implementation is visible in the test report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from freezegun import freeze_time
from moto import mock_aws

from autoscaler.adapters.aws.cloudwatch import AlarmsAdapter, MetricsAdapter
from autoscaler.adapters.aws.cooldown import CooldownTable
from autoscaler.adapters.aws.kinesis import KinesisAdapter
from autoscaler.adapters.fakes.clock import SimClock
from autoscaler.adapters.fakes.cloudwatch import FakeAlarms, FakeMetrics
from autoscaler.adapters.fakes.cooldown import FakeCooldown
from autoscaler.adapters.fakes.kinesis import FakeKinesis
from autoscaler.app.ports import AlarmsPort, CooldownPort, KinesisPort, MetricsPort
from autoscaler.core.capacity import AlarmSpec
from autoscaler.core.model import StreamMode
from autoscaler.local.setup import create_table

REGION = "us-east-1"
# Every suite's "now": 2026-11-20 14:03:25 UTC, 25 s into a minute, so that aligning to the period visibly matters.
NOW = datetime(2026, 11, 20, 14, 3, 25, tzinfo=UTC)
T0 = NOW.timestamp()


def only_on(*impls: str, reason: str) -> pytest.MarkDecorator:
    """This case runs only on these implementations; every other one is skipped with `reason` (conftest.py)."""
    return pytest.mark.only_on(*impls, reason=reason)


def _client(service: str) -> Any:
    return botocore.session.get_session().create_client(service, region_name=REGION)


# -- Kinesis --------------------------------------------------------------------------------------------------------


@dataclass
class KinesisHarness:
    impl: str
    port: KinesisPort
    create: Callable[[str, int, StreamMode], None]
    enable_shard_metrics: Callable[[str, list[str]], None]


@contextmanager
def fake_kinesis() -> Iterator[KinesisHarness]:
    fake = FakeKinesis(SimClock(T0))

    def create(name: str, shards: int, mode: StreamMode) -> None:
        fake.create_stream(name, shards)
        fake.set_mode(name, mode)

    def enable(name: str, metrics: list[str]) -> None:
        fake.streams[name].shard_level_metrics = frozenset(metrics)

    yield KinesisHarness("fake", fake, create, enable)


@contextmanager
def moto_kinesis() -> Iterator[KinesisHarness]:
    with mock_aws():
        c = _client("kinesis")

        def create(name: str, shards: int, mode: StreamMode) -> None:
            if mode is StreamMode.ON_DEMAND:
                c.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
            else:
                c.create_stream(StreamName=name, ShardCount=shards, StreamModeDetails={"StreamMode": "PROVISIONED"})

        def enable(name: str, metrics: list[str]) -> None:
            c.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=metrics)

        # SimClock: the adapter's rate limiter and wait loop sleep in simulated time, so no case waits for real
        yield KinesisHarness("moto", KinesisAdapter(c, SimClock(T0)), create, enable)


# -- CloudWatch metrics ---------------------------------------------------------------------------------------------


@dataclass
class MetricsHarness:
    impl: str
    port: MetricsPort
    put: Callable[[str, str, float, float, str], None]  # (stream, metric, at, value, shard id or "")


@contextmanager
def fake_metrics() -> Iterator[MetricsHarness]:
    fake = FakeMetrics(SimClock(T0))  # no publication delay: CloudWatch's own delay is not part of the contract
    yield MetricsHarness("fake", fake, fake.put)


@contextmanager
def moto_metrics() -> Iterator[MetricsHarness]:
    with mock_aws(), freeze_time(NOW):
        c = _client("cloudwatch")

        def put(stream: str, metric: str, at: float, value: float, shard: str) -> None:
            dims = [{"Name": "StreamName", "Value": stream}]
            if shard:
                dims.append({"Name": "ShardId", "Value": shard})
            c.put_metric_data(
                Namespace="AWS/Kinesis",
                MetricData=[
                    {
                        "MetricName": metric,
                        "Dimensions": dims,
                        "Timestamp": datetime.fromtimestamp(at, UTC),
                        "Value": value,
                    }
                ],
            )

        yield MetricsHarness("moto", MetricsAdapter(c), put)


# -- CloudWatch alarms ----------------------------------------------------------------------------------------------


@dataclass
class AlarmsHarness:
    impl: str
    port: AlarmsPort
    set_state: Callable[[str, str], None]  # what CloudWatch's own evaluation does
    config: Callable[[str], dict[str, Any]]  # the alarm's configuration, in AlarmSpec's terms plus its actions


def _spec_config(spec: AlarmSpec, actions: tuple[str, ...]) -> dict[str, Any]:
    return {
        "metric": spec.metric_name,
        "stream": spec.stream,
        "threshold": spec.threshold,
        "period": spec.period_seconds,
        "evaluation_periods": spec.evaluation_periods,
        "datapoints_to_alarm": spec.datapoints_to_alarm,
        "comparison": spec.comparison,
        "description": spec.description,
        "actions": list(actions),
    }


@contextmanager
def fake_alarms() -> Iterator[AlarmsHarness]:
    fake = FakeAlarms()

    def config(name: str) -> dict[str, Any]:
        alarm = fake.alarms[name]
        return _spec_config(alarm.spec, alarm.actions)

    yield AlarmsHarness("fake", fake, lambda name, state: fake.set_state(name, state, "test"), config)


@contextmanager
def moto_alarms() -> Iterator[AlarmsHarness]:
    with mock_aws():
        c = _client("cloudwatch")

        def config(name: str) -> dict[str, Any]:
            a = c.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
            (dim,) = a["Dimensions"]
            return {
                "metric": a["MetricName"],
                "stream": dim["Value"],
                "threshold": a["Threshold"],
                "period": a["Period"],
                "evaluation_periods": a["EvaluationPeriods"],
                "datapoints_to_alarm": a["DatapointsToAlarm"],
                "comparison": a["ComparisonOperator"],
                "description": a["AlarmDescription"],
                "actions": a["AlarmActions"],
            }

        def set_state(name: str, state: str) -> None:
            c.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")

        yield AlarmsHarness("moto", AlarmsAdapter(c), set_state, config)


# -- DynamoDB cooldown lock -----------------------------------------------------------------------------------------


@dataclass
class LockHarness:
    impl: str
    port: CooldownPort
    # Let wall-clock time pass for whatever keys on it rather than on the `now` arguments (TTL deletion only).
    advance: Callable[[float], None] = field(default=lambda seconds: None)


@contextmanager
def fake_lock() -> Iterator[LockHarness]:
    clock = SimClock(T0)
    yield LockHarness("fake", FakeCooldown(clock), clock.advance)


@contextmanager
def moto_lock() -> Iterator[LockHarness]:
    with mock_aws():
        c = _client("dynamodb")
        create_table(c, "cooldown")
        yield LockHarness("moto", CooldownTable(c, "cooldown"))


# -- the matrix -----------------------------------------------------------------------------------------------------

Factory = Callable[[], AbstractContextManager[Any]]
# port fixture -> implementation name -> factory. Add "kinesis-mock" / "dynalite" here when their servers are test
# components; the suites then run every case on them that is not marked only_on(...) without them.
IMPLS: dict[str, dict[str, Factory]] = {
    "kinesis_impl": {"fake": fake_kinesis, "moto": moto_kinesis},
    "metrics_impl": {"fake": fake_metrics, "moto": moto_metrics},
    "alarms_impl": {"fake": fake_alarms, "moto": moto_alarms},
    "lock_impl": {"fake": fake_lock, "moto": moto_lock},
}


def open_impl(fixture: str, name: str) -> Iterator[Any]:
    with ExitStack() as stack:
        yield stack.enter_context(IMPLS[fixture][name]())
