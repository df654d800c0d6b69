"""The gauge Lambda handler on moto: what the dashboard graphs per stream (OpenShards, WriteUtilisation as EMF on
stdout), from reads only; refused events make no call at all."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from autoscaler.local.alarm_events import FakeLambdaContext
from autoscaler.local.setup import create_stream, write_datapoints
from tests.conftest import load_event
from tests.handler_harness import CallRecorder, dashboard_schemas, emitted_metrics, load_handler

pytestmark = pytest.mark.integration
ACCOUNT = "123456789012"
READS = {"ListShards", "GetMetricData"}
CONFIG = (
    "streams:\n"
    "  - {name: orders, min_shards: 1, max_shards: 16, desired_shards: 4}\n"
    "  - {name: idle, min_shards: 1, max_shards: 16, desired_shards: 2}\n"
    "  - {name: paused, min_shards: 1, max_shards: 16, desired_shards: 1, enabled: false}\n"
)


class Loaded(CallRecorder):
    def __call__(self, event: Any, account: str = ACCOUNT) -> dict[str, Any]:
        result: dict[str, Any] = self.module.handler(event, FakeLambdaContext(account, function_name="x-gauge"))
        return result


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():

        def load(config_text: str = CONFIG, **environ: str) -> Loaded:
            module = load_handler("autoscaler.handlers.gauge", config_text, tmp_path, monkeypatch, **environ)
            if module.CONFIG is not None:
                for stream in module.CONFIG.streams:
                    create_stream(module.CLIENTS.kinesis, stream.name, stream.desired_shards)
            return Loaded(module)

        yield load
    sys.modules.pop("autoscaler.handlers.gauge", None)


def emf(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def value(metric: dict[str, Any], name: str) -> float:
    v = metric[name]
    return float(v[0] if isinstance(v, list) else v)  # EMF may carry a value as a list


def test_a_run_publishes_shards_and_utilisation_per_enabled_stream(
    env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run = env()
    minute = int(time.time()) // 60 * 60
    # orders, 4 shards: 20 minutes at 30% of the byte limit, and an earlier minute of 120,000 records
    # (120,000 / (4 × 1,000 × 60) = 50%): the busiest minute of the hour reads 50%
    points = [(minute - 60 * i, 0.3 * 4 * 1_048_576 * 60, 100.0) for i in range(1, 21)]
    points.append((minute - 60 * 25, 1.0, 120_000.0))
    write_datapoints(run.module.CLIENTS.cloudwatch, "orders", points)
    run.calls.clear()
    capsys.readouterr()
    out = run(load_event("scheduled-event.json"))
    assert out["outcome"] == "gauged" and out["not_gauged"] == []
    by = {r["stream"]: r for r in out["readings"]}
    assert set(by) == {"orders", "idle"}, "enabled: false is not managed, so not gauged"
    assert by["orders"]["shards"] == 4 and by["orders"]["peak_utilisation"] == pytest.approx(0.5)
    assert (by["idle"]["shards"], by["idle"]["peak_utilisation"]) == (2, 0.0)
    metrics = emf(capsys)
    shards = {m["Stream"]: value(m, "OpenShards") for m in metrics if "OpenShards" in m}
    utilisation = {m["Stream"]: value(m, "WriteUtilisation") for m in metrics if "WriteUtilisation" in m}
    assert shards == {"orders": 4.0, "idle": 2.0}
    assert utilisation == {"orders": 50.0, "idle": 0.0}  # percent
    assert set(run.calls) <= READS, f"the gauge only reads, got {sorted(set(run.calls))}"


def test_a_stream_that_cannot_be_listed_is_reported_and_the_others_are_gauged(env: Any) -> None:
    run = env()
    run.module.CLIENTS.kinesis.delete_stream(StreamName="idle")
    out = run(load_event("scheduled-event.json"))
    assert out["not_gauged"] == ["idle"]
    assert {r["stream"]: r["shards"] for r in out["readings"]} == {"orders": 4, "idle": None}


@pytest.mark.parametrize(
    ("case", "event", "account", "reason"),
    [
        ("another account's schedule", load_event("scheduled-event.json"), "210987654321", "other-account"),
        (
            "a scale-down continuation",
            {"kind": "kinesis-autoscaler/scale-down-continuation", "hop": 1, "pending": ["orders"]},
            ACCOUNT,
            "unexpected-continuation",
        ),
        ("an alarm", load_event("sns-alarm-incoming-bytes.json"), ACCOUNT, "unknown-shape"),
        ("a list", [], ACCOUNT, "not-an-object"),
    ],
)
def test_refused_events_make_no_call(
    env: Any, capsys: pytest.CaptureFixture[str], case: str, event: Any, account: str, reason: str
) -> None:
    run = env()
    capsys.readouterr()
    out = run(event, account=account)
    assert (out["outcome"], out["reason"]) == ("ignored", reason), case
    assert run.calls == [], f"{case}: no AWS call at all, got {run.calls}"
    published = emf(capsys)
    assert [m for m in published if m.get("Reason") == reason and "Skipped" in m], f"{case}: by Reason: {published}"


def test_a_broken_config_is_reported_and_makes_no_call(env: Any) -> None:
    run = env("streams:\n  - {name: orders, min_shards: 0, max_shards: 2, desired_shards: 1}\n")
    out = run(load_event("scheduled-event.json"))
    assert out["outcome"] == "error" and "streams[0].min_shards" in out["error"]
    assert run.calls == []


def test_the_dashboard_searches_match_the_dimensions_the_gauge_publishes(
    env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SEARCH schema matches only metrics with exactly its dimensions; Powertools adds "service" when
    POWERTOOLS_SERVICE_NAME is set, as the template sets it."""
    run = env(POWERTOOLS_SERVICE_NAME="kinesis-autoscaler")
    capsys.readouterr()
    run(load_event("scheduled-event.json"))
    published = emitted_metrics(capsys.readouterr().out)
    schemas = dashboard_schemas()
    for name in ("OpenShards", "WriteUtilisation"):
        assert (name, schemas[name]) in published, f"{name}: dashboard asks {sorted(schemas[name])}, got {published}"
