"""The scale-down Lambda handler on moto in-process: the scheduled event merges quiet streams; anything else is
refused without an AWS write."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from autoscaler.local.alarm_events import FakeLambdaContext
from autoscaler.local.setup import create_stream, create_table, ensure_alarms, write_quiet_day
from tests.conftest import load_event
from tests.handler_harness import CallRecorder, dashboard_schemas, emitted_metrics, load_handler, log_lines

pytestmark = pytest.mark.integration
ACCOUNT = "123456789012"
WRITES = {
    "SplitShard",
    "MergeShards",
    "UpdateShardCount",
    "UpdateStreamMode",
    "PutMetricAlarm",
    "SetAlarmState",
    "UpdateItem",
    "Invoke",
}
CONFIG = (
    "streams:\n"
    "  - {name: quiet, min_shards: 1, max_shards: 16, desired_shards: 4}\n"
    "  - {name: busy, min_shards: 1, max_shards: 16, desired_shards: 4}\n"
)


class Loaded(CallRecorder):
    writes_of = frozenset(WRITES)

    def __call__(self, event: Any, account: str = ACCOUNT) -> dict[str, Any]:
        ctx = FakeLambdaContext(account, function_name="kinesis-autoscaler-scale-down")
        result: dict[str, Any] = self.module.handler(event, ctx)
        return result


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():

        def load(config_text: str = CONFIG, **environ: str) -> Loaded:
            module = load_handler(
                "autoscaler.handlers.scale_down",
                config_text,
                tmp_path,
                monkeypatch,
                COOLDOWN_TABLE="cd",
                AWS_LAMBDA_FUNCTION_NAME="kinesis-autoscaler-scale-down",
                **environ,
            )
            if module.CONFIG is not None:
                c = module.CLIENTS
                create_table(c.dynamodb, "cd")
                for stream in module.CONFIG.streams:
                    create_stream(c.kinesis, stream.name, 4)
                    ensure_alarms(c.cloudwatch, module.CONFIG, stream, 4, "arn:t")
                write_quiet_day(c.cloudwatch, "quiet", utilisation=0.05, shards=4)
                write_quiet_day(c.cloudwatch, "busy", utilisation=0.7, shards=4)
            return Loaded(module)

        yield load
    sys.modules.pop("autoscaler.handlers.scale_down", None)


def open_count(loaded: Loaded, stream: str) -> int:
    shards = loaded.module.CLIENTS.kinesis.list_shards(StreamName=stream)["Shards"]
    return sum(1 for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"])


def test_scheduled_run_merges_the_quiet_stream_and_keeps_the_busy_one(env: Any) -> None:
    run = env()
    out = run(load_event("scheduled-event.json"))
    by = {r["stream"]: r for r in out["results"]}
    # quiet: 5% of 4 shards → ⌈0.2 / 0.7⌉ = 1, halving bound 2: two merges
    assert (by["quiet"]["outcome"], by["quiet"]["after"]) == ("merged", 2)
    assert by["busy"]["outcome"] == "kept" and by["busy"]["reason"] == "busy"
    assert open_count(run, "quiet") == 2 and open_count(run, "busy") == 4
    assert run.writes.count("MergeShards") == 2
    assert out["metric_reads"] == 2  # the write series of both streams, then the throttle series of the candidate
    alarm = run.module.CLIENTS.cloudwatch.describe_alarms(AlarmNames=["kinesis-autoscaler/quiet/incoming-bytes"])
    assert alarm["MetricAlarms"][0]["Threshold"] == pytest.approx(0.8 * 2 * 1_048_576 * 60)


@pytest.mark.parametrize(
    ("case", "mutate", "account", "reason"),
    [
        ("another account's schedule", lambda e: e, "210987654321", "other-account"),
        ("schedule with detail", lambda e: {**e, "detail": {"streams": ["busy"]}}, ACCOUNT, "unexpected-detail"),
        ("not a schedule", lambda e: {**e, "source": "aws.s3"}, ACCOUNT, "unknown-shape"),
        (
            "forged hop",
            lambda e: {"kind": "kinesis-autoscaler/scale-down-continuation", "hop": 99},
            ACCOUNT,
            "hop-limit",
        ),
        (
            "forged stream name",
            lambda e: {"kind": "kinesis-autoscaler/scale-down-continuation", "hop": 1, "pending": ["../etc"]},
            ACCOUNT,
            "bad-stream-name",
        ),
        ("a list", lambda e: [e], ACCOUNT, "not-an-object"),
    ],
)
def test_refused_events_touch_nothing(
    env: Any, capsys: pytest.CaptureFixture[str], case: str, mutate: Any, account: str, reason: str
) -> None:
    run = env()
    capsys.readouterr()
    out = run(mutate(load_event("scheduled-event.json")), account=account)
    assert (out["outcome"], out["reason"]) == ("ignored", reason), case
    assert run.calls == [], f"{case}: no AWS call at all, got {run.calls}"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m for m in emf if m.get("Reason") == reason and "Skipped" in m], f"{case}: Skipped by Reason, got {emf}"


def test_continuation_for_an_unmanaged_stream_is_skipped(env: Any) -> None:
    run = env()
    event = {
        "kind": "kinesis-autoscaler/scale-down-continuation",
        "hop": 1,
        "pending": ["payments"],
        "in_progress": [{"stream": "ledger", "target": 1, "owner": "x"}],
    }
    out = run(event)
    assert {r["outcome"] for r in out["results"]} == {"skipped"}
    assert run.writes == []


def test_broken_config_is_reported_and_touches_nothing(env: Any) -> None:
    run = env("streams:\n  - {name: quiet, min_shards: 0, max_shards: 2, desired_shards: 1}\n")
    out = run(load_event("scheduled-event.json"))
    assert out["outcome"] == "error" and "streams[0].min_shards" in out["error"]
    assert run.calls == []


def test_a_scale_down_publishes_a_one_line_summary(env: Any) -> None:
    from moto.sns.models import sns_backends

    from autoscaler.adapters.aws.clients import build_client

    run = env()
    topic = build_client("sns", "us-east-1").create_topic(Name="notify")["TopicArn"]
    run.module.NOTIFIER.topic_arn = topic
    run(load_event("scheduled-event.json"))
    account = topic.split(":")[4]
    sent = sns_backends[account]["us-east-1"].topics[topic].sent_notifications
    assert [s[2] for s in sent] == ["kinesis-autoscaler: quiet scaled down 4 -> 2"]  # the busy one is kept: silent
    assert sent[0][1].startswith("quiet scaled down 4 -> 2 shards in ")


def test_streams_a_forged_continuation_names_never_become_metric_dimensions(
    env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every Stream dimension is a custom metric CloudWatch bills: names from an event must not mint them."""
    run = env()
    capsys.readouterr()
    names = [f"not-ours-{i}" for i in range(20)]
    out = run({"kind": "kinesis-autoscaler/scale-down-continuation", "hop": 1, "pending": names, "in_progress": []})
    assert run.writes == [] and len(out["results"]) == 20
    dims = {json.loads(line).get("Stream") for line in capsys.readouterr().out.splitlines() if '"_aws"' in line}
    assert not {d for d in dims if d and d.startswith("not-ours-")}, dims


