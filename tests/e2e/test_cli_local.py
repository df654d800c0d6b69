"""`kinesis-autoscaler local up|seed|down` as subprocesses (stdout a pipe, not a TTY), each test in a directory of
its own with its own config and a free port, the stack always taken down after.

Capturing `up`'s output is itself a check: a server that inherited the pipe would keep it open and the capture would
wait for it until the timeout. Waits are bounded polls; nothing asserts on durations.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from autoscaler.local import stack
from autoscaler.local.moto_server import free_port
from autoscaler.local.setup import local_clients

pytestmark = pytest.mark.e2e
MiB = 1_048_576
CONFIG = """\
streams:
  - {name: orders, min_shards: 1, max_shards: 16, desired_shards: 2}
  - {name: clickstream, min_shards: 1, max_shards: 8, desired_shards: 1}
"""
# until main.py registers the group (`python -m autoscaler local ...`)
LOCAL = [sys.executable, "-m", "autoscaler", "local"]


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "AUTOSCALER_CONFIG" and not k.startswith("AWS_ENDPOINT_URL")}
    return subprocess.run(
        args, capture_output=True, text=True, cwd=cwd, env={**base, **(env or {})}, timeout=120, check=False
    )


def local(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([*LOCAL, *args], cwd)


def exports(stdout: str) -> dict[str, str]:
    """`export K=V` lines (values need no quoting here); every line of stdout is a shell line."""
    env = {}
    for line in stdout.splitlines():
        assert line.startswith(("export ", "unset ")), f"not a shell line on stdout: {line!r}"
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
    return env


def recorded(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / stack.STATE_FILE).read_text())
    return data


def gone(pid: int) -> bool:
    """No live process: absent, or a zombie (exited; its parent, init once `up` has exited, may not have reaped it)."""
    return stack.poll(lambda: not stack.pid_alive(pid), timeout=30)


@pytest.fixture
def here(tmp_path: Path) -> Iterator[Path]:
    """A directory holding config/streams.yaml; whatever stack a test leaves there is taken down."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "streams.yaml").write_text(CONFIG)
    try:
        yield tmp_path
    finally:
        state = tmp_path / stack.STATE_FILE
        if state.exists():
            pid, port = recorded(tmp_path)["pid"], recorded(tmp_path)["port"]
            done = local("down", cwd=tmp_path)
            if done.returncode != 0 or state.exists():  # never leave a server behind, whatever broke
                stack.stop_server(pid, port)


