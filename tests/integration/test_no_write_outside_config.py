"""Issue 6, security: no AWS write for a stream outside the config, whatever the event says. Hypothesis builds
scale-up events of every shape (SNS alarm, direct alarm action, continuation) around streams that exist in the
account but are not managed, lookalikes of the managed one, and the managed one from elsewhere; each goes through the
real handler on moto, and every write request is read for the stream it touches."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoscaler.events import CONTINUATION_KIND
from autoscaler.local.setup import create_stream
from tests.conftest import load_event
from tests.integration.test_handler import (
    ACCOUNT,
    WRITES,
    env,  # noqa: F401  (the fixture)
)

pytestmark = pytest.mark.integration
MANAGED = "orders"
# Streams that exist in the account (so a wrongful write would succeed) but are not in the config, and names that
# only look like the managed one.
UNMANAGED = ["payments", "Orders", "orders-v2", "orders ", "оrders", "orders\u200b", "ORDERS"]
_ALARM_STREAM = re.compile(r"^kinesis-autoscaler/([^/]+)/(incoming-bytes|incoming-records|write-throttled)$")


def touched_stream(operation: str, params: dict[str, Any]) -> str | None:
    """The stream a write request is about: Kinesis by StreamName/StreamARN, alarms by their name, the lock by key."""
    if "StreamName" in params:
        return str(params["StreamName"])
    if "StreamARN" in params:
        return str(params["StreamARN"]).rsplit("/", 1)[-1]
    if operation in ("PutMetricAlarm", "SetAlarmState"):
        m = _ALARM_STREAM.match(str(params["AlarmName"]))
        return m.group(1) if m else str(params["AlarmName"])
    if "Key" in params:
        return str(params["Key"]["stream"]["S"])
    if operation == "Invoke":
        return str(json.loads(params["Payload"])["stream"])
    return None


def sns_alarm(stream: str, state: str, account: str, region: str, name_stream: str) -> dict[str, Any]:
    event = load_event("sns-alarm-incoming-bytes.json")
    msg = json.loads(event["Records"][0]["Sns"]["Message"])
    msg["Trigger"]["Dimensions"] = [{"name": "StreamName", "value": stream}]
    msg["AlarmName"] = f"kinesis-autoscaler/{name_stream}/incoming-bytes"
    msg["AlarmArn"] = f"arn:aws:cloudwatch:{region}:{account}:alarm:{msg['AlarmName']}"
    msg["AWSAccountId"], msg["NewStateValue"] = account, state
    event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    return event


def alarm_action(stream: str, state: str, account: str, region: str, name_stream: str) -> dict[str, Any]:
    event = load_event("lambda-alarm-action.json")
    name = f"kinesis-autoscaler/{name_stream}/incoming-bytes"
    event.update(alarmArn=f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}", accountId=account, region=region)
    event["alarmData"]["alarmName"] = name
    event["alarmData"]["state"]["value"] = state
    event["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]["StreamName"] = stream
    return event


def continuation(stream: str, target: Any, hop: Any) -> dict[str, Any]:
    return {"kind": CONTINUATION_KIND, "stream": stream, "target": target, "origin_count": 4, "hop": hop, "owner": "x"}


streams = st.sampled_from(UNMANAGED) | st.text(min_size=1, max_size=12)
alarms = st.builds(
    lambda shape, stream, state, account, region, name_stream: shape(stream, state, account, region, name_stream),
    st.sampled_from([sns_alarm, alarm_action]),
    streams,
    st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA"]),
    st.sampled_from([ACCOUNT, "210987654321"]),
    st.sampled_from(["us-east-1", "eu-west-1"]),
    st.sampled_from([MANAGED, *UNMANAGED]),  # an alarm named for the managed stream, watching another
)
continuations = st.builds(continuation, streams, st.integers(-5, 20_000), st.integers(-1, 12))


@contextlib.contextmanager
def recorded_writes(run: Any) -> Iterator[list[tuple[str, str | None]]]:
    """(operation, the stream it touches) of every write request the handler's clients send, for the duration."""
    writes: list[tuple[str, str | None]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name in WRITES:
            writes.append((model.name, touched_stream(model.name, params)))

    hooks = [c.meta.events for c in run.module.CLIENTS.all()]
    for events in hooks:
        events.register("before-parameter-build.*.*", record)
    try:
        yield writes
    finally:
        for events in hooks:
            events.unregister("before-parameter-build.*.*", record)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    event=alarms
    | continuations
    | st.builds(
        lambda a, b: {"Records": a["Records"] + b["Records"]},
        alarms.filter(lambda e: "Records" in e),
        alarms.filter(lambda e: "Records" in e),
    )
)
def test_no_event_makes_a_write_for_a_stream_outside_the_config(env: Any, event: dict[str, Any]) -> None:  # noqa: F811  (the fixture)
    run = loaded(env)
    with recorded_writes(run) as writes:
        try:
            run(event)  # the handler may raise too (RetryLater): the writes are judged first
        finally:
            assert all(stream == MANAGED for _, stream in writes), writes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.sampled_from([sns_alarm, alarm_action]),
    where=st.sampled_from(
        [
            ("ALARM", "210987654321", "us-east-1"),
            ("ALARM", ACCOUNT, "eu-west-1"),
            ("ALARM", "210987654321", "eu-west-1"),
            ("OK", ACCOUNT, "us-east-1"),
            ("INSUFFICIENT_DATA", ACCOUNT, "us-east-1"),
        ]
    ),
)
def test_the_managed_streams_alarm_from_elsewhere_or_not_in_alarm_writes_nothing(
    env: Any,  # noqa: F811  (the fixture)
    shape: Any,
    where: tuple[str, str, str],
) -> None:
    """The managed stream's own alarm, but from another account or region, or in another state: no write at all."""
    state, account, region = where
    run = loaded(env)
    with recorded_writes(run) as writes:
        (result,) = run(shape(MANAGED, state, account, region, MANAGED))
    assert result["outcome"] == "ignored" and writes == [], (result, writes)


def test_the_recorder_sees_the_managed_streams_writes(env: Any) -> None:  # noqa: F811  (the fixture)
    """The property above is only as good as its recorder: a real alarm for the managed stream is seen writing the
    lock, the reshard and the alarms, each attributed to that stream."""
    run = loaded(env)
    with recorded_writes(run) as writes:
        (result,) = run(sns_alarm(MANAGED, "ALARM", ACCOUNT, "us-east-1", MANAGED))
    assert result["outcome"] == "scaled", result
    assert {"UpdateItem", "UpdateShardCount", "PutMetricAlarm"} <= {op for op, _ in writes}, writes
    assert {stream for _, stream in writes} == {MANAGED}, writes


def loaded(load: Any) -> Any:
    """One handler and moto world for all the examples (hypothesis runs the body many times with one fixture): the
    managed stream plus the unmanaged names as real streams, so a wrongful write would land."""
    run = getattr(load, "world", None)
    if run is None:
        run = load()
        for name in ("payments", "Orders", "orders-v2", "ORDERS"):
            create_stream(run.module.CLIENTS.kinesis, name, 4)
        load.world = run
    return run
