"""Exactly once under an alarm storm with the lock on dynalite and Kinesis on kinesis-mock: CONTAINERS warm Lambda
containers (worker processes, tests/lambda_pool.py) deliver one stream's alarm at the same moment; one of them
resizes 4 → 8 (the stream UPDATING meanwhile, for real), every other one is refused by the lock or the cooldown.
ROUNDS rounds, a fresh stream each."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from autoscaler.events.notification import sns_alarm_event
from autoscaler.local.moto_server import MOTO_ACCOUNT_ID
from autoscaler.local.setup import write_burst
from tests.e2e.emulators.conftest import Emu
from tests.lambda_pool import LambdaPool

pytestmark = pytest.mark.e2e
CONTAINERS = 20  # concurrent deliveries of the alarm in a round (spawned interpreters: ~1 s of CPU each to start)
ROUNDS = 3
NAMES = [f"emu-storm-{r}" for r in range(ROUNDS)]
CONFIG = "streams:\n" + "".join(f"  - {{name: {n}, min_shards: 1, max_shards: 64, desired_shards: 4}}\n" for n in NAMES)


@pytest.fixture(scope="module")
def storm(emu: Emu, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LambdaPool, Any]]:
    tmp = tmp_path_factory.mktemp("emu-storm")
    path, config = emu.config(tmp, CONFIG.removeprefix("streams:\n"))
    environ = emu.env(
        AUTOSCALER_CONFIG=str(path), AWS_LAMBDA_FUNCTION_NAME="emu-storm-fn", POWERTOOLS_LOG_LEVEL="ERROR"
    )
    with LambdaPool("autoscaler.handlers.scale_up", environ, size=CONTAINERS, account=MOTO_ACCOUNT_ID) as pool:
        yield pool, config


@pytest.mark.parametrize("rnd", range(ROUNDS))
def test_concurrent_alarms_cause_exactly_one_resize(emu: Emu, storm: tuple[LambdaPool, Any], rnd: int) -> None:
    pool, config = storm
    name = NAMES[rnd]
    emu.stream(config, name, 4)
    # 1.0 × 4 shards' bytes: ⌈4 × headroom 2⌉ = 8, one UpdateShardCount 4 → 8
    write_burst(emu.clients.cloudwatch, name, bytes_per_minute=1.0 * 4 * 1_048_576 * 60)
    alarm = emu.clients.cloudwatch.describe_alarms(AlarmNames=[f"kinesis-autoscaler/{name}/incoming-bytes"])
    event = sns_alarm_event(alarm=alarm["MetricAlarms"][0], account=MOTO_ACCOUNT_ID, at=datetime.now(UTC))

    answers = pool.run_round([[event]] * CONTAINERS)
    assert not [a for a in answers if "raised" in a], answers
    results = [r for a in answers for r in a["results"]]
    outcomes = Counter((r["outcome"], r.get("skip_reason")) for r in results)
    assert sum(outcomes.values()) == CONTAINERS, outcomes
    assert outcomes[("scaled", None)] == 1, outcomes
    # the others met the live lock, or (started late on 2 cores) the cooldown the winner set on release
    assert set(outcomes) <= {("scaled", None), ("skipped", "lock-held"), ("skipped", "cooldown")}, outcomes
    emu.wait_active(name)
    assert len(emu.open_shards(name)) == 8
    item = emu.lock_item(name)
    assert "owner" not in item and item["lease_until"] == 0 and item["cooldown_up_until"] > 0, item
