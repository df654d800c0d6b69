"""Exactly once under an alarm storm: 50 concurrent scale-up handler runs (threads) per stream against a moto server
process, for one stream (50 threads) and for 10 streams at once (500 threads), take one reshard sequence per stream
between them; 20 rounds on fresh streams each (issue 6)."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from autoscaler.local.alarm_events import FakeLambdaContext, sns_alarm_event
from autoscaler.local.moto_server import MOTO_ACCOUNT_ID, MotoServer
from autoscaler.local.setup import create_stream, create_table, ensure_alarms, local_clients, write_burst

pytestmark = pytest.mark.e2e

PER_STREAM = 50  # concurrent deliveries of each stream's alarm in a round
ROUNDS = 20
TABLE = "storm-cooldown"


@pytest.fixture
def handler_against(moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The scale-up handler module imported fresh with its clients pointed at the moto server."""

    def load(config_text: str) -> ModuleType:
        cfg_file = tmp_path / "streams.yaml"
        cfg_file.write_text(config_text)
        for key, value in moto_server.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AUTOSCALER_CONFIG", str(cfg_file))
        monkeypatch.setenv("COOLDOWN_TABLE", TABLE)
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "storm-fn")
        monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "ERROR")
        import autoscaler.config as config_module

        config_module._load_cached.cache_clear()
        sys.modules.pop("autoscaler.handlers.scale_up", None)
        return importlib.import_module("autoscaler.handlers.scale_up")

    # Powertools keeps one logging.Logger per service name, and POWERTOOLS_LOG_LEVEL=ERROR above sets it: put it back
    # so later tests that read the handlers' log lines see Lambda's default level.
    service_logger = logging.getLogger("kinesis-autoscaler")
    level = service_logger.level
    yield load
    service_logger.setLevel(level)
    sys.modules.pop("autoscaler.handlers.scale_up", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)


def _fire_concurrently(module: ModuleType, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PER_STREAM handler invocations of each event, all released together by one barrier."""
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    total = PER_STREAM * len(events)
    barrier = threading.Barrier(total)

    def fire(i: int) -> None:
        event = events[i % len(events)]
        barrier.wait()
        out = module.handler(event, FakeLambdaContext(MOTO_ACCOUNT_ID))["results"]
        with lock:
            results.extend(out)

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(total)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _open_count(kinesis: Any, stream: str) -> int:
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    return sum(1 for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"])


@pytest.mark.parametrize("streams", [1, 10])
def test_concurrent_alarms_cause_exactly_one_action_per_stream(
    handler_against: Any, moto_server: MotoServer, streams: int
) -> None:
    names = [f"storm-{streams}-{r}-{i}" for r in range(ROUNDS) for i in range(streams)]
    config = "streams:\n" + "".join(
        f"  - {{name: {n}, min_shards: 1, max_shards: 64, desired_shards: 4}}\n" for n in names
    )
    module = handler_against(config)
    clients = local_clients(moto_server.endpoint)
    create_table(clients.dynamodb, TABLE)
    topic = clients.sns.create_topic(Name="storm")["TopicArn"]
    for rnd in range(ROUNDS):
        round_streams = names[rnd * streams : (rnd + 1) * streams]
        events = []
        for name in round_streams:
            create_stream(clients.kinesis, name, 4)
            ensure_alarms(clients.cloudwatch, module.CONFIG, module.CONFIG.stream(name), 4, topic)
            # 1.0 × 4 shards' bytes: the planner wants ⌈4 × headroom 2⌉ = 8 shards, one UpdateShardCount 4 → 8
            # (4 splits × 30 s = 120 s > 90 s).
            write_burst(clients.cloudwatch, name, bytes_per_minute=1.0 * 4 * 1_048_576 * 60)
            alarm = clients.cloudwatch.describe_alarms(AlarmNames=[f"kinesis-autoscaler-{name}-incoming-bytes"])
            events.append(sns_alarm_event(alarm=alarm["MetricAlarms"][0], account=MOTO_ACCOUNT_ID))
        results = _fire_concurrently(module, events)
        outcomes = Counter((r.get("stream"), r["outcome"]) for r in results)
        for name in round_streams:
            assert outcomes[(name, "scaled")] == 1, f"round {rnd}: {outcomes}"
            assert _open_count(clients.kinesis, name) == 8, f"round {rnd}: {name} should end at 8 shards"
        assert sum(outcomes.values()) == PER_STREAM * streams
        for name in round_streams:
            assert sum(n for (stream, _), n in outcomes.items() if stream == name) == PER_STREAM, outcomes
        assert all(o in ("scaled", "skipped") for _, o in outcomes), outcomes