def test_up_creates_the_stack_prints_exports_and_is_idempotent(here: Path) -> None:
    port = free_port()
    first = local("up", "--port", str(port), cwd=here)
    assert first.returncode == 0, first.stderr
    env = exports(first.stdout)
    assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}"
    assert env["COOLDOWN_TABLE"] == stack.TABLE
    assert env["AUTOSCALER_CONFIG"] == str((here / "config" / "streams.yaml").resolve())
    assert {"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(env)
    assert "from the current directory" in first.stderr  # which config was read, on stderr
    pid = recorded(here)["pid"]
    assert stack.pid_alive(pid)  # outlived the command

    clients = local_clients(env["AWS_ENDPOINT_URL"], env["AWS_REGION"], fake_credentials=True)
    open_shards = {
        name: sum(
            1
            for s in clients.kinesis.list_shards(StreamName=name)["Shards"]
            if "EndingSequenceNumber" not in s["SequenceNumberRange"]
        )
        for name in ("orders", "clickstream")
    }
    assert open_shards == {"orders": 2, "clickstream": 1}
    assert clients.dynamodb.describe_table(TableName=stack.TABLE)["Table"]["TableStatus"] == "ACTIVE"
    alarms = clients.cloudwatch.describe_alarms(AlarmNamePrefix="kinesis-autoscaler/")["MetricAlarms"]
    assert len(alarms) == 6  # incoming-bytes, incoming-records, write-throttled for each stream
    topic = recorded(here)["topic_arn"]
    assert all(a["AlarmActions"] == [topic] for a in alarms)

    second = local("up", "--port", str(port), cwd=here)
    assert second.returncode == 0, second.stderr
    assert exports(second.stdout) == env
    assert recorded(here)["pid"] == pid and "reusing" in second.stderr
    assert len(clients.cloudwatch.describe_alarms(AlarmNamePrefix="kinesis-autoscaler/")["MetricAlarms"]) == 6


def test_seed_writes_datapoints_getmetricdata_reads_and_plan_finds_evidence(here: Path) -> None:
    up = local("up", "--port", "0", cwd=here)
    assert up.returncode == 0, up.stderr
    env = exports(up.stdout)
    done = local("seed", "--stream", "orders", "--mib-per-s", "3", "--minutes", "4", "--records", "10", cwd=here)
    assert done.returncode == 0, done.stderr

    clients = local_clients(env["AWS_ENDPOINT_URL"], env["AWS_REGION"], fake_credentials=True)
    minute = int(time.time()) // 60 * 60
    dims = [{"Name": "StreamName", "Value": "orders"}]
    page = clients.cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": qid,
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Kinesis", "MetricName": metric, "Dimensions": dims},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
            for qid, metric in (("b", "IncomingBytes"), ("r", "IncomingRecords"))
        ],
        # aligned to the minute (moto's buckets start at StartTime), wide enough for a minute turning meanwhile
        StartTime=datetime.fromtimestamp(minute - 3600, tz=UTC),
        EndTime=datetime.fromtimestamp(minute + 120, tz=UTC),
    )
    series = {r["Id"]: r["Values"] for r in page["MetricDataResults"]}
    # 4 whole minutes at 3 MiB/s, 1,000 records a MiB; the real records add their bytes to the minute they were put in
    assert series["b"].count(3 * MiB * 60) == 4
    assert series["r"].count(3 * 1_000 * 60) == 4
    shards = clients.kinesis.list_shards(StreamName="orders")["Shards"]
    iterator = clients.kinesis.get_shard_iterator(
        StreamName="orders", ShardId=shards[0]["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert clients.kinesis.get_records(ShardIterator=iterator)["Records"]  # real records were written

    # 3 MiB/s on 2 shards = 150%: the operator's next command finds the evidence through up's exports alone
    plan = run([sys.executable, "-m", "autoscaler", "plan", "scale-up", "--stream", "orders"], here, env)
    assert plan.returncode == 0, plan.stderr
    assert "scaled_for_peak" in plan.stdout


def test_down_stops_the_server_removes_the_state_and_is_harmless_twice(here: Path) -> None:
    port = free_port()
    assert local("up", "--port", str(port), cwd=here).returncode == 0
    pid = recorded(here)["pid"]

    done = local("down", cwd=here)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("unset AWS_ENDPOINT_URL ")
    assert not (here / stack.STATE_FILE).exists()
    assert gone(pid)
    assert not stack.answers(port)

    again = local("down", cwd=here)
    assert (again.returncode, again.stdout) == (0, "")
    assert "nothing to stop" in again.stderr


def test_a_stale_state_file_is_replaced_by_a_new_server(here: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])  # a pid that ran and was reaped
    dead.wait()
    (here / stack.STATE_FILE).write_text(json.dumps({"pid": dead.pid, "port": free_port(), "config": "x"}))

    up = local("up", "--port", "0", cwd=here)
    assert up.returncode == 0, up.stderr
    assert "no longer runs" in up.stderr
    assert recorded(here)["pid"] != dead.pid and stack.pid_alive(recorded(here)["pid"])


def test_errors_name_the_fix_and_use_the_documented_exit_codes(here: Path, tmp_path_factory: Any) -> None:
    empty = tmp_path_factory.mktemp("no-config")
    no_config = local("up", "--port", "0", cwd=empty)
    assert no_config.returncode == 2 and "streams.yaml" in no_config.stderr
    assert not (empty / stack.STATE_FILE).exists()

    no_stack = local("seed", cwd=here)
    assert no_stack.returncode == 3 and "local up" in no_stack.stderr

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = local("up", "--port", str(taken.getsockname()[1]), cwd=here)
    assert busy.returncode == 2 and "--port" in busy.stderr
    assert not (here / stack.STATE_FILE).exists()

    assert local("up", "--port", "0", cwd=here).returncode == 0
    unknown = local("seed", "--stream", "nope", cwd=here)
    assert unknown.returncode == 2 and "orders, clickstream" in unknown.stderr
