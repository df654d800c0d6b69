"""Scale-up and scale-down on kinesis-mock (streams really go UPDATING after each reshard call, for
UPDATING_SECONDS) with the lock on dynalite and the alarms and metrics on moto: through the CLI (a subprocess) and
through the Lambda handlers (imported afresh with the emulators' endpoint variables). Each test its own stream."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from autoscaler.events.notification import sns_alarm_event
from autoscaler.local.alarm_events import FakeLambdaContext
from autoscaler.local.moto_server import MOTO_ACCOUNT_ID
from autoscaler.local.setup import write_burst, write_quiet_day
from tests.conftest import load_event
from tests.e2e.emulators.conftest import UPDATING_SECONDS, Emu, as_json, cli
from tests.handler_harness import load_handler

pytestmark = pytest.mark.e2e
MiB = 1_048_576


def assert_released_with_cooldown(emu: Emu, name: str, cooldown_attr: str, action_prefix: str) -> None:
    """The lock item in dynalite after a run that acted: no owner, lease 0, the cooldown ahead, the action noted."""
    item = emu.lock_item(name)
    assert "owner" not in item, item
    assert item["lease_until"] == 0
    assert item[cooldown_attr] > time.time(), item
    assert item["last_action"].startswith(action_prefix), item


def test_cli_scale_up_splits_across_updating(emu: Emu, tmp_path: Path) -> None:
    path, config = emu.config(tmp_path, "  - {name: emu-cli-up, min_shards: 1, max_shards: 16, desired_shards: 2}\n")
    emu.stream(config, "emu-cli-up", 2)
    # peak 0.7 × 2 shards × headroom 2 = 2.8 → both shards split (2 splits beat one UpdateShardCount): 2 → 4
    write_burst(emu.clients.cloudwatch, "emu-cli-up", bytes_per_minute=0.7 * 2 * MiB * 60, minutes=3)
    started = time.monotonic()
    (out,) = as_json(cli(["scale-up", "--stream", "emu-cli-up", "--config", str(path), "--json"], emu.env()))
    took = time.monotonic() - started
    assert (out["outcome"], out["current"], out["target"]) == ("scaled", 2, 4), out
    assert len(out["ops"]) == 2 and all(op.startswith("split ") for op in out["ops"]), out
    # kinesis-mock refuses a split while the stream is UPDATING: the second split came after the wait for ACTIVE
    assert took >= UPDATING_SECONDS
    assert len(emu.open_shards("emu-cli-up")) == 4
    assert_released_with_cooldown(emu, "emu-cli-up", "cooldown_up_until", "")
    args = ["scale-up", "--stream", "emu-cli-up", "--config", str(path), "--json"]
    (again,) = as_json(cli(args, emu.env()), code=4)  # refused: exit 4
    assert (again["outcome"], again["skip_reason"]) == ("skipped", "cooldown"), again
    assert len(emu.open_shards("emu-cli-up")) == 4


@pytest.fixture
def handler(emu: Emu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    def load(module: str, config_text: str) -> Any:
        return load_handler(module, config_text, tmp_path, monkeypatch, **emu.env(AWS_LAMBDA_FUNCTION_NAME="emu-fn"))

    return load


def test_handler_scale_up_waits_for_a_creating_stream_then_resizes(emu: Emu, handler: Any, tmp_path: Path) -> None:
    body = "  - {name: emu-h-up, min_shards: 1, max_shards: 16, desired_shards: 4}\n"
    _, config = emu.config(tmp_path, body)
    module = handler("autoscaler.handlers.scale_up", f"streams:\n{body}")
    assert module.CLIENTS.kinesis.meta.endpoint_url == emu.emulators.kinesis.endpoint
    assert module.CLIENTS.dynamodb.meta.endpoint_url == emu.emulators.dynamodb.endpoint
    assert module.CLIENTS.cloudwatch.meta.endpoint_url == emu.emulators.moto.endpoint
    stream_cfg = config.stream("emu-h-up")
    assert stream_cfg is not None
    from autoscaler.local.setup import ensure_alarms

    ensure_alarms(emu.clients.cloudwatch, config, stream_cfg, 4, emu.topic)
    # 1.0 × 4 shards' bytes: ⌈4 × headroom 2⌉ = 8, one UpdateShardCount 4 → 8 (within kinesis-mock's 2× rule)
    write_burst(emu.clients.cloudwatch, "emu-h-up", bytes_per_minute=1.0 * 4 * MiB * 60)
    alarm = emu.clients.cloudwatch.describe_alarms(AlarmNames=["kinesis-autoscaler/emu-h-up/incoming-bytes"])
    event = sns_alarm_event(alarm=alarm["MetricAlarms"][0], account=MOTO_ACCOUNT_ID, at=datetime.now(UTC))
    # the stream is created without waiting: the alarm meets it CREATING, and a reshard call now would be refused
    emu.clients.kinesis.create_stream(StreamName="emu-h-up", ShardCount=4)
    assert emu.status("emu-h-up") == "CREATING"

    (result,) = module.handler(event, FakeLambdaContext(MOTO_ACCOUNT_ID))["results"]
    assert (result["outcome"], result["current"], result["after"]) == ("scaled", 4, 8), result
    emu.wait_active("emu-h-up")
    assert len(emu.open_shards("emu-h-up")) == 8
    assert_released_with_cooldown(emu, "emu-h-up", "cooldown_up_until", "")
    (again,) = module.handler(event, FakeLambdaContext(MOTO_ACCOUNT_ID))["results"]
    assert (again["outcome"], again["skip_reason"]) == ("skipped", "cooldown"), again


def test_cli_scale_down_merges_across_updating(emu: Emu, tmp_path: Path) -> None:
    path, config = emu.config(tmp_path, "  - {name: emu-cli-down, min_shards: 1, max_shards: 16, desired_shards: 4}\n")
    emu.stream(config, "emu-cli-down", 4)
    # 20% of 4 shards = 0.8 shards / 0.5 = 1.6 → 2 (the halving bound): two merges, UPDATING after each
    write_quiet_day(emu.clients.cloudwatch, "emu-cli-down", utilisation=0.2, shards=4)
    dry = as_json(cli(["scale-down", "--dry-run", "--config", str(path), "--json"], emu.env()))
    assert [(r["stream"], r["outcome"], r["target"]) for r in dry] == [("emu-cli-down", "dry_run", 2)], dry
    assert len(emu.open_shards("emu-cli-down")) == 4
    (row,) = as_json(cli(["scale-down", "--config", str(path), "--json"], emu.env()))
    assert (row["outcome"], row["after"]) == ("merged", 2), row
    emu.wait_active("emu-cli-down")
    assert len(emu.open_shards("emu-cli-down")) == 2
    assert_released_with_cooldown(emu, "emu-cli-down", "cooldown_down_until", "")


def test_handler_scale_down_merges_the_quiet_stream_and_keeps_the_busy_one(
    emu: Emu, handler: Any, tmp_path: Path
) -> None:
    body = (
        "  - {name: emu-h-quiet, min_shards: 1, max_shards: 16, desired_shards: 4}\n"
        "  - {name: emu-h-busy, min_shards: 1, max_shards: 16, desired_shards: 4}\n"
    )
    _, config = emu.config(tmp_path, body)
    for name in ("emu-h-quiet", "emu-h-busy"):
        emu.stream(config, name, 4)
    write_quiet_day(emu.clients.cloudwatch, "emu-h-quiet", utilisation=0.05, shards=4)
    write_quiet_day(emu.clients.cloudwatch, "emu-h-busy", utilisation=0.7, shards=4)
    module = handler("autoscaler.handlers.scale_down", f"streams:\n{body}")
    ctx = FakeLambdaContext(MOTO_ACCOUNT_ID, function_name="kinesis-autoscaler-scale-down")
    out = module.handler(load_event("scheduled-event.json"), ctx)
    by = {r["stream"]: r for r in out["results"]}
    # quiet: 5% of 4 shards → 1 by load, 2 by the halving bound: two merges
    assert (by["emu-h-quiet"]["outcome"], by["emu-h-quiet"]["after"]) == ("merged", 2), by
    assert (by["emu-h-busy"]["outcome"], by["emu-h-busy"]["reason"]) == ("kept", "busy"), by
    emu.wait_active("emu-h-quiet")
    assert len(emu.open_shards("emu-h-quiet")) == 2 and len(emu.open_shards("emu-h-busy")) == 4
    assert_released_with_cooldown(emu, "emu-h-quiet", "cooldown_down_until", "")
