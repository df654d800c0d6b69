"""Exactly once under an alarm storm: 50 deliveries of each stream's alarm per round, run by 50 warm Lambda containers
(worker processes, one invocation at a time each: tests/lambda_pool.py) against a moto server process, take one
reshard sequence per stream between them; 20 rounds on fresh streams, for one stream and for 10 streams at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from autoscaler.config import AutoscalerConfig, parse_config
from autoscaler.events.notification import sns_alarm_event
from autoscaler.local.moto_server import MOTO_ACCOUNT_ID, MotoServer
from autoscaler.local.setup import create_stream, create_table, ensure_alarms, local_clients, write_burst
from tests.lambda_pool import LambdaPool

pytestmark = pytest.mark.e2e

CONTAINERS = 50  # warm containers; each delivers every stream's alarm once a round: 50 deliveries per stream
ROUNDS = 20
STREAM_COUNTS = (1, 10)
TABLE = "storm-cooldown"


def _names(streams: int) -> list[str]:
    return [f"storm-{streams}-{r}-{i}" for r in range(ROUNDS) for i in range(streams)]


@pytest.fixture(scope="module")
def storm(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LambdaPool, Any]]:
    """The scale-up handler in CONTAINERS worker processes, its clients on the moto server, one config for both
    parametrisations (the containers import it once, as a warm Lambda does)."""
    names = [n for count in STREAM_COUNTS for n in _names(count)]
    text = "streams:\n" + "".join(
        f"  - {{name: {n}, min_shards: 1, max_shards: 64, desired_shards: 4}}\n" for n in names
    )
    path = tmp_path_factory.mktemp("storm") / "streams.yaml"
    path.write_text(text)
    environ = {
        **moto_server.env(),
        "AUTOSCALER_CONFIG": str(path),
        "COOLDOWN_TABLE": TABLE,
        "AWS_LAMBDA_FUNCTION_NAME": "storm-fn",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    clients = local_clients(moto_server.endpoint)
    create_table(clients.dynamodb, TABLE)
    config = parse_config(text, source=str(path))
    with LambdaPool("autoscaler.handlers.scale_up", environ, size=CONTAINERS, account=MOTO_ACCOUNT_ID) as pool:
        yield pool, (clients, config)


def _open_count(kinesis: Any, stream: str) -> int:
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    return sum(1 for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"])


def _alarm_event(clients: Any, config: AutoscalerConfig, name: str, topic: str) -> dict[str, Any]:
    create_stream(clients.kinesis, name, 4)
    stream = config.stream(name)
    assert stream is not None
    ensure_alarms(clients.cloudwatch, config, stream, 4, topic)
    # 1.0 × 4 shards' bytes: the planner wants ⌈4 × headroom 2⌉ = 8 shards, one UpdateShardCount 4 → 8
    # (4 splits × 30 s = 120 s > 90 s).
    write_burst(clients.cloudwatch, name, bytes_per_minute=1.0 * 4 * 1_048_576 * 60)
    alarm = clients.cloudwatch.describe_alarms(AlarmNames=[f"kinesis-autoscaler/{name}/incoming-bytes"])
    return sns_alarm_event(alarm=alarm["MetricAlarms"][0], account=MOTO_ACCOUNT_ID, at=datetime.now(UTC))


@pytest.mark.parametrize("streams", STREAM_COUNTS)
def test_concurrent_alarms_cause_exactly_one_action_per_stream(storm: tuple[LambdaPool, Any], streams: int) -> None:
    pool, (clients, config) = storm
    names = _names(streams)
    topic = clients.sns.create_topic(Name="storm")["TopicArn"]
    for rnd in range(ROUNDS):
        round_streams = names[rnd * streams : (rnd + 1) * streams]
        events = [_alarm_event(clients, config, name, topic) for name in round_streams]
        # Container c delivers every stream's alarm once, starting at stream c mod n: all containers start together,
        # so each stream meets CONTAINERS / n deliveries at once and CONTAINERS in the round.
        per_container = [[events[(c + k) % streams] for k in range(streams)] for c in range(CONTAINERS)]
        answers = pool.run_round(per_container)
        assert not [a for a in answers if "raised" in a], answers
        results = [r for a in answers for r in a["results"]]
        outcomes = Counter((r.get("stream"), r["outcome"]) for r in results)
        for name in round_streams:
            assert outcomes[(name, "scaled")] == 1, f"round {rnd}: {outcomes}"
            assert _open_count(clients.kinesis, name) == 8, f"round {rnd}: {name} should end at 8 shards"
        assert sum(outcomes.values()) == CONTAINERS * streams
        for name in round_streams:
            assert sum(n for (stream, _), n in outcomes.items() if stream == name) == CONTAINERS, outcomes
        assert all(o in ("scaled", "skipped") for _, o in outcomes), outcomes
