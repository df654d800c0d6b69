"""The operator CLI as a subprocess against a moto server: dry runs change nothing; errors say what to fix."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from autoscaler.config import load_config
from autoscaler.local.moto_server import MotoServer
from autoscaler.local.setup import bootstrap, local_clients, write_burst

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CONFIG = "streams:\n  - {{name: {name}, min_shards: 1, max_shards: 16, desired_shards: 2}}\n"
_STREAMS = itertools.count()


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autoscaler", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "COLUMNS": "200"},
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@pytest.fixture
def stack(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A stream of its own for each test (on the session's moto server): no test sees another's reshards, metrics
    or cooldown, in whatever order they run."""
    name = f"cli-orders-{next(_STREAMS)}"
    path = tmp_path_factory.mktemp("cli") / "streams.yaml"
    path.write_text(CONFIG.format(name=name))
    clients = local_clients(moto_server.endpoint)
    bootstrap(clients, load_config(path), table="cli-cooldown", topic="cli-alarms")
    write_burst(clients.cloudwatch, name, bytes_per_minute=0.7 * 2 * 1_048_576 * 60, minutes=3)
    env = {**moto_server.env(), "COOLDOWN_TABLE": "cli-cooldown"}
    return {"config": str(path), "env": env, "clients": clients, "stream": name}


def open_count(stack: dict[str, Any]) -> int:
    shards = stack["clients"].kinesis.list_shards(StreamName=stack["stream"])["Shards"]
    return sum(1 for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"])


def test_plan_and_dry_run_print_the_decision_and_change_nothing(stack: dict[str, Any]) -> None:
    for args in (["plan", "scale-up"], ["scale-up", "--dry-run"]):
        done = cli([*args, "--stream", stack["stream"], "--config", stack["config"], "--json"], stack["env"])
        assert done.returncode == 0, done.stderr
        body = json.loads(done.stdout)
        assert (body["schema_version"], body["config"]) == (1, stack["config"])
        (out,) = body["streams"]
        # peak 0.7 × 2 shards = 1.4 shards of load × headroom 2 = 2.8 → 3 shards of capacity: both halves must be
        # split (½ × 3 = 1.5 → 2 pieces each), 2 splits (60 s) beat one UpdateShardCount (90 s) → 4 shards
        assert (out["current"], out["target"], out["reason"], out["dry_run"]) == (2, 4, "scaled_for_peak", True)
        assert len(out["ops"]) == 2 and all(op.startswith("split shardId-") for op in out["ops"])
        assert [op["kind"] for op in out["operations"]] == ["split", "split"]
    assert open_count(stack) == 2


def test_table_output_is_readable(stack: dict[str, Any]) -> None:
    done = cli(["plan", "scale-up", "--stream", stack["stream"], "--config", stack["config"]], stack["env"])
    assert done.returncode == 0, done.stderr
    assert "2 -> 4" in done.stdout and "scaled_for_peak" in done.stdout and "dry run" in done.stdout


def test_scale_up_for_real_then_cooldown(stack: dict[str, Any]) -> None:
    done = cli(["scale-up", "--stream", stack["stream"], "--config", stack["config"], "--json"], stack["env"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["streams"][0]["outcome"] == "scaled"
    assert open_count(stack) == 4
    args = ["--stream", stack["stream"], "--config", stack["config"], "--json"]
    predicted = cli(["scale-up", "--dry-run", *args], stack["env"])
    again = cli(["scale-up", *args], stack["env"])
    # refused: exit 4, and the dry run a moment before predicted exactly that, with the run's reason code
    assert (predicted.returncode, again.returncode) == (4, 4), again.stderr
    (guess,), (row,) = json.loads(predicted.stdout)["streams"], json.loads(again.stdout)["streams"]
    assert (row["outcome"], row["skip_reason"]) == ("skipped", "cooldown")
    assert (guess["outcome"], guess["skip_reason"], guess["dry_run"]) == ("skipped", "cooldown", True)
    assert guess["detail"].startswith("would be skipped: ") and "up cooldown" in guess["detail"]
    table = cli(["scale-up", "--stream", stack["stream"], "--config", stack["config"]], stack["env"])
    assert table.returncode == 4 and "refused before planning" in table.stdout and "no datapoints" not in table.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["plan", "scale-up", "--stream", "payments"], 2, "stream 'payments' is not in"),
        (["validate-config", "--config", "/nonexistent.yaml"], 2, "no such file; set AUTOSCALER_CONFIG or --config"),
    ],
)
def test_operator_errors(stack: dict[str, Any], args: list[str], code: int, message: str) -> None:
    if "--config" not in args:
        args = [*args, "--config", stack["config"]]
    done = cli(args, stack["env"])
    assert done.returncode == code
    assert message in " ".join(done.stderr.split())


