"""The implementations each contract suite runs on, behind one small harness per port.

A harness gives the suite the port itself plus the few setup and inspection steps the port does not offer (create a
stream, publish a datapoint, move an alarm's state the way CloudWatch's evaluation would). Each harness is built by
a factory in IMPLS below: that table is the one place to add an implementation. Today: the double and moto for every
port, kinesis-mock for Kinesis and dynalite for DynamoDB (session servers from tests/conftest.py, reached through the
test's request so they start only when a case on them runs).

Cases an implementation cannot run are marked with `only_on(...)` in the suites (see conftest.py), never skipped
inside a test body, so the matrix of case × implementation is visible in the test report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from freezegun import freeze_time
from moto import mock_aws

from autoscaler.adapters.aws.cloudwatch import AlarmsAdapter, MetricsAdapter
from autoscaler.adapters.aws.cooldown import CooldownTable
from autoscaler.adapters.aws.errors import error_code
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


def only_on(*impls: str, reason: str | dict[str, str]) -> pytest.MarkDecorator:
    """This case runs only on these implementations; every other one is skipped with `reason` (conftest.py): one
    text for all of them, or one per implementation left out when each has its own."""
    return pytest.mark.only_on(*impls, reason=reason)


def _client(service: str, endpoint: str | None = None, *, pool: int = 10) -> Any:
    return botocore.session.get_session().create_client(
        service, region_name=REGION, endpoint_url=endpoint, config=Config(max_pool_connections=pool)
    )


def poll(done: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait for an emulator's state to change, checking every 20 ms for at most `timeout` real seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"{what}: not after {timeout:.0f} s"
        time.sleep(0.02)


class FastClock:
    """The Clock port on real time run FACTOR times faster: now() gains FACTOR s a real second, sleep(s) takes
    s / FACTOR real seconds. An emulator's UPDATING lasts real time; on this clock the adapter's own waits (polls
    every 2-20 s, its rate limiter) take a twentieth of theirs, so kinesis-mock's 0.5 s UPDATING is 10 s to the
    adapter, and wait_until_active(…, 1) times out after 50 ms of it."""

    FACTOR = 20.0

    def __init__(self, start: float = T0) -> None:
        self._start = start
        self._real = time.monotonic()

    def now(self) -> float:
        return self._start + (time.monotonic() - self._real) * self.FACTOR

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.FACTOR)


# -- Kinesis --------------------------------------------------------------------------------------------------------


@dataclass
class KinesisHarness:
    impl: str
    port: KinesisPort
    create: Callable[[str, int, StreamMode], None]
    enable_shard_metrics: Callable[[str, list[str]], None]


@contextmanager
def fake_kinesis(request: pytest.FixtureRequest) -> Iterator[KinesisHarness]:
    fake = FakeKinesis(SimClock(T0))

    def create(name: str, shards: int, mode: StreamMode) -> None:
        fake.create_stream(name, shards)
        fake.set_mode(name, mode)

    def enable(name: str, metrics: list[str]) -> None:
        fake.streams[name].shard_level_metrics = frozenset(metrics)

    yield KinesisHarness("fake", fake, create, enable)


@contextmanager
def moto_kinesis(request: pytest.FixtureRequest) -> Iterator[KinesisHarness]:
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


@contextmanager
def kinesis_mock_kinesis(request: pytest.FixtureRequest) -> Iterator[KinesisHarness]:
    """The adapter on the session's kinesis-mock (tests/conftest.py: UPDATING 0.5 s after a reshard, CREATING and
    DELETING over at once). Each case starts with no stream and deletes every stream it made.

    kinesis-mock sets a stream ACTIVE `duration` after every SplitShard, MergeShards and UpdateShardCount, refused
    ones included, and finds the stream by ARN: a refused call's timer can end a later reshard's UPDATING early, or
    land on the next case's stream of the same name. So the harness notes when each of those calls answered, and
    deletes the streams only once every such timer has fired."""
    server = request.getfixturevalue("kinesis_mock_server")
    c = _client("kinesis", server.endpoint)
    last_reshard = [0.0]

    def noted(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("Error", {}).get("Code") != "ResourceNotFoundException":  # no stream, no timer to wait for
            last_reshard[0] = time.monotonic()

    for operation in ("SplitShard", "MergeShards", "UpdateShardCount"):
        c.meta.events.register(f"after-call.kinesis.{operation}", noted)  # emitted for errors too

    def status(name: str) -> str:
        summary: dict[str, Any] = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return str(summary["StreamStatus"])

    def create(name: str, shards: int, mode: StreamMode) -> None:
        if mode is StreamMode.ON_DEMAND:
            c.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        else:
            c.create_stream(StreamName=name, ShardCount=shards, StreamModeDetails={"StreamMode": "PROVISIONED"})
        poll(lambda: status(name) == "ACTIVE", f"{name} ACTIVE")

    def enable(name: str, metrics: list[str]) -> None:
        c.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=metrics)
        poll(lambda: status(name) == "ACTIVE", f"{name} ACTIVE")

    assert not c.list_streams()["StreamNames"], "kinesis-mock: a previous case left streams"
    try:
        yield KinesisHarness("kinesis-mock", KinesisAdapter(c, FastClock()), create, enable)
    finally:
        timers_done = last_reshard[0] + server.updating_seconds + 0.1  # the server's timer starts before it answers
        poll(lambda: time.monotonic() >= timers_done, "kinesis-mock: the last reshard's ACTIVE timer")
        poll(lambda: _delete_streams(c), "kinesis-mock: every stream deleted")


def _delete_streams(c: Any) -> bool:
    """Ask to delete every stream; True once there is none. One still UPDATING refuses (ResourceInUse) for now."""
    names = c.list_streams()["StreamNames"]
    for name in names:
        try:
            c.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        except ClientError as exc:
            if error_code(exc) not in ("ResourceInUseException", "ResourceNotFoundException"):
                raise
    return not names


# -- CloudWatch metrics ---------------------------------------------------------------------------------------------


@dataclass
class MetricsHarness:
    impl: str
    port: MetricsPort
    put: Callable[[str, str, float, float, str], None]  # (stream, metric, at, value, shard id or "")


@contextmanager
def fake_metrics(request: pytest.FixtureRequest) -> Iterator[MetricsHarness]:
    fake = FakeMetrics(SimClock(T0))  # no publication delay: CloudWatch's own delay is not part of the contract
    yield MetricsHarness("fake", fake, fake.put)


@contextmanager
def moto_metrics(request: pytest.FixtureRequest) -> Iterator[MetricsHarness]:
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
def fake_alarms(request: pytest.FixtureRequest) -> Iterator[AlarmsHarness]:
    fake = FakeAlarms()

    def config(name: str) -> dict[str, Any]:
        alarm = fake.alarms[name]
        return _spec_config(alarm.spec, alarm.actions)

    yield AlarmsHarness("fake", fake, lambda name, state: fake.set_state(name, state, "test"), config)


@contextmanager
def moto_alarms(request: pytest.FixtureRequest) -> Iterator[AlarmsHarness]:
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
def fake_lock(request: pytest.FixtureRequest) -> Iterator[LockHarness]:
    clock = SimClock(T0)
    yield LockHarness("fake", FakeCooldown(clock), clock.advance)


@contextmanager
def moto_lock(request: pytest.FixtureRequest) -> Iterator[LockHarness]:
    with mock_aws():
        c = _client("dynamodb")
        create_table(c, "cooldown")
        yield LockHarness("moto", CooldownTable(c, "cooldown"))


RACERS = 30  # the many-writer case's threads; each needs a connection of its own to race


@contextmanager
def dynalite_lock(request: pytest.FixtureRequest) -> Iterator[LockHarness]:
    """CooldownTable on the session's dynalite: one table, every item deleted after each case. dynalite has no TTL
    (docs/emulators.md), so `advance` is left as a no-op and the TTL case is not run on it."""
    server = request.getfixturevalue("dynalite_server")
    c = _client("dynamodb", server.endpoint, pool=RACERS + 2)
    create_table(c, "cooldown")  # idempotent: after the first case it finds the table ACTIVE
    try:
        yield LockHarness("dynalite", CooldownTable(c, "cooldown"))
    finally:
        for item in c.scan(TableName="cooldown", ConsistentRead=True)["Items"]:
            c.delete_item(TableName="cooldown", Key={"stream": item["stream"]})


# -- the matrix -----------------------------------------------------------------------------------------------------

Factory = Callable[[pytest.FixtureRequest], AbstractContextManager[Any]]
# port fixture -> implementation name -> factory (given the test's request, to reach a session emulator). The suites
# run every case on each implementation listed that is not marked only_on(...) without it. CloudWatch has no
# emulator besides moto.
IMPLS: dict[str, dict[str, Factory]] = {
    "kinesis_impl": {"fake": fake_kinesis, "moto": moto_kinesis, "kinesis-mock": kinesis_mock_kinesis},
    "metrics_impl": {"fake": fake_metrics, "moto": moto_metrics},
    "alarms_impl": {"fake": fake_alarms, "moto": moto_alarms},
    "lock_impl": {"fake": fake_lock, "moto": moto_lock, "dynalite": dynalite_lock},
}


def open_impl(fixture: str, name: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    with ExitStack() as stack:
        yield stack.enter_context(IMPLS[fixture][name](request))
