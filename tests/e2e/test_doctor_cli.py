"""`kinesis-autoscaler doctor` as a subprocess against a moto server: healthy, then drift introduced by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoscaler.config import load_config
from autoscaler.local.moto_server import MotoServer
from autoscaler.local.setup import bootstrap, local_clients
from tests.e2e.test_cli import cli

pytestmark = pytest.mark.e2e
CONFIG = "streams:\n  - {name: doc-orders, min_shards: 2, max_shards: 8, desired_shards: 2}\n"


def test_doctor_reports_drift_and_what_to_do(moto_server: MotoServer, tmp_path: Path) -> None:
    path = tmp_path / "streams.yaml"
    path.write_text(CONFIG)
    clients = local_clients(moto_server.endpoint)
    bootstrap(clients, load_config(path), table="doc-cooldown", topic="doc-alarms")
    env = {**moto_server.env(), "COOLDOWN_TABLE": "doc-cooldown"}
    args = ["doctor", "--config", str(path), "--json"]

    healthy = cli(args, env)
    assert healthy.returncode == 0, healthy.stderr
    body = json.loads(healthy.stdout)
    assert (body["schema_version"], body["command"], body["findings"], body["healthy"]) == (1, "doctor", [], True)

    # drift: an alarm deleted by hand, and a split made outside the autoscaler (3 shards, alarms set for 2)
    clients.cloudwatch.delete_alarms(AlarmNames=["kinesis-autoscaler/doc-orders/write-throttled"])
    shard = clients.kinesis.list_shards(StreamName="doc-orders")["Shards"][0]
    mid = (int(shard["HashKeyRange"]["StartingHashKey"]) + int(shard["HashKeyRange"]["EndingHashKey"])) // 2 + 1
    clients.kinesis.split_shard(StreamName="doc-orders", ShardToSplit=shard["ShardId"], NewStartingHashKey=str(mid))
    sick = cli(args, env)
    assert sick.returncode == 1, sick.stderr
    found = {(f["check"], f["severity"]) for f in json.loads(sick.stdout)["findings"]}
    assert ("alarms", "error") in found  # the missing alarm
    assert ("alarms", "warning") in found  # thresholds for 2 shards, 3 open
    assert all(f["fix"] for f in json.loads(sick.stdout)["findings"] if f["severity"] != "info")
    table = cli(["doctor", "--config", str(path)], env)
    assert "create-streams" in table.stdout and table.returncode == 1