def test_broken_config_names_the_line(stack: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("streams:\n  - {name: x, min_shards: 5, max_shards: 2, desired_shards: 2}\n")
    done = cli(["validate-config", "--config", str(bad)], stack["env"])
    assert done.returncode == 2
    assert "line 2, streams[0].min_shards: min_shards (5) is above max_shards (2)" in " ".join(done.stderr.split())


def test_missing_credentials_are_explained(stack: dict[str, Any]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL=stack["env"]["AWS_ENDPOINT_URL"],
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "autoscaler",
            "plan",
            "scale-up",
            "--stream",
            stack["stream"],
            "--config",
            stack["config"],
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert "no AWS credentials" in done.stderr


def test_demo_runs_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "exactly once" in done.stdout and "moto server stopped" in done.stdout


def test_plan_scale_down_prints_peak_mean_decision_and_merges(moto_server: MotoServer, tmp_path: Path) -> None:
    from autoscaler.local.setup import write_quiet_day

    path = tmp_path / "streams.yaml"
    path.write_text("streams:\n  - {name: cli-quiet, min_shards: 1, max_shards: 16, desired_shards: 4}\n")
    clients = local_clients(moto_server.endpoint)
    bootstrap(clients, load_config(path), table="cli-down", topic="cli-down")
    write_quiet_day(clients.cloudwatch, "cli-quiet", utilisation=0.2, shards=4)
    env = {**moto_server.env(), "COOLDOWN_TABLE": "cli-down"}
    done = cli(["plan", "scale-down", "--config", str(path), "--json"], env)
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["streams"]
    # 20% of 4 shards = 0.8 shards of load / 0.5 (1 / headroom 2) = 1.6 → 2 (= the halving bound): two merges
    # (2 × 30 s = 60 s, not slower than one UpdateShardCount)
    assert (row["outcome"], row["current"], row["target"], len(row["ops"])) == ("dry_run", 4, 2, 2)
    assert row["peak_utilisation"] == pytest.approx(0.2) and row["mean_utilisation"] == pytest.approx(0.2)
    table = cli(["scale-down", "--dry-run", "--config", str(path), "-v"], env)
    assert "merge shardId-" in table.stdout and "dry run" in table.stdout
    shards = clients.kinesis.list_shards(StreamName="cli-quiet")["Shards"]
    assert len(shards) == 4, "a dry run changes nothing"
    real = cli(["scale-down", "--config", str(path), "--json"], env)
    assert json.loads(real.stdout)["streams"][0]["after"] == 2
    # the cooldown the run set: the plan now says the run would be skipped, with the run's reason code
    (again,) = json.loads(cli(["plan", "scale-down", "--config", str(path), "--json"], env).stdout)["streams"]
    assert again["reason"] in ("cooldown", "at_min", "peak_too_high", "busy"), again


def test_plan_capacity_mode_reports_every_stream_then_the_run_switches_only_what_the_config_allows(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    from autoscaler.local.setup import write_quiet_day

    path = tmp_path / "streams.yaml"
    path.write_text(
        "streams:\n"
        "  - {name: cli-mode-p, min_shards: 1, max_shards: 16, desired_shards: 4}\n"
        "  - {name: cli-mode-od, min_shards: 1, max_shards: 16, desired_shards: 4, capacity_mode: on-demand}\n"
    )
    clients = local_clients(moto_server.endpoint)
    bootstrap(clients, load_config(path), table="cli-mode", topic="cli-mode")
    for name in ("cli-mode-p", "cli-mode-od"):
        write_quiet_day(clients.cloudwatch, name, utilisation=0.2, shards=4)
    env = {**moto_server.env(), "COOLDOWN_TABLE": "cli-mode"}
    done = cli(["plan", "capacity-mode", "--config", str(path), "--json"], env)
    assert done.returncode == 0, done.stderr
    rows = {r["stream"]: r for r in json.loads(done.stdout)["streams"]}
    # both streams' day of history replayed under each mode, whatever their capacity_mode
    for row in rows.values():
        e = row["evidence"]
        assert e is not None and e["history_days"] >= 1 and e["provisioned"]["cost_usd"] > 0, row
        assert e["favoured"] in ("PROVISIONED", "ON_DEMAND")
    assert (rows["cli-mode-p"]["outcome"], rows["cli-mode-p"]["capacity_mode"]) == ("skipped", "provisioned")
    assert (rows["cli-mode-od"]["outcome"], rows["cli-mode-od"]["target"]) == ("dry_run", "ON_DEMAND")
    mode = clients.kinesis.describe_stream_summary(StreamName="cli-mode-od")["StreamDescriptionSummary"]
    assert mode["StreamModeDetails"]["StreamMode"] == "PROVISIONED", "a plan changes nothing"
    table = cli(["plan", "capacity-mode", "--config", str(path)], env)
    assert "evidence favours" in table.stdout and "capacity-mode plan" in table.stdout
    real = cli(["capacity-mode", "--config", str(path), "--json"], env)
    assert real.returncode == 0, real.stderr
    (switched,) = json.loads(real.stdout)["streams"]  # the provisioned stream is not even looked at
    assert (switched["stream"], switched["outcome"], switched["reason"]) == ("cli-mode-od", "switched", "configured")
    for name, want in (("cli-mode-od", "ON_DEMAND"), ("cli-mode-p", "PROVISIONED")):
        summary = clients.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamModeDetails"]["StreamMode"] == want
    status = cli(["status", "--config", str(path), "--json"], env)
    by = {r["stream"]: r for r in json.loads(status.stdout)["streams"]}
    assert by["cli-mode-od"]["capacity_mode"] == "on-demand" and "switched 0 h ago" in by["cli-mode-od"]["mode_note"]
