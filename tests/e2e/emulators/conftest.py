"""The emulators of this suite, started once per session: kinesis-mock (Kinesis), dynalite (DynamoDB) and a moto
server (CloudWatch, SNS), reached through the standard AWS_ENDPOINT_URL_<SERVICE> variables. Install them with
`make emulators`; without them the fixture errors with that instruction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from autoscaler.config import AutoscalerConfig, parse_config
from autoscaler.local.emulators import LocalEmulators
from autoscaler.local.setup import LocalClients, create_stream, create_table, ensure_alarms, local_clients

ROOT = Path(__file__).resolve().parents[3]
UPDATING_SECONDS = 1.0  # kinesis-mock keeps a stream UPDATING this long after each reshard call (AWS: ~30 s a split)
TABLE = "emu-cooldown"


@dataclass
class Emu:
    emulators: LocalEmulators
    clients: LocalClients
    topic: str

    def env(self, **extra: str) -> dict[str, str]:
        return {**self.emulators.env(), "COOLDOWN_TABLE": TABLE, **extra}

    def config(self, tmp_path: Path, body: str, prefix: str = "kinesis-autoscaler") -> tuple[Path, AutoscalerConfig]:
        path = tmp_path / "streams.yaml"
        text = f"alarm_name_prefix: {prefix}\nstreams:\n{body}"
        path.write_text(text)
        return path, parse_config(text, source=str(path))

    def stream(self, config: AutoscalerConfig, name: str, shards: int) -> None:
        """The stream on kinesis-mock (ACTIVE), its alarms for `shards` on moto."""
        cfg = config.stream(name)
        assert cfg is not None
        create_stream(self.clients.kinesis, name, shards)
        ensure_alarms(self.clients.cloudwatch, config, cfg, shards, self.topic)

    def open_shards(self, name: str) -> list[dict[str, Any]]:
        shards = self.clients.kinesis.list_shards(StreamName=name)["Shards"]
        return [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]

    def status(self, name: str) -> str:
        status: str = self.clients.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamStatus"
        ]
        return status

    def wait_active(self, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.status(name) != "ACTIVE":
            assert time.monotonic() < deadline, f"{name} not ACTIVE after {timeout} s"
            time.sleep(0.1)

    def lock_item(self, name: str) -> dict[str, Any]:
        """The stream's lock item in dynalite, attribute values unwrapped ({"N": "1"} -> 1.0)."""
        item = self.clients.dynamodb.get_item(TableName=TABLE, Key={"stream": {"S": name}}, ConsistentRead=True)
        out: dict[str, Any] = {}
        for key, value in item.get("Item", {}).items():
            ((kind, raw),) = value.items()
            out[key] = float(raw) if kind == "N" else raw
        return out


@pytest.fixture(scope="session")
def emu() -> Iterator[Emu]:
    emulators = LocalEmulators(updating_seconds=UPDATING_SECONDS)
    emulators.start()
    try:
        clients = local_clients(emulators.moto.endpoint, endpoints=emulators.endpoints())
        create_table(clients.dynamodb, TABLE)
        topic = clients.sns.create_topic(Name="emu-alarms")["TopicArn"]
        yield Emu(emulators, clients, topic)
    finally:
        emulators.stop()


def cli(args: list[str], env: dict[str, str], *, script: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m autoscaler ARGS` (or `python SCRIPT ARGS`) as a subprocess, on the emulators' environment only."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    command = [sys.executable, script] if script else [sys.executable, "-m", "autoscaler"]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        env={**base, **env, "COLUMNS": "200"},
        cwd=ROOT,
        timeout=180,
        check=False,
    )


def as_json(done: subprocess.CompletedProcess[str], code: int = 0) -> Any:
    """The CLI's JSON: the envelope's per-stream rows (`streams`) for the commands that act, else the whole object."""
    assert done.returncode == code, done.stdout[-2000:] + done.stderr[-3000:]
    body = json.loads(done.stdout)
    assert body["schema_version"] == 1, body
    return body["streams"] if body["command"] in ("scale-up", "scale-down", "scale") else body
