"""The hostile-input corpus (tests/events/bad/, issue 6): every file goes through the real handler on moto and is
ignored with its reason, logged, counted, and answered without a single AWS call.

EXPECTED.json maps each file to {"handler", "reason"} and, where the file alone cannot carry the input:
- "input": "sns-message" — the (raw text) file is the Sns.Message of a real SNS delivery;
- "input": "string" — the event itself is the file's text (a JSON string value, as a client could send);
- "pad_to_bytes": N — the alarm message is padded to N characters here, so the repository stays small.

tests/events/bad/accepted/ holds the quirks the parser takes on purpose (real payloads carry them): they parse into
a request that passes the screen. Last, hypothesis properties for what tests/unit/test_events.py does not fuzz: the
scale-down parser, both continuation shapes and non-AWS shapes (pure parser checks, kept here with the corpus).
"""

from __future__ import annotations

import copy
import importlib
import io
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

import autoscaler.config as config_module
from autoscaler.app.scale_up import request_from_alarm
from autoscaler.core.defaults import MAX_CONTINUATION_HOPS
from autoscaler.core.limits import MAX_SHARDS_PER_STREAM
from autoscaler.core.model import Direction
from autoscaler.events import (
    CONTINUATION_KIND,
    SCALE_DOWN_CONTINUATION_KIND,
    AlarmNotification,
    Continuation,
    Rejected,
    ScheduledRun,
    parse_scale_down_event,
    parse_scale_up_event,
    screen,
)
from autoscaler.local.setup import create_stream, create_table, ensure_alarms
from tests.conftest import EVENTS, fresh, load_event
from tests.integration.test_handler import ACCOUNT
from tests.integration.test_handler import CONFIG as UP_CONFIG
from tests.integration.test_handler import Loaded as UpLoaded
from tests.integration.test_scale_down_handler import CONFIG as DOWN_CONFIG
from tests.integration.test_scale_down_handler import Loaded as DownLoaded

pytestmark = pytest.mark.integration
REGION = "us-east-1"  # FakeLambdaContext's default: the function runs in ACCOUNT / us-east-1
BAD = EVENTS / "bad"
ACCEPTED_DIR = BAD / "accepted"
EXPECTED: dict[str, dict[str, Any]] = json.loads((BAD / "EXPECTED.json").read_text())
ACCEPTED: dict[str, dict[str, Any]] = json.loads((ACCEPTED_DIR / "ACCEPTED.json").read_text())
UP_STREAMS = ("orders",)
UP_CONFIG_MODEL = config_module.parse_config(UP_CONFIG, source="streams.yaml")
DOWN_STREAMS = ("quiet", "busy")
SPEC_KEYS = {"handler", "reason", "input", "pad_to_bytes", "note"}

# Inputs the corpus says must be refused and the code still acts on (a real bug each; see the note in EXPECTED.json).
# strict: once fixed, the XPASS fails the run so the marker is removed. The parser is checked first, so a known bug
# never reaches the handler and makes no AWS write.
KNOWN_BUGS: dict[str, str] = {}  # stream-dimension-twice.json (the last StreamName won) is fixed


def _files(directory: Path, index: str) -> set[str]:
    return {p.name for p in directory.iterdir() if p.is_file() and p.name != index}


def load_bad(name: str) -> Any:
    """The event a file stands for (see the module docstring for "input" and "pad_to_bytes")."""
    spec = EXPECTED[name]
    text = (BAD / name).read_text()
    if spec.get("input") == "string":
        return text
    if spec.get("input") == "sns-message":
        event = load_event("sns-alarm-incoming-bytes.json")
        event["Records"][0]["Sns"]["Message"] = text
        return event
    event = fresh(json.loads(text))
    if "pad_to_bytes" in spec:
        size = int(spec["pad_to_bytes"])
        sns = event["Records"][0]["Sns"]
        message = json.loads(sns["Message"])
        message["Padding"] = ""
        short = size - len(json.dumps(message, separators=(",", ":")))
        message["Padding"] = "x" * max(0, short)
        sns["Message"] = json.dumps(message, separators=(",", ":"))
        assert len(sns["Message"]) == size
    return event


