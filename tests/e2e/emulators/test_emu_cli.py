"""create-streams (scripts/create_streams.py), status and doctor as subprocesses, with Kinesis on kinesis-mock,
the lock table on dynalite and the alarms on moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.emulators.conftest import TABLE, Emu, as_json, cli

pytestmark = pytest.mark.e2e


def test_create_streams_creates_on_kinesis_mock_then_finds_nothing_to_change(emu: Emu, tmp_path: Path) -> None:
    path, _ = emu.config(
        tmp_path,
        "  - {name: emu-cs-one, min_shards: 1, max_shards: 8, desired_shards: 3, retention_hours: 48}\n"
        "  - {name: emu-cs-two, min_shards: 1, max_shards: 8, desired_shards: 1, encrypt: false}\n",
        prefix="emucs",
    )
    args = ["--config", str(path), "--alarm-topic-arn", emu.topic, "--json"]
    first = as_json(cli(args, emu.env(), script="scripts/create_streams.py"))
    rows = {r["stream"]: r for r in first["streams"]}
    assert rows["emu-cs-one"]["status"] == rows["emu-cs-two"]["status"] == "changed", rows
    summary = emu.clients.kinesis.describe_stream_summary(StreamName="emu-cs-one")["StreamDescriptionSummary"]
    assert (summary["StreamStatus"], summary["RetentionPeriodHours"], summary["EncryptionType"]) == (
        "ACTIVE",
        48,
        "KMS",
    )
    assert len(emu.open_shards("emu-cs-one")) == 3 and len(emu.open_shards("emu-cs-two")) == 1
    alarms = emu.clients.cloudwatch.describe_alarms(AlarmNamePrefix="emucs/emu-cs-one/")["MetricAlarms"]
    assert len(alarms) == 3 and all(a["AlarmActions"] == [emu.topic] for a in alarms)

    second = cli(["--config", str(path), "--alarm-topic-arn", emu.topic], emu.env(), script="scripts/create_streams.py")
    assert second.returncode == 0 and "nothing to change" in second.stdout, second.stdout + second.stderr


def test_status_and_doctor_read_kinesis_mock_and_dynalite(emu: Emu, tmp_path: Path) -> None:
    path, config = emu.config(tmp_path, "  - {name: emu-st, min_shards: 2, max_shards: 8, desired_shards: 2}\n")
    emu.stream(config, "emu-st", 2)
    args = ["--config", str(path), "--table", TABLE, "--json"]
    (row,) = as_json(cli(["status", *args], emu.env()))["streams"]
    assert (row["open_shards"], row["mode"], row["alarms_match"]) == (2, "PROVISIONED", True), row
    healthy = cli(["doctor", *args], emu.env())
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    got = json.loads(healthy.stdout)
    assert (got["schema_version"], got["findings"], got["healthy"]) == (1, [], True)

    # a split made outside the autoscaler: 3 open shards, alarms still set for 2
    shard = emu.open_shards("emu-st")[0]
    mid = (int(shard["HashKeyRange"]["StartingHashKey"]) + int(shard["HashKeyRange"]["EndingHashKey"])) // 2 + 1
    emu.clients.kinesis.split_shard(StreamName="emu-st", ShardToSplit=shard["ShardId"], NewStartingHashKey=str(mid))
    emu.wait_active("emu-st")
    (row,) = as_json(cli(["status", *args], emu.env()))["streams"]
    assert (row["open_shards"], row["alarms_match"]) == (3, False), row
    drifted = cli(["doctor", *args], emu.env())
    assert drifted.returncode == 0, drifted.stdout + drifted.stderr  # warnings only: still healthy
    found = {(f["check"], f["severity"]) for f in json.loads(drifted.stdout)["findings"]}
    assert ("alarms", "warning") in found, found  # thresholds for 2 shards, 3 open
    assert ("layout", "info") in found, found  # one split: two shards of ¼ and one of ½ of the key space
