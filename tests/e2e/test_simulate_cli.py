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


def cli(args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The CLI as a subprocess, stdout a pipe (not a TTY); $AUTOSCALER_CONFIG only when the test sets it."""
    inherited = {k: v for k, v in os.environ.items() if k != "AUTOSCALER_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "autoscaler", *args],
        capture_output=True,
        text=True,
        env={**inherited, **(env or {}), "COLUMNS": "220"},
        cwd=cwd,
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
        (["--trace", str(EC2), "--stream", "x"], "'x' is not in config/streams.yaml (from the current directory)"),
        (["--trace", str(EC2), "--update-seconds", "inf"], "--update-seconds finite"),
        (["--trace", str(EC2), "--price", "shard_hour=-1"], "a price is a finite number ≥ 0"),
    ],
)
def test_simulate_bad_input_says_what_to_fix(args: list[str], message: str) -> None:
    done = cli(["simulate", *args])
    assert done.returncode == 2
    assert message in done.stderr


def test_backtest_reads_the_streams_history(moto_server: MotoServer, tmp_path: Path) -> None:
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
    # 3 hours: too short for the scale-down's 24 h lookback, and said so
    assert data["history"]["too_short"] is True
    assert [w for w in data["warnings"] if w.startswith("history too short to judge")]
    # run from the clone, whose config/streams.yaml does not list bt-orders: the built-in defaults, said so
    assert data["config"] is None
    assert (
        "bt-orders is not in config/streams.yaml (from the current directory)" in data["config_source"]["description"]
    )
    saved = tmp_path / "bt-orders.csv"
    table = cli(["backtest", "--stream", "bt-orders", "--days", "1", "--save-trace", str(saved)], moto_server.env())
    assert table.returncode == 0, table.stderr
    assert "config: built-in defaults" in table.stderr
    assert f"history written to {saved}: `simulate --trace {saved}` with the same options" in table.stderr
    assert "warning: history too short to judge: the trace covers" in table.stderr


def test_backtest_of_a_stream_without_history_explains(moto_server: MotoServer) -> None:
    done = cli(["backtest", "--stream", "never-written", "--days", "1"], moto_server.env())
    assert done.returncode == 2
    assert "has no IncomingBytes/IncomingRecords datapoints in the last 1 days" in done.stderr


def test_backtest_refuses_more_than_63_days(moto_server: MotoServer) -> None:
    done = cli(["backtest", "--stream", "x", "--days", "90"], moto_server.env())
    assert done.returncode == 2
    assert "63" in done.stderr


# -- issue 14: backtest and simulate agree, say which config they read, warn on short history and on max_shards ------


def test_a_saved_backtest_history_simulates_to_the_same_rows(moto_server: MotoServer, tmp_path: Path) -> None:
    """backtest --save-trace F, then simulate --trace F, both on the config $AUTOSCALER_CONFIG names: the same JSON,
    every row and field. The history has what made them differ: 5-minute Sums (beyond 15 days) spread into minutes
    that are not whole numbers, a first period with no writes, a minute missing every 7, a burst past max_shards."""
    clients = local_clients(moto_server.endpoint)
    now = int(time.time()) // 60 * 60
    old = now - 16 * 86_400  # read back as 5-minute Sums
    points: list[tuple[int, float, float | None]] = [(old, 0.0, 0.0)]
    points += [(old + 60 * i, 1.3 * 60 * MiB + 0.7, 1.3 * 60 * MiB / 3000 + 0.1) for i in range(5, 120)]
    for i in range(180):
        if i % 7 != 3:
            load = 5.0 if 100 <= i < 130 else 1.5  # 5 shards of load: more than max_shards 3 allow
            points.append((now - 3 * 3600 + 60 * i, load * 60 * MiB + 0.3, load * 60 * MiB / 2048 + 0.1))
    write_datapoints(clients.cloudwatch, "bt-trip", points)
    cfg = tmp_path / "streams.yaml"
    cfg.write_text("streams:\n  - {name: bt-trip, min_shards: 1, max_shards: 3, desired_shards: 1}\n")
    env = {**moto_server.env(), "AUTOSCALER_CONFIG": str(cfg)}
    saved = tmp_path / "bt-trip.csv"  # named as the stream, so even the "trace" field matches
    backtest = cli(["backtest", "--stream", "bt-trip", "--days", "20", "--json", "--save-trace", str(saved)], env)
    assert backtest.returncode == 0, backtest.stderr
    simulated = cli(["simulate", "--trace", str(saved), "--json"], {"AUTOSCALER_CONFIG": str(cfg)}, cwd=tmp_path)
    assert simulated.returncode == 0, simulated.stderr
    b, s = json.loads(backtest.stdout), json.loads(simulated.stdout)
    # from the 5-minute period holding `old` (exactly 16 days when `now` falls on a 5-minute boundary), quiet first
    # period included
    assert b["minutes"] >= 16 * 1440 and b["policies"]["autoscaler"]["throttled_bytes_fraction"] > 0
    assert b["config"] == str(cfg)
    assert b["config_source"] == {
        "path": str(cfg),
        "found_by": "$AUTOSCALER_CONFIG",
        "description": f"{cfg} (from $AUTOSCALER_CONFIG)",
    }
    assert (b.pop("command"), s.pop("command"), b["schema_version"]) == ("backtest", "simulate", 1)
    assert json.dumps(s, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_simulate_and_backtest_say_which_config_they_read(tmp_path: Path) -> None:
    cfg = tmp_path / "streams.yaml"
    cfg.write_text("streams:\n  - {name: a, min_shards: 1, max_shards: 50, desired_shards: 2}\n")
    env = {"AUTOSCALER_CONFIG": str(cfg)}
    table = cli(["simulate", "--trace", str(EC2), "--policy", "autoscaler"], env, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert f"config: {cfg} (from $AUTOSCALER_CONFIG); stream a" in table.stderr
    data = json.loads(cli(["simulate", "--trace", str(EC2), "--json", "--policy", "autoscaler"], env).stdout)
    assert data["config"] == str(cfg) and data["config_source"]["found_by"] == "$AUTOSCALER_CONFIG"
    assert data["stream"]["max_shards"] == 50
    # nothing named and no --stream: the built-in defaults, said so
    bare = cli(["simulate", "--trace", str(EC2), "--json", "--policy", "autoscaler"], cwd=tmp_path)
    assert bare.returncode == 0, bare.stderr
    assert json.loads(bare.stdout)["config"] is None
    assert json.loads(bare.stdout)["config_source"]["description"].startswith("built-in defaults")
    # --stream with no file to find: what to do
    lost = cli(["simulate", "--trace", str(EC2), "--stream", "a"], cwd=tmp_path)
    assert lost.returncode == 2 and "no streams.yaml" in lost.stderr and "AUTOSCALER_CONFIG" in lost.stderr
    # backtest of a stream the named file does not list: refused before any AWS call
    other = cli(["backtest", "--stream", "zz", "--days", "1"], env, cwd=tmp_path)
    assert other.returncode == 2 and "'zz' is not in" in other.stderr


def test_a_short_history_warns_on_stderr_and_in_the_json(tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    rows = [f"2024-01-01T{h:02d}:{m:02d}:00Z,{60 * MiB},{30_000}" for h in range(3) for m in range(60)]
    short.write_text("timestamp,incoming_bytes,incoming_records\n" + "\n".join(rows) + "\n")
    table = cli(["simulate", "--trace", str(short)], cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "warning: history too short to judge: the trace covers 3 h, less than the scale-down's 24 h" in table.stderr
    data = json.loads(cli(["simulate", "--trace", str(short), "--json"], cwd=tmp_path).stdout)
    assert data["history"]["too_short"] is True and data["history"]["minutes"] == 180
    assert any("history too short to judge" in w for w in data["warnings"])
    long = json.loads(cli(["simulate", "--trace", str(EC2), "--json", "--policy", "autoscaler"], cwd=tmp_path).stdout)
    assert long["history"]["too_short"] is False and long["warnings"] == []


def test_throttling_at_max_shards_is_blamed_on_max_shards(tmp_path: Path) -> None:
    cfg = tmp_path / "streams.yaml"
    cfg.write_text("streams:\n  - {name: a, min_shards: 1, max_shards: 16, desired_shards: 2}\n")
    args = ["simulate", "--trace", str(EC2), "--config", str(cfg), "--policy", "autoscaler"]
    table = cli(args, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "warning: max_shards throttled it:" in table.stderr and "at max_shards (16)" in table.stderr
    a = json.loads(cli([*args, "--json"], cwd=tmp_path).stdout)["policies"]["autoscaler"]
    assert 0 < a["throttled_bytes_fraction_at_max_shards"] <= a["throttled_bytes_fraction"]
    assert a["throttled_minutes_at_max_shards"] > 0 and a["scale_ups_capped_by_max_shards"] > 0