def parser_verdict(handler: str, event: Any) -> str | None:
    """What the parser (and the screen the handler applies next) says, without a handler or AWS: the reason, or
    None for an input that would be acted on."""
    event = copy.deepcopy(event)
    if handler == "scale_up":
        (item,) = parse_scale_up_event(event)
        if isinstance(item, Rejected):
            return item.reason
        if isinstance(item, Continuation):
            return None if item.handovers[0].stream in UP_STREAMS else "unknown-stream"
        if isinstance(item, ScheduledRun):  # the re-arm sweep's schedule
            return "other-account" if (item.account_id, item.region) != (ACCOUNT, REGION) else None
        refusal = screen(item, account_id=ACCOUNT, region=REGION, managed=UP_STREAMS)
        return refusal.reason if refusal else None
    parsed = parse_scale_down_event(event)
    if isinstance(parsed, Rejected):
        return parsed.reason
    if isinstance(parsed, ScheduledRun) and (parsed.account_id, parsed.region) != (ACCOUNT, REGION):
        return "other-account"
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Both handlers on one moto world (module scope: a refused input changes nothing, so the cases can share it)


@dataclass
class World:
    up: UpLoaded
    down: DownLoaded
    logs: io.StringIO

    def reset(self) -> None:
        self.up.calls.clear()
        self.down.calls.clear()

    @property
    def calls(self) -> list[str]:
        return self.up.calls + self.down.calls

    def state(self) -> dict[str, Any]:
        """Everything a write could change: open shards per stream, every alarm, every lock item."""
        c = self.up.module.CLIENTS
        shards = {
            s: sorted(
                x["ShardId"]
                for x in c.kinesis.list_shards(StreamName=s)["Shards"]
                if "EndingSequenceNumber" not in x["SequenceNumberRange"]
            )
            for s in (*UP_STREAMS, *DOWN_STREAMS)
        }
        alarms = {
            a["AlarmName"]: (a["Threshold"], a["StateValue"], a.get("Period"))
            for a in c.cloudwatch.describe_alarms()["MetricAlarms"]
        }
        locks = c.dynamodb.scan(TableName="cd")["Items"]
        return {"shards": shards, "alarms": alarms, "locks": locks}

    def log_records(self, start: int) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.logs.getvalue()[start:].splitlines() if line.startswith("{")]


def _import_handler(
    mp: pytest.MonkeyPatch, module_name: str, config_path: Path, config: str, function: str, logs: io.StringIO
) -> ModuleType:
    config_path.write_text(config)
    mp.setenv("AUTOSCALER_CONFIG", str(config_path))
    mp.setenv("AWS_LAMBDA_FUNCTION_NAME", function)
    config_module._load_cached.cache_clear()
    sys.modules.pop(module_name, None)
    module = importlib.import_module(module_name)
    assert module.CONFIG is not None, module.CONFIG_ERROR
    module.logger.registered_handler.setStream(logs)  # the function's JSON log lines, readable per case
    return module


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("bad-events")
    logs = io.StringIO()
    names = ("autoscaler.handlers.scale_up", "autoscaler.handlers.scale_down")
    with mock_aws(), pytest.MonkeyPatch.context() as mp:
        mp.setenv("COOLDOWN_TABLE", "cd")
        up = _import_handler(mp, names[0], tmp / "up.yaml", UP_CONFIG, "kinesis-autoscaler-scale-up", logs)
        down = _import_handler(mp, names[1], tmp / "down.yaml", DOWN_CONFIG, "kinesis-autoscaler-scale-down", logs)
        create_table(up.CLIENTS.dynamodb, "cd")
        for module in (up, down):
            for stream in module.CONFIG.streams:
                create_stream(module.CLIENTS.kinesis, stream.name, 4)
                ensure_alarms(module.CLIENTS.cloudwatch, module.CONFIG, stream, 4, "arn:t")
        yield World(UpLoaded(up), DownLoaded(down), logs)
    for name in names:
        sys.modules.pop(name, None)
    config_module._load_cached.cache_clear()


# ---------------------------------------------------------------------------------------------------------------------
# The corpus itself


