"""The scale-up Lambda handler on moto in-process: real event shapes in, the right AWS calls out — and for bad
input, no AWS write at all."""

from __future__ import annotations

import copy
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from autoscaler.local.alarm_events import FakeLambdaContext
from autoscaler.local.setup import create_stream, create_table, ensure_alarms, write_burst
from tests.conftest import load_event
from tests.handler_harness import CallRecorder, dashboard_schemas, emitted_metrics, load_handler, log_lines

pytestmark = pytest.mark.integration
ACCOUNT = "123456789012"
WRITES = {
    "SplitShard",
    "MergeShards",
    "UpdateShardCount",
    "PutMetricAlarm",
    "SetAlarmState",
    "UpdateItem",
    "PutItem",
    "DeleteItem",
    "Invoke",
}
CONFIG = "streams:\n  - {name: orders, min_shards: 2, max_shards: 64, desired_shards: 4}\n"


class Loaded(CallRecorder):
    writes_of = frozenset(WRITES)

    def __call__(self, event: Any, account: str = ACCOUNT) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.module.handler(event, FakeLambdaContext(account))["results"]
        return result


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Load the handler (fresh module: its clients and config are module-level) inside mock_aws."""
    with mock_aws():

        def load(config_text: str = CONFIG, **environ: str) -> Loaded:
            module = load_handler(
                "autoscaler.handlers.scale_up",
                config_text,
                tmp_path,
                monkeypatch,
                COOLDOWN_TABLE="cd",
                AWS_LAMBDA_FUNCTION_NAME="kinesis-autoscaler-scale-up",
                **environ,
            )
            if module.CONFIG is not None:
                create_table(module.CLIENTS.dynamodb, "cd")
                create_stream(module.CLIENTS.kinesis, "orders", 4)
                ensure_alarms(module.CLIENTS.cloudwatch, module.CONFIG, module.CONFIG.streams[0], 4, "arn:t")
                # 100% of 4 shards: 4 shards of load × headroom 2 = 8, one UpdateShardCount (see the first test)
                write_burst(module.CLIENTS.cloudwatch, "orders", bytes_per_minute=1.0 * 4 * 1_048_576 * 60, minutes=3)
            return Loaded(module)

        yield load
    sys.modules.pop("autoscaler.handlers.scale_up", None)


def open_shards(loaded: Loaded) -> int:
    shards = loaded.module.CLIENTS.kinesis.list_shards(StreamName="orders")["Shards"]
    return sum(1 for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"])


def test_real_alarm_notification_scales_the_stream(env: Any) -> None:
    run = env()
    (result,) = run(load_event("sns-alarm-incoming-bytes.json"))
    # 1.0 × 4 shards = 4 shards of load × headroom 2 = 8 → one UpdateShardCount (4 splits ≈ 120 s > 90 s)
    assert (result["outcome"], result["current"], result["after"]) == ("scaled", 4, 8)
    assert open_shards(run) == 8
    assert "UpdateShardCount" in run.writes and run.writes.count("SetAlarmState") == 3


def test_bytes_and_records_alarms_in_one_delivery_act_once(env: Any) -> None:
    run = env()
    event = load_event("sns-alarm-incoming-bytes.json")
    event["Records"] += load_event("sns-alarm-incoming-records.json")["Records"]
    outcomes = [r["outcome"] for r in run(event)]
    assert outcomes == ["scaled", "skipped"]
    assert run.writes.count("UpdateShardCount") == 1


def test_direct_lambda_alarm_action_scales(env: Any) -> None:
    run = env()
    (result,) = run(load_event("lambda-alarm-action.json"))
    assert result["outcome"] == "scaled"


@pytest.mark.parametrize(
    ("case", "event", "account", "reason"),
    [
        ("ok transition", load_event("sns-alarm-ok.json"), ACCOUNT, "not-alarm"),
        ("another account's alarm", load_event("sns-alarm-incoming-bytes.json"), "210987654321", "other-account"),
        ("another account's schedule", load_event("scheduled-event.json"), "210987654321", "other-account"),
        (
            "an EventBridge event that is not the schedule",
            {**load_event("scheduled-event.json"), "detail-type": "CloudWatch Alarm State Change"},
            ACCOUNT,
            "unknown-shape",
        ),
        ("garbage", {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{oops"}}]}, ACCOUNT, "not-json"),
        (
            "continuation for an unmanaged stream",
            {
                "kind": "kinesis-autoscaler/scale-up-continuation",
                "stream": "payments",
                "target": 8,
                "origin_count": 4,
                "hop": 1,
                "owner": "x",
            },
            ACCOUNT,
            "unknown-stream",
        ),
    ],
)
def test_refused_input_makes_no_aws_write(env: Any, case: str, event: Any, account: str, reason: str) -> None:
    run = env()
    (result,) = run(event, account=account)
    assert (result["outcome"], result["reason"]) == ("ignored", reason), case
    assert run.calls == [], f"{case}: no AWS call at all, got {run.calls}"


def test_alarm_for_a_stream_not_in_the_config_touches_nothing(env: Any) -> None:
    run = env()
    event = load_event("sns-alarm-incoming-bytes.json")
    msg = json.loads(event["Records"][0]["Sns"]["Message"])
    msg["Trigger"]["Dimensions"] = [{"name": "StreamName", "value": "payments"}]
    event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    (result,) = run(event)
    assert result["reason"] == "unknown-stream" and "add it to streams.yaml" in result["detail"]
    assert run.calls == []


def test_broken_config_reports_and_touches_nothing(env: Any) -> None:
    run = env("streams:\n  - {name: orders, min_shards: 9, max_shards: 2, desired_shards: 4}\n")
    (result,) = run(load_event("sns-alarm-incoming-bytes.json"))
    assert result["outcome"] == "error"
    assert "line 2, streams[0].min_shards: min_shards (9) is above max_shards (2)" in result["error"]
    assert run.calls == []


def test_a_failing_record_does_not_lose_the_others_and_asks_for_a_retry(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = env()
    real = run.module.SERVICE.scale_up
    seen: list[str] = []

    def first_fails(request: Any, budget: Any) -> Any:
        seen.append(request.source)
        if len(seen) == 1:
            raise RuntimeError("surprise")
        return real(request, budget)

    monkeypatch.setattr(run.module.SERVICE, "scale_up", first_fails)
    event = load_event("sns-alarm-incoming-bytes.json")
    event["Records"] += load_event("sns-alarm-incoming-records.json")["Records"]
    with pytest.raises(run.module.RetryLater, match="1 of 2 requests failed: RuntimeError: surprise"):
        run(event)
    assert len(seen) == 2 and "UpdateShardCount" in run.writes, "the second record was still handled"


def test_hostile_numbers_are_rejected_not_raised(env: Any) -> None:
    run = env()
    event = load_event("sns-alarm-incoming-bytes.json")
    msg = event["Records"][0]["Sns"]["Message"]
    event["Records"][0]["Sns"]["Message"] = msg.replace("201326592.0", "1" + "0" * 400)
    bad = load_event("sns-alarm-incoming-bytes.json")
    bad["Records"][0]["Sns"]["Message"] = msg.replace("201326592.0", "9" * 5000)
    (first,) = run(event, account="210987654321")
    (second,) = run(bad)
    assert (first["reason"], second["reason"]) == ("other-account", "not-json")
    assert run.calls == []


def test_refusals_are_counted_by_reason_in_the_metrics(env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Observability (issue 6): a refusal is a Skipped metric with a Reason dimension (EMF on stdout)."""
    run = env()
    event = load_event("sns-alarm-incoming-bytes.json")
    msg = json.loads(event["Records"][0]["Sns"]["Message"])
    msg["Trigger"]["Dimensions"] = [{"name": "StreamName", "value": "payments"}]
    event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    capsys.readouterr()
    run(event)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    by_reason = [m for m in emf if m.get("Reason") == "unknown-stream" and "Skipped" in m]
    assert by_reason, emf


