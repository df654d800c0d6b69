"""`kinesis-autoscaler simulate` and `backtest` as subprocesses: the table, the JSON contract, the plot, and the
errors an operator can fix (backtest reads a moto server's CloudWatch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autoscaler.local.moto_server import MotoServer
from autoscaler.local.setup import local_clients, write_datapoints

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EC2 = ROOT / "bench" / "traces" / "ec2_network_in.csv"
MiB = 1_048_576


def cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autoscaler", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {}), "COLUMNS": "220"},
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_simulate_prints_one_row_per_policy() -> None:
    done = cli(["simulate", "--trace", str(EC2)])
    assert done.returncode == 0, done.stderr
    for name in ("autoscaler", "polling", "on-demand", "on-demand-advantage", "oracle", "fixed"):
        assert name in done.stdout
    assert "ec2_network_in: 20,170 minutes" in done.stdout


def test_simulate_json_and_plot(tmp_path: Path) -> None:
    png = tmp_path / "out.png"
    done = cli(["simulate", "--trace", str(EC2), "--json", "--plot", str(png), "--policy", "autoscaler,on-demand"])
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["trace"], data["minutes"]) == ("ec2_network_in", 20_170)
    assert list(data["policies"]) == ["autoscaler", "on-demand"]
    assert data["policies"]["on-demand"]["shard_hours"] is None
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_with_a_config_uses_its_stream(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text("streams:\n  - {name: a, min_shards: 1, max_shards: 50, desired_shards: 2}\n")
    done = cli(["simulate", "--trace", str(EC2), "--config", str(cfg), "--json", "--policy", "autoscaler"])
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["stream"] == {"name": "a", "min_shards": 1, "max_shards": 50}
    assert data["policies"]["autoscaler"]["max_shards"] <= 50


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trace", "nope.csv"], "nope.csv: no such file"),
        (["--trace", str(EC2), "--policy", "magic"], "unknown policy 'magic'"),
        (["--trace", str(EC2), "--hot-key", "2"], "--hot-key '2'"),
        (["--trace", str(EC2), "--price", "beer=1"], "unknown price"),
        (["--trace", str(EC2), "--stream", "x"], "give --config too"),
        (["--trace", str(EC2), "--update-seconds", "inf"], "--update-seconds finite"),
        (["--trace", str(EC2), "--price", "shard_hour=-1"], "a price is a finite number ≥ 0"),
    ],
)
def test_simulate_bad_input_says_what_to_fix(args: list[str], message: str) -> None:
    done = cli(["simulate", *args])
    assert done.returncode == 2
    assert message in done.stderr


def test_backtest_reads_the_streams_history(moto_server: MotoServer) -> None:
    clients = local_clients(moto_server.endpoint)
    now = int(time.time()) // 60 * 60
    # three hours of 1-minute Sums at 1.5 shards of load (2 KiB records), the last 10 minutes at 4
    points = [
        (t, (4.0 if t >= now - 600 else 1.5) * 60 * MiB, (4.0 if t >= now - 600 else 1.5) * 60 * MiB / 2048)
        for t in range(now - 3 * 3600, now, 60)
    ]
    write_datapoints(clients.cloudwatch, "bt-orders", points)
    done = cli(["backtest", "--stream", "bt-orders", "--days", "1", "--json"], moto_server.env())
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["trace"] == "bt-orders" and data["stream"]["name"] == "bt-orders"
    assert 170 <= data["minutes"] <= 181
    assert data["policies"]["oracle"]["max_shards"] == 4


def test_backtest_of_a_stream_without_history_explains(moto_server: MotoServer) -> None:
    done = cli(["backtest", "--stream", "never-written", "--days", "1"], moto_server.env())
    assert done.returncode == 2
    assert "has no IncomingBytes/IncomingRecords datapoints in the last 1 days" in done.stderr


def test_backtest_refuses_more_than_63_days(moto_server: MotoServer) -> None:
    done = cli(["backtest", "--stream", "x", "--days", "90"], moto_server.env())
    assert done.returncode == 2
    assert "63" in done.stderr