def test_corpus_has_at_least_45_inputs_and_each_file_is_listed() -> None:
    files = _files(BAD, "EXPECTED.json")
    assert len(files) >= 45, f"only {len(files)} bad inputs"
    assert sorted(files - set(EXPECTED)) == [], "files missing from EXPECTED.json"
    assert sorted(set(EXPECTED) - files) == [], "EXPECTED.json lists files that do not exist"
    for name, spec in EXPECTED.items():
        assert set(spec) <= SPEC_KEYS and spec["handler"] in ("scale_up", "scale_down") and spec["reason"], name
    assert {s["handler"] for s in EXPECTED.values()} == {"scale_up", "scale_down"}
    assert set(KNOWN_BUGS) <= set(EXPECTED)


def test_accepted_quirks_are_listed_and_apart_from_the_corpus() -> None:
    files = _files(ACCEPTED_DIR, "ACCEPTED.json")
    assert files == set(ACCEPTED)
    assert not files & set(EXPECTED)


def _case(name: str) -> Any:
    if name in KNOWN_BUGS:
        return pytest.param(
            name, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"bug: {KNOWN_BUGS[name]}")
        )
    return name


@pytest.mark.parametrize("name", [_case(n) for n in sorted(EXPECTED)])
def test_bad_input_is_ignored_with_its_reason_logged_and_makes_no_aws_call(
    world: World, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = EXPECTED[name]
    event = load_bad(name)
    # The parser and the screen first: a regression here must not go on to act on the shared moto world.
    assert parser_verdict(spec["handler"], event) == spec["reason"], name

    before = world.state()
    world.reset()
    log_start = len(world.logs.getvalue())
    capsys.readouterr()
    if spec["handler"] == "scale_up":
        results = world.up(copy.deepcopy(event))  # returns normally: no RetryLater, no exception
        assert len(results) == 1, results
        result = results[0]
    else:
        result = world.down(copy.deepcopy(event))

    assert (result["outcome"], result["reason"]) == ("ignored", spec["reason"]), result
    assert result["detail"]
    assert world.calls == [], f"no AWS call at all, got {world.calls}"
    warnings = [r for r in world.log_records(log_start) if r.get("message") == "ignored"]
    assert [(r["level"], r["reason"]) for r in warnings] == [("WARNING", spec["reason"])]
    assert warnings[0]["detail"] == result["detail"]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any("Skipped" in m for m in emf), "counted in the Skipped metric"
    assert any("Skipped" in m and m.get("Reason") == spec["reason"] for m in emf), "and in Skipped by its Reason"
    assert world.state() == before


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_quirk_parses_into_a_request_the_screen_lets_through(name: str) -> None:
    spec = ACCEPTED[name]
    event = json.loads((ACCEPTED_DIR / name).read_text())
    assert parser_verdict(spec["handler"], event) is None, spec["why"]
    if spec["handler"] == "scale_up":
        (item,) = parse_scale_up_event(event)
        assert isinstance(item, AlarmNotification) and item.stream == "orders" and item.new_state == "ALARM"
        cfg = UP_CONFIG_MODEL.stream("orders")
        assert cfg is not None
        request = request_from_alarm(item, cfg, UP_CONFIG_MODEL.alarm_name_prefix)  # where the handler goes next
        assert request.stream == "orders" and request.trigger is item.trigger
        assert request.alarm_shards is None or math.isfinite(request.alarm_shards)
    else:
        assert isinstance(parse_scale_down_event(event), ScheduledRun)


# ---------------------------------------------------------------------------------------------------------------------
# Hypothesis: the scale-down parser, both continuation shapes, and shapes that are not AWS events at all

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)
DISCRIMINATORS = {"kind", "alarmData", "Records", "source", "detail-type"}
stream_names = st.sampled_from(["quiet", "orders", "a" * 128, "a" * 129, "", "../x", "q\n", "ok.name_-1"]) | st.text(
    max_size=140
)
ints = st.integers(min_value=-3, max_value=MAX_SHARDS_PER_STREAM + 3) | st.integers()
maybe = st.one_of(ints, json_values, st.just(None))


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_scale_down_parser_never_raises_and_refuses_anything_not_shaped_like_its_events(value: Any) -> None:
    parsed = parse_scale_down_event(value)
    assert isinstance(parsed, ScheduledRun | Continuation | Rejected)
    ours = isinstance(value, dict) and (
        value.get("source") == "aws.events" or value.get("kind") == SCALE_DOWN_CONTINUATION_KIND
    )
    assert ours or isinstance(parsed, Rejected)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=12).filter(lambda k: k not in DISCRIMINATORS), json_values, max_size=6))