def test_an_action_publishes_the_open_shard_count_for_the_dashboard(
    env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run = env()
    capsys.readouterr()
    (result,) = run(load_event("sns-alarm-incoming-bytes.json"))
    assert result["outcome"] == "scaled"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    gauges = [m["OpenShards"] for m in emf if "OpenShards" in m and m.get("Stream") == result["stream"]]
    assert gauges in ([result["after"]], [[float(result["after"])]]), emf  # EMF may carry a value as a list


def test_the_dashboard_searches_match_the_dimensions_the_handler_publishes(
    env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """With POWERTOOLS_SERVICE_NAME set, as the template sets it, Powertools adds a "service" dimension: each
    dashboard SEARCH schema must name exactly the dimensions published, or its graph stays empty."""
    run = env(POWERTOOLS_SERVICE_NAME="kinesis-autoscaler")
    capsys.readouterr()
    (result,) = run(load_event("sns-alarm-incoming-bytes.json"))
    event = load_event("sns-alarm-incoming-bytes.json")
    msg = json.loads(event["Records"][0]["Sns"]["Message"])
    msg["Trigger"]["Dimensions"] = [{"name": "StreamName", "value": "payments"}]  # refused: Skipped by Reason
    event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    run(event)
    assert result["outcome"] == "scaled"
    published = emitted_metrics(capsys.readouterr().out)
    schemas = dashboard_schemas()
    for name in ("OpenShards", "ScaleUp", "Skipped"):
        assert (name, schemas[name]) in published, f"{name}: dashboard asks {sorted(schemas[name])}, got {published}"


def test_duplicate_and_out_of_order_deliveries_cause_no_extra_reshard(env: Any) -> None:
    """Issue 6: the same SNS message delivered twice, an OK arriving after the ALARM, and a late continuation for a
    stream already scaled: one reshard (4 → 8) in all."""
    from autoscaler.core.model import Direction
    from autoscaler.events import Continuation, HandOver, continuation_payload

    run = env()
    alarm = load_event("sns-alarm-incoming-bytes.json")
    (first,) = run(alarm)
    assert first["outcome"] == "scaled" and first["after"] == 8
    (again,) = run(alarm)  # the same MessageId again (SNS delivers at least once)
    assert again["outcome"] == "skipped" and "cooldown" in again["detail"]
    ok = json.loads(alarm["Records"][0]["Sns"]["Message"])
    ok["NewStateValue"], ok["OldStateValue"] = "OK", "ALARM"
    late_ok = json.loads(json.dumps(alarm))
    late_ok["Records"][0]["Sns"]["Message"] = json.dumps(ok)
    (ignored,) = run(late_ok)
    assert ignored["outcome"] == "ignored" and ignored["reason"] == "not-alarm"
    # a continuation from a run that no longer holds the lock (a late or replayed hand-over)
    (late,) = run(continuation_payload(Continuation(Direction.UP, 1, (HandOver("orders", 16, "a-run-long-gone", 4),))))
    assert late["outcome"] == "skipped"
    assert run.writes.count("UpdateShardCount") == 1 and "SplitShard" not in run.writes
    assert open_shards(run) == 8


def test_an_action_publishes_a_one_line_summary_to_the_notification_topic(env: Any) -> None:
    from moto.sns.models import sns_backends

    from autoscaler.adapters.aws.clients import build_client

    run = env()
    topic = build_client("sns", "us-east-1").create_topic(Name="notify")["TopicArn"]
    run.module.NOTIFIER.topic_arn = topic  # the template sets NOTIFY_TOPIC_ARN to its NotificationTopic
    (result,) = run(load_event("sns-alarm-incoming-bytes.json"))
    assert result["outcome"] == "scaled"
    sent = sns_backends[ACCOUNT]["us-east-1"].topics[topic].sent_notifications
    assert len(sent) == 1
    _, message, subject, *_ = sent[0]
    assert subject == "kinesis-autoscaler: orders scaled up 4 -> 8"
    assert message.startswith("orders scaled up 4 -> 8 shards in ") and "headroom 2x" in message
    (again,) = run(load_event("sns-alarm-incoming-bytes.json"))  # skipped by the cooldown: nothing to tell
    assert again["outcome"] == "skipped" and len(sent) == 1


def test_a_notification_that_fails_does_not_fail_the_action(env: Any) -> None:
    run = env()
    run.module.NOTIFIER.topic_arn = f"arn:aws:sns:us-east-1:{ACCOUNT}:no-such-topic"
    (result,) = run(load_event("sns-alarm-incoming-bytes.json"))
    assert result["outcome"] == "scaled"  # the publish failed (NotFound), logged, the action stands


@pytest.mark.parametrize("where", ["MessageId", "AlarmName"])
def test_a_lone_surrogate_in_the_event_does_not_silence_the_logs(env: Any, where: str) -> None:
    """JSON may carry "\\ud800"; Lambda's stdout is strict UTF-8. With Powertools' ensure_ascii=False such a line
    failed to encode and was dropped, and the MessageId tags every line: the refusal went unlogged."""
    run = env()
    raw = io.BytesIO()
    strict_utf8 = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    event = load_event("sns-alarm-incoming-bytes.json")
    msg = json.loads(event["Records"][0]["Sns"]["Message"])
    msg["AlarmArn"] = msg["AlarmArn"].replace(ACCOUNT, "210987654321")  # another account's: refused
    msg["AWSAccountId"] = "210987654321"
    if where == "AlarmName":
        msg["AlarmName"] += "\ud800"
    else:
        event["Records"][0]["Sns"]["MessageId"] = "m-\ud800"
    event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    with log_lines(run.module, strict_utf8):
        (result,) = run(event)
    assert (result["outcome"], result["reason"]) == ("ignored", "other-account")
    lines = [json.loads(line) for line in raw.getvalue().decode("utf-8").splitlines() if line.strip()]
    assert [r for r in lines if r.get("message") == "ignored" and r.get("reason") == "other-account"], lines


def test_the_lock_table_down_fails_closed_with_an_error_metric_and_a_clear_log(
    env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """DynamoDB unavailable (here: the table is gone): no reshard, no alarm touched; the handler raises so that
    Lambda retries; one ERROR line names the stream, the table and why; Errors is counted in all and per stream."""
    run = env()
    run.module.CLIENTS.dynamodb.delete_table(TableName="cd")
    capsys.readouterr()
    run.calls.clear()
    with log_lines(run.module) as logs, pytest.raises(run.module.RetryLater, match="LockUnavailable"):
        run(load_event("sns-alarm-incoming-bytes.json"))
    assert set(run.writes) <= {"UpdateItem"}, f"only the refused lock write, got {run.writes}"
    errors = [json.loads(line) for line in logs.getvalue().splitlines() if '"level":"ERROR"' in line]
    assert [(e["message"], e["stream"]) for e in errors] == [("scale-up failed", "orders")], errors
    assert "cooldown table cd" in errors[0]["error"] and "not resharding without the lock" in errors[0]["error"]
    emf = emitted_metrics(capsys.readouterr().out)
    assert ("Errors", frozenset()) in emf and ("Errors", frozenset({"Stream"})) in emf, emf


def test_logs_carry_parsed_fields_never_the_event_payload(env: Any) -> None:
    """A marker in every part of a delivery the autoscaler does not act on (the SNS subject, the alarm's description
    and reason, an unknown field, an unknown event's values) never reaches a log line at any level, whether the event
    scales the stream or is refused. An unknown event's keys are named in its refusal, at most 8, 40 characters each:
    the 5,000-character key must not make a long line."""
    marker = "PAYLOAD-MARKER-7f3a"
    run = env()
    scales = load_event("sns-alarm-incoming-bytes.json")
    msg = json.loads(scales["Records"][0]["Sns"]["Message"])
    msg.update(AlarmDescription=marker, NewStateReason=marker, Extra={"note": marker})
    scales["Records"][0]["Sns"].update(Subject=marker, Message=json.dumps(msg))
    refused = copy.deepcopy(scales)
    refused_msg = dict(msg, AlarmArn=msg["AlarmArn"].replace(ACCOUNT, "210987654321"), AWSAccountId="210987654321")
    refused["Records"][0]["Sns"]["Message"] = json.dumps(refused_msg)
    with log_lines(run.module) as logs:
        (first,) = run(scales)
        (second,) = run(refused)
        (third,) = run({"detail": marker, "x" * 5000: marker})
    assert (first["outcome"], second["reason"], third["reason"]) == ("scaled", "other-account", "unknown-shape")
    text = logs.getvalue()
    assert text.count('"level"') >= 4 and marker not in text, text[:2000]
    assert max(len(line) for line in text.splitlines()) < 4000, "no line quotes an unbounded part of the event"


@pytest.mark.parametrize("state", ["OK", "ALARM", "INSUFFICIENT_DATA"])
def test_a_huge_alarm_name_is_refused_in_a_bounded_line_whatever_the_state(env: Any, state: str) -> None:
    """A 200,000-character AlarmName (CloudWatch allows 255) is refused as bad-alarm-name before the screen, with
    no AWS call; before, the OK transition's refusal quoted it whole (a 200 KB log line)."""
    run = env()
    event = load_event("sns-alarm-incoming-bytes.json")
    msg = json.loads(event["Records"][0]["Sns"]["Message"])
    msg.update(AlarmName="kinesis-autoscaler/orders/" + "x" * 200_000, NewStateValue=state)
    event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    run.calls.clear()
    with log_lines(run.module) as logs:
        (result,) = run(event)
    assert (result["outcome"], result["reason"]) == ("ignored", "bad-alarm-name")
    assert run.calls == []
    assert max(len(line) for line in logs.getvalue().splitlines()) < 4000


def test_an_alarm_in_another_partition_is_refused_even_in_a_region_of_the_same_name(env: Any) -> None:
    """arn:aws-cn:cloudwatch:us-east-1:… is not this (aws) function's alarm, though its region code matches."""
    run = env()
    event = load_event("sns-alarm-incoming-bytes.json")
    msg = json.loads(event["Records"][0]["Sns"]["Message"])
    msg["AlarmArn"] = msg["AlarmArn"].replace("arn:aws:", "arn:aws-cn:")
    event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    run.calls.clear()
    (result,) = run(event)
    assert (result["outcome"], result["reason"]) == ("ignored", "other-partition")
    assert run.calls == []


def test_each_invocation_is_tagged_with_its_own_bounded_message_id(env: Any) -> None:
    """The correlation id is the first SNS MessageId as the parser cut it (64 characters); a warm container's next
    invocation without one (a continuation) carries none, not the previous invocation's."""
    run = env()
    alarm = load_event("sns-alarm-incoming-bytes.json")
    alarm["Records"][0]["Sns"]["MessageId"] = "m" * 500
    continuation = {"kind": "kinesis-autoscaler/scale-up-continuation", "stream": "payments", "target": 8}
    with log_lines(run.module) as logs:
        run(alarm)
        cut = len(logs.getvalue())
        run(continuation)
    first = [json.loads(line) for line in logs.getvalue()[:cut].splitlines()]
    second = [json.loads(line) for line in logs.getvalue()[cut:].splitlines()]
    assert first and {line.get("correlation_id") for line in first} == {"m" * 64}, first
    assert second and all("correlation_id" not in line for line in second), second


def _alarm_states(run: Loaded) -> dict[str, str]:
    page = run.module.CLIENTS.cloudwatch.describe_alarms(AlarmNamePrefix="kinesis-autoscaler/orders/")
    return {a["AlarmName"]: a["StateValue"] for a in page["MetricAlarms"]}


BYTES_ALARM = "kinesis-autoscaler/orders/incoming-bytes"


def test_the_schedule_re_arms_an_alarm_left_in_alarm_on_a_stream_no_run_holds(env: Any) -> None:
    """The sweep (issue 12 §1): an alarm in ALARM whose notification nobody acted on is set back to OK, so CloudWatch
    re-evaluates it and notifies again; on a stream a live run holds it is left to that run. The only write is
    SetAlarmState, on the alarm in ALARM."""
    run = env()
    cw = run.module.CLIENTS.cloudwatch
    cw.set_alarm_state(AlarmName=BYTES_ALARM, StateValue="ALARM", StateReason="test: fired, its run died")
    run.calls.clear()
    (result,) = run(load_event("scheduled-event.json"))
    assert result == {"outcome": "swept", "rearmed": ["orders"], "left": {}, "failed": []}, result
    assert run.writes == ["SetAlarmState"]
    assert _alarm_states(run)[BYTES_ALARM] == "OK"

    # a live run holds the stream: its finish resets the alarms; the sweep writes nothing
    cw.set_alarm_state(AlarmName=BYTES_ALARM, StateValue="ALARM", StateReason="test: fired during a run")
    now = run.module.PORTS["clock"].now()
    run.module.PORTS["cooldown"].acquire("orders", owner="live", now=now, lease_until=now + 600, blocked_by=())
    run.calls.clear()
    (held,) = run(load_event("scheduled-event.json"))
    assert held["rearmed"] == [] and held["left"]["orders"].startswith("held by live for"), held
    assert run.writes == [] and _alarm_states(run)[BYTES_ALARM] == "ALARM"


def test_an_alarm_given_up_on_while_the_lock_table_was_down_is_re_armed_once_it_is_back(
    env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table down at acquire: the notification fails (Lambda retries twice, then the failure queue) and the
    alarm stays in ALARM with no further notification. The sweep cannot tell a live run from a dead one while the
    table is down, so it writes nothing and counts an error; once the table is back it re-arms the alarm."""
    run = env()
    cw, dynamodb = run.module.CLIENTS.cloudwatch, run.module.CLIENTS.dynamodb
    cw.set_alarm_state(AlarmName=BYTES_ALARM, StateValue="ALARM", StateReason="test: fired")
    dynamodb.delete_table(TableName="cd")
    for _attempt in range(3):  # the delivery and Lambda's two retries
        with pytest.raises(run.module.RetryLater, match="LockUnavailable"):
            run(load_event("sns-alarm-incoming-bytes.json"))
    assert _alarm_states(run)[BYTES_ALARM] == "ALARM"
    capsys.readouterr()
    run.calls.clear()
    (down,) = run(load_event("scheduled-event.json"))
    assert down == {"outcome": "swept", "rearmed": [], "left": {}, "failed": ["orders"]}, down
    assert run.writes == [] and _alarm_states(run)[BYTES_ALARM] == "ALARM"
    emf = emitted_metrics(capsys.readouterr().out)
    assert ("Errors", frozenset({"Stream"})) in emf, emf

    create_table(dynamodb, "cd")
    run.calls.clear()
    (back,) = run(load_event("scheduled-event.json"))
    assert back["rearmed"] == ["orders"] and run.writes == ["SetAlarmState"], back
    assert _alarm_states(run)[BYTES_ALARM] == "OK"