def test_the_dashboard_searches_match_what_a_scale_down_run_publishes(
    env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """ScaleDown and OpenShards per Stream, Kept and Skipped by Reason, each with the service dimension Powertools
    adds when POWERTOOLS_SERVICE_NAME is set (as the template sets it): exactly the dashboard's SEARCH schemas."""
    run = env(POWERTOOLS_SERVICE_NAME="kinesis-autoscaler")
    capsys.readouterr()
    out = run(load_event("scheduled-event.json"))
    assert out["counts"] == {"merged": 1, "kept": 1}
    run(load_event("scheduled-event.json"), account="210987654321")  # refused: Skipped by Reason
    published = emitted_metrics(capsys.readouterr().out)
    schemas = dashboard_schemas()
    for name in ("ScaleDown", "OpenShards", "Kept", "Skipped"):
        assert (name, schemas[name]) in published, f"{name}: dashboard asks {sorted(schemas[name])}, got {published}"


def test_the_lock_table_down_fails_the_stream_closed_with_an_error_metric_and_log(
    env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """DynamoDB unavailable: the quiet stream is not merged without its lock; the failure is an ERROR line naming the
    stream and an Errors count for it; the busy stream, which needs no lock, is still judged."""
    run = env()
    run.module.CLIENTS.dynamodb.delete_table(TableName="cd")
    capsys.readouterr()
    with log_lines(run.module) as logs:
        out = run(load_event("scheduled-event.json"))
    by = {r["stream"]: r for r in out["results"]}
    assert (by["quiet"]["outcome"], by["busy"]["outcome"]) == ("failed", "kept"), by
    assert "MergeShards" not in run.writes and "UpdateShardCount" not in run.writes, run.writes
    errors = [json.loads(line) for line in logs.getvalue().splitlines() if '"level":"ERROR"' in line]
    assert errors and {e.get("stream") for e in errors} == {"quiet"}, errors
    assert any("not resharding without the lock" in json.dumps(e) for e in errors), errors
    assert ("Errors", frozenset({"Stream"})) in emitted_metrics(capsys.readouterr().out)


MODE_CONFIG = (
    "streams:\n"
    "  - {name: quiet, min_shards: 1, max_shards: 16, desired_shards: 4, capacity_mode: auto}\n"
    "  - {name: busy, min_shards: 1, max_shards: 16, desired_shards: 4, capacity_mode: on-demand}\n"
    "  - {name: plain, min_shards: 1, max_shards: 16, desired_shards: 4}\n"
)


def mode_rule_event(rule: str = "teststack-modes") -> dict[str, Any]:
    event = load_event("scheduled-event.json")
    return {**event, "resources": [f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{rule}"]}


def test_the_capacity_mode_rule_runs_the_mode_decisions_not_the_scale_down(env: Any) -> None:
    run = env(MODE_CONFIG, CAPACITY_MODE_RULE="teststack-modes")
    out = run(mode_rule_event())
    assert out["job"] == "capacity-mode"
    by = {r["stream"]: r for r in out["results"]}
    # busy: capacity_mode on-demand, found provisioned: switched by ARN, no evidence needed
    assert (by["busy"]["outcome"], by["busy"]["reason"], by["busy"]["target"]) == (
        "switched",
        "configured",
        "ON_DEMAND",
    )
    kinesis = run.module.CLIENTS.kinesis
    assert kinesis.describe_stream_summary(StreamName="busy")["StreamDescriptionSummary"]["StreamModeDetails"] == {
        "StreamMode": "ON_DEMAND"
    }
    # quiet: auto, a day of history read from CloudWatch and replayed: judged, and kept provisioned (5% of 4 shards
    # costs less provisioned than on-demand's per-GB and per-stream-hour charges)
    assert by["quiet"]["outcome"] == "kept" and by["quiet"]["current"] == "PROVISIONED", by["quiet"]
    assert "plain" not in by  # capacity_mode provisioned: never read
    assert "MergeShards" not in run.writes and run.writes.count("UpdateStreamMode") == 1
    item = run.module.CLIENTS.dynamodb.get_item(TableName="cd", Key={"stream": {"S": "busy"}})["Item"]
    assert len(item["mode_switches"]["L"]) == 1 and "owner" not in item


def test_the_scale_down_rule_does_not_run_the_mode_decisions(env: Any) -> None:
    run = env(MODE_CONFIG, CAPACITY_MODE_RULE="teststack-modes")
    out = run(mode_rule_event("teststack-ScaleDownFunctionSchedule-1A2B3C"))
    assert "job" not in out and {r["stream"] for r in out["results"]} == {"quiet", "busy", "plain"}
    assert "UpdateStreamMode" not in run.writes


def test_both_jobs_share_one_set_of_adapters(env: Any) -> None:
    """The Kinesis adapter's rate limiters stand for the function's share of the account's TPS: one per function."""
    module = env(MODE_CONFIG, CAPACITY_MODE_RULE="teststack-modes").module
    assert module.SERVICE.kinesis is module.MODES.kinesis and module.SERVICE.cooldown is module.MODES.cooldown
