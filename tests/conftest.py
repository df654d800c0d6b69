"""Shared fixtures: fake AWS credentials, the sim world on a simulated clock, configs, event files, a moto server."""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from autoscaler.adapters.fakes.clock import SimBudget, SimClock
from autoscaler.adapters.fakes.cloudwatch import FakeAlarms, FakeMetrics
from autoscaler.adapters.fakes.continuation import RecordingContinuation
from autoscaler.adapters.fakes.cooldown import FakeCooldown
from autoscaler.adapters.fakes.kinesis import FakeKinesis
from autoscaler.app.alarm_sync import stream_alarm_specs
from autoscaler.app.capacity_mode import CapacityModeService
from autoscaler.app.scale_down import ScaleDownService
from autoscaler.app.scale_up import ScaleUpService
from autoscaler.config import AutoscalerConfig, parse_config
from autoscaler.local.emulators import Dynalite, KinesisMock
from autoscaler.local.moto_server import FAKE_ENV, MotoServer

# Never let a test reach real AWS: fake credentials and a region before anything builds a client.
for _key, _value in FAKE_ENV.items():
    os.environ[_key] = _value
os.environ.pop("AWS_PROFILE", None)
for _key in [k for k in os.environ if k == "AWS_ENDPOINT_URL" or k.startswith("AWS_ENDPOINT_URL_")]:
    os.environ.pop(_key)  # AWS_ENDPOINT_URL_<SERVICE> routes one service; tests set what they route

ROOT = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"
MiB = 1_048_576


def fresh(event: Any) -> Any:
    """The event as if its alarm changed state just now: the fixtures' StateChangeTime (2026-11-20) would be older
    than Lambda's 6 h event age, which the handler refuses as stale (tests/unit/test_events.py tests that)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    if not isinstance(event, dict):
        return event
    for record in event.get("Records", []) if isinstance(event.get("Records"), list) else []:
        sns = record.get("Sns") if isinstance(record, dict) else None
        if isinstance(sns, dict) and isinstance(sns.get("Message"), str):
            sns["Message"] = _STATE_CHANGE_TIME.sub(rf"\g<1>{stamp}\g<2>", sns["Message"])
    state = event.get("alarmData", {}).get("state") if isinstance(event.get("alarmData"), dict) else None
    if isinstance(state, dict) and isinstance(state.get("timestamp"), str):
        state["timestamp"] = stamp
    return event


_STATE_CHANGE_TIME = re.compile(r'("StateChangeTime"\s*:\s*")[^"]*(")')


def load_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = fresh(json.loads((EVENTS / name).read_text()))
    return data


def make_config(**stream: Any) -> AutoscalerConfig:
    """A one-stream config ("orders", 2..64, desired 4) with overrides."""
    fields = {"name": "orders", "min_shards": 2, "max_shards": 64, "desired_shards": 4, **stream}
    body = "\n".join(f"    {k}: {json.dumps(v)}" for k, v in fields.items())
    return parse_config("streams:\n  -\n" + body + "\n", source="test.yaml")


@dataclass
class World:
    """Every port on in-memory doubles sharing one simulated clock."""

    clock: SimClock
    kinesis: FakeKinesis
    metrics: FakeMetrics
    alarms: FakeAlarms
    cooldown: FakeCooldown
    continuation: RecordingContinuation
    config: AutoscalerConfig

    def ports(self) -> dict[str, Any]:
        """Every use case's keyword arguments, on these doubles."""
        return {
            "config": self.config,
            "kinesis": self.kinesis,
            "metrics": self.metrics,
            "alarms": self.alarms,
            "cooldown": self.cooldown,
            "continuation": self.continuation,
            "clock": self.clock,
        }

    def service(self) -> ScaleUpService:
        return ScaleUpService(**self.ports())

    def scale_down_service(self) -> ScaleDownService:
        """The fleet scale-down on the same doubles; its continuations land in `continuation` too."""
        return ScaleDownService(**self.ports())

    def capacity_mode_service(self, estimator: Any) -> CapacityModeService:
        """The capacity-mode use case on the same doubles, with the given estimator (FakeEstimator)."""
        return CapacityModeService(estimator=estimator, **self.ports())

    def budget(self, seconds: float = 900.0) -> SimBudget:
        return SimBudget(self.clock, seconds)

    def add_stream(self, name: str = "orders", shards: int = 4, **kwargs: Any) -> None:
        self.kinesis.create_stream(name, shards, **kwargs)
        cfg = self.config.stream(name)
        assert cfg is not None
        specs = stream_alarm_specs(self.config.alarm_name_prefix, cfg, shards)
        self.alarms.ensure_alarms(specs, ["arn:aws:sns:us-east-1:123456789012:alarms"])

    def traffic(self, utilisation: float, shards: int, minutes: int = 5, stream: str = "orders") -> None:
        """`minutes` one-minute datapoints ending now, each at `utilisation` of `shards` shards (bytes)."""
        now = self.clock.now()
        for i in range(1, minutes + 1):
            self.metrics.put(stream, "IncomingBytes", now - 60 * i, utilisation * shards * MiB * 60)
            self.metrics.put(stream, "IncomingRecords", now - 60 * i, 10.0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """TEST_SHUFFLE_SEED=N runs the suite in a shuffled order (scripts/loop_tests.sh shuffled): no test may depend on
    another having run before it."""
    seed = os.environ.get("TEST_SHUFFLE_SEED")
    if seed:
        random.Random(int(seed)).shuffle(items)


def new_world(config: AutoscalerConfig | None = None) -> World:
    """Every port on fresh doubles, on one new simulated clock, for `config` (make_config() by default)."""
    clock = SimClock()
    return World(
        clock=clock,
        kinesis=FakeKinesis(clock),
        metrics=FakeMetrics(clock),
        alarms=FakeAlarms(),
        cooldown=FakeCooldown(clock),
        continuation=RecordingContinuation(),
        config=config or make_config(),
    )


@pytest.fixture
def world() -> World:
    return new_world()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- the third-party emulators (`make emulators`), one process each per session, started only when a test asks -------
# tests/e2e/emulators runs the product on all three servers together (LocalEmulators, its own conftest.py); these two
# are for tests that need one port on one emulator (tests/contract). Without `make emulators` they error with that hint.

CONTRACT_UPDATING_SECONDS = 0.5  # kinesis-mock's UPDATING after a split, merge or UpdateShardCount (AWS: ~30 s)


class FastKinesisMock(KinesisMock):
    """kinesis-mock with CREATING and DELETING over at once: cases create and delete a stream each, and only the
    UPDATING after a reshard is what they look at."""

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "CREATE_STREAM_DURATION": "0ms", "DELETE_STREAM_DURATION": "0ms"}


@pytest.fixture(scope="session")
def kinesis_mock_server() -> Iterator[KinesisMock]:
    server = FastKinesisMock(updating_seconds=CONTRACT_UPDATING_SECONDS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dynalite_server() -> Iterator[Dynalite]:
    server = Dynalite()
    server.start()
    try:
        yield server
    finally:
        server.stop()