def test_objects_that_are_no_aws_event_are_rejected_by_both_parsers(value: dict[str, Any]) -> None:
    assert [type(i) for i in parse_scale_up_event(value)] == [Rejected]
    assert parse_scale_up_event(value)[0].reason == "unknown-shape"
    down = parse_scale_down_event(value)
    assert isinstance(down, Rejected) and down.reason == "unknown-shape"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | json_values.map(json.dumps))
def test_any_sns_message_text_is_parsed_without_raising_and_refused(message: str) -> None:
    event = load_event("sns-alarm-incoming-bytes.json")
    event["Records"][0]["Sns"]["Message"] = message
    (item,) = parse_scale_up_event(event)
    assert isinstance(item, Rejected) and item.reason and item.detail


@settings(max_examples=500, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={"stream": stream_names | maybe, "target": maybe, "origin_count": maybe, "hop": maybe, "owner": maybe},
    )
)
def test_scale_up_continuation_is_accepted_only_within_its_bounds(fields: dict[str, Any]) -> None:
    (item,) = parse_scale_up_event({"kind": CONTINUATION_KIND, **fields})
    assert isinstance(item, Continuation | Rejected)
    if isinstance(item, Continuation):
        (handover,) = item.handovers
        assert item.direction is Direction.UP and not item.pending
        assert 1 <= item.hop <= MAX_CONTINUATION_HOPS
        assert 1 <= handover.origin_count <= handover.target <= MAX_SHARDS_PER_STREAM
        assert all(type(v) is int for v in (item.hop, handover.origin_count, handover.target))
        assert isinstance(handover.owner, str) and handover.owner
        assert 1 <= len(handover.stream) <= 128 and "\n" not in handover.stream


in_progress = st.fixed_dictionaries(
    {},
    optional={"stream": stream_names | maybe, "target": maybe, "owner": maybe, "method": maybe, "origin_count": maybe},
)


@settings(max_examples=500, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "hop": maybe,
            "pending": st.lists(stream_names | maybe, max_size=4) | maybe,
            "in_progress": st.lists(in_progress | maybe, max_size=3) | maybe,
        },
    )
)
def test_fleet_continuation_is_accepted_only_within_its_bounds(fields: dict[str, Any]) -> None:
    parsed = parse_scale_down_event({"kind": SCALE_DOWN_CONTINUATION_KIND, **fields})
    assert isinstance(parsed, Continuation | Rejected)
    if isinstance(parsed, Continuation):
        assert parsed.direction is Direction.DOWN
        assert type(parsed.hop) is int and 1 <= parsed.hop <= MAX_CONTINUATION_HOPS
        for name in (*parsed.pending, *(i.stream for i in parsed.handovers)):
            assert isinstance(name, str) and 1 <= len(name) <= 128 and "\n" not in name
        for item in parsed.handovers:
            assert type(item.target) is int and 1 <= item.target <= MAX_SHARDS_PER_STREAM
            assert type(item.origin_count) is int and 0 <= item.origin_count <= MAX_SHARDS_PER_STREAM
            assert isinstance(item.owner, str) and 0 < len(item.owner) <= 64
            assert item.method in ("merge", "update_shard_count")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["account", "region", "detail", "detail-type", "time", "resources"]), maybe))
def test_mangled_scheduled_events_never_raise_and_pass_only_when_well_formed(fields: dict[str, Any]) -> None:
    parsed = parse_scale_down_event({**load_event("scheduled-event.json"), **fields})
    assert isinstance(parsed, ScheduledRun | Rejected)
    if isinstance(parsed, ScheduledRun):
        assert len(parsed.account_id) == 12 and parsed.account_id.isdigit()
        assert fields.get("detail", {}) in ({}, None)
