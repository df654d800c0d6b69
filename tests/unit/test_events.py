"""Event parsing and screening: real shapes act, everything else is rejected with a reason — never raised."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from autoscaler.app.scale_up import request_from_alarm
from autoscaler.core.model import Direction, TriggerKind
from autoscaler.events import (
    CONTINUATION_KIND,
    AlarmNotification,
    Continuation,
    HandOver,
    Rejected,
    ScheduledRun,
    continuation_payload,
    parse_scale_up_event,
    screen,
)
from tests.conftest import EVENTS, load_event, make_config

pytestmark = pytest.mark.unit


def only(event: Any) -> AlarmNotification | Continuation | Rejected:
    items = parse_scale_up_event(event)
    assert len(items) == 1
    return items[0]


def with_message(mutate: Any, base: str = "sns-alarm-incoming-bytes.json") -> dict[str, Any]:
    event = load_event(base)
    msg = json.loads(event["Records"][0]["Sns"]["Message"])
    result = mutate(msg)
    event["Records"][0]["Sns"]["Message"] = result if isinstance(result, str) else json.dumps(msg)
    return event


@pytest.mark.parametrize(
    ("file", "metric", "trigger", "threshold", "state"),
    [
        ("sns-alarm-incoming-bytes.json", "IncomingBytes", TriggerKind.UTILISATION, 201_326_592.0, "ALARM"),
        ("sns-alarm-incoming-records.json", "IncomingRecords", TriggerKind.UTILISATION, 192_000.0, "ALARM"),
        ("sns-alarm-write-throttled.json", "WriteProvisionedThroughputExceeded", TriggerKind.THROTTLE, 0.0, "ALARM"),
        ("sns-alarm-ok.json", "IncomingBytes", TriggerKind.UTILISATION, 201_326_592.0, "OK"),
        ("lambda-alarm-action.json", "IncomingBytes", TriggerKind.UTILISATION, 201_326_592.0, "ALARM"),
    ],
)
def test_real_alarm_shapes(file: str, metric: str, trigger: TriggerKind, threshold: float, state: str) -> None:
    note = only(load_event(file))
    assert isinstance(note, AlarmNotification), note
    assert (note.stream, note.metrics, note.trigger, note.threshold, note.new_state) == (
        "orders",
        (metric,),
        trigger,
        threshold,
        state,
    )
    assert (note.account_id, note.region, note.period) == ("123456789012", "us-east-1", 60)


def test_math_alarm_takes_stream_from_metric_stats() -> None:
    note = only(load_event("sns-alarm-math.json"))  # ReturnData as "False" string and junk TreatMissingData
    assert isinstance(note, AlarmNotification)
    assert (note.stream, note.metrics, note.trigger, note.threshold) == (
        "orders",
        ("IncomingBytes", "IncomingRecords"),
        TriggerKind.UTILISATION,
        None,  # a math alarm's threshold is not a Sum: it says nothing about the shard count
    )


def test_several_records_are_each_handled() -> None:
    event = load_event("sns-alarm-incoming-bytes.json")
    records = load_event("sns-alarm-incoming-records.json")["Records"]
    event["Records"] = event["Records"] + records + [{"EventSource": "aws:sqs"}]
    items = parse_scale_up_event(event)
    assert [type(i).__name__ for i in items] == ["AlarmNotification", "AlarmNotification", "Rejected"]


def test_continuation_round_trip() -> None:
    req = Continuation(Direction.UP, 2, (HandOver("orders", target=8, owner="abc", origin_count=4),))
    assert only(continuation_payload(req)) == req


def _set(path: list[Any], value: Any) -> Any:
    def mutate(msg: dict[str, Any]) -> None:
        node = msg
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return mutate


_DELETE = object()
CONT = {"kind": CONTINUATION_KIND, "stream": "orders", "target": 8, "origin_count": 4, "hop": 1, "owner": "a"}

BAD: list[tuple[str, Any, str]] = [
    ("a list", [1, 2], "not-an-object"),
    ("a string", "ALARM", "not-an-object"),
    ("empty object", {}, "unknown-shape"),
    ("scheduled event with a detail", {**load_event("scheduled-event.json"), "detail": {"a": 1}}, "unexpected-detail"),
    ("another EventBridge event", {**load_event("scheduled-event.json"), "detail-type": "x"}, "unknown-shape"),
    ("empty Records", {"Records": []}, "no-records"),
    ("Records not a list", {"Records": {"a": 1}}, "no-records"),
    ("record not an object", {"Records": ["x"]}, "malformed-record"),
    ("not SNS", {"Records": [{"EventSource": "aws:sqs", "body": "{}"}]}, "not-sns"),
    ("Message not JSON", with_message(lambda m: "{not json"), "not-json"),
    ("Message truncated", with_message(lambda m: json.dumps(m)[:200]), "not-json"),
    ("Message a JSON list", with_message(lambda m: "[1]"), "malformed"),
    ("Message several MB", with_message(lambda m: json.dumps({**m, "pad": "x" * 3_000_000})), "too-large"),
    ("no AlarmArn", with_message(_set(["AlarmArn"], _DELETE)), "missing-field"),
    ("AlarmArn not an alarm", with_message(_set(["AlarmArn"], "arn:aws:sns:us-east-1:123456789012:x")), "bad-arn"),
    ("account disagrees", with_message(_set(["AWSAccountId"], "999999999999")), "account-mismatch"),
    ("wrong namespace", with_message(_set(["Trigger", "Namespace"], "AWS/EC2")), "wrong-namespace"),
    ("no stream dimension", with_message(_set(["Trigger", "Dimensions"], [])), "no-stream"),
    ("dimensions not a list", with_message(_set(["Trigger", "Dimensions"], "orders")), "malformed"),
    (
        "a read metric the autoscaler does not act on",
        with_message(_set(["Trigger", "MetricName"], "GetRecords.Success")),
        "unsupported-metric",
    ),
    ("unknown state", with_message(_set(["NewStateValue"], "PANIC")), "unknown-state"),
    ("state not text", with_message(_set(["NewStateValue"], 3)), "missing-field"),
    ("no Trigger", with_message(_set(["Trigger"], _DELETE)), "missing-field"),
    ("Trigger without metric", with_message(_set(["Trigger"], {"Period": 60})), "missing-field"),
    (
        "stream name hostile",
        with_message(_set(["Trigger", "Dimensions"], [{"name": "StreamName", "value": "../x"}])),
        "bad-stream-name",
    ),
    (
        "stream name with a newline",
        with_message(_set(["Trigger", "Dimensions"], [{"name": "StreamName", "value": "orders\n"}])),
        "bad-stream-name",
    ),
    ("5,000-digit number", with_message(lambda m: json.dumps(m).replace("201326592.0", "9" * 5000)), "not-json"),
    ("continuation hop 0", {**CONT, "hop": 0}, "hop-limit"),
    ("continuation forged hop", {**CONT, "hop": 99}, "hop-limit"),
    ("continuation target beyond limit", {**CONT, "target": 20_000}, "bad-target"),
    ("continuation target below origin", {**CONT, "target": 2}, "bad-target"),
    ("continuation target text", {**CONT, "target": "8"}, "malformed"),
    ("continuation bool hop", {**CONT, "hop": True}, "malformed"),
    ("continuation no owner", {k: v for k, v in CONT.items() if k != "owner"}, "missing-field"),
    ("alarm action wrong source", {**load_event("lambda-alarm-action.json"), "source": "aws.events"}, "wrong-source"),
    (
        "composite alarm action",
        {
            **load_event("lambda-alarm-action.json"),
            "alarmData": {"alarmName": "x", "state": {"value": "ALARM"}, "configuration": {"alarmRule": "ALARM(a)"}},
        },
        "missing-field",
    ),
]


@pytest.mark.parametrize(("case", "event", "reason"), BAD, ids=[c for c, _, _ in BAD])
def test_bad_input_is_rejected_with_a_reason(case: str, event: Any, reason: str) -> None:
    item = only(copy.deepcopy(event))
    assert isinstance(item, Rejected), f"{case}: parsed as {item}"
    assert item.reason == reason, f"{case}: {item.detail}"
    assert item.detail


@pytest.mark.parametrize(
    ("case", "mutate", "account", "region", "reason"),
    [
        ("ok state", lambda m: {**m, "NewStateValue": "OK"}, "123456789012", "us-east-1", "not-alarm"),
        (
            "insufficient data",
            lambda m: {**m, "NewStateValue": "INSUFFICIENT_DATA"},
            "123456789012",
            "us-east-1",
            "not-alarm",
        ),
        ("other account", lambda m: m, "210987654321", "us-east-1", "other-account"),
        ("other region", lambda m: m, "123456789012", "eu-west-1", "other-region"),
        (
            "unmanaged stream",
            lambda m: {**m, "Trigger": {**m["Trigger"], "Dimensions": [{"name": "StreamName", "value": "payments"}]}},
            "123456789012",
            "us-east-1",
            "unknown-stream",
        ),
    ],
)
def test_screen_refuses(case: str, mutate: Any, account: str, region: str, reason: str) -> None:
    event = load_event("sns-alarm-incoming-bytes.json")
    msg = mutate(json.loads(event["Records"][0]["Sns"]["Message"]))
    event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    note = only(event)
    assert isinstance(note, AlarmNotification)
    refusal = screen(note, account_id=account, region=region, managed=("orders",))
    assert refusal is not None and refusal.reason == reason, case


def test_threshold_beyond_float_range_is_unknown_not_an_error() -> None:
    note = only(with_message(lambda m: json.dumps(m).replace("201326592.0", "1" + "0" * 400)))
    assert isinstance(note, AlarmNotification) and note.threshold is None
    action = load_event("lambda-alarm-action.json")
    action["alarmData"]["state"]["reasonData"] = '{"threshold": 1' + "0" * 400 + "}"
    parsed = only(action)
    assert isinstance(parsed, AlarmNotification) and parsed.threshold is None


def test_screen_accepts_own_alarm() -> None:
    note = only(load_event("sns-alarm-incoming-bytes.json"))
    assert isinstance(note, AlarmNotification)
    assert screen(note, account_id="123456789012", region="us-east-1", managed=("orders",)) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_parser_never_raises_on_any_json(value: Any) -> None:
    for item in parse_scale_up_event(value):
        assert isinstance(item, AlarmNotification | Continuation | Rejected)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["AlarmName", "AlarmArn", "NewStateValue", "Trigger", "AWSAccountId"]), json_values, max_size=5
    )
)
def test_parser_never_raises_on_mangled_messages(fields: dict[str, Any]) -> None:
    event = with_message(lambda m: json.dumps({**m, **fields}))
    for item in parse_scale_up_event(event):
        assert isinstance(item, AlarmNotification | Rejected)


def test_a_period_no_alarm_can_have_is_unknown() -> None:
    """CloudWatch evaluates at most 7 days: 10^400 s once overflowed the threshold arithmetic (float(N × 1 MiB × P))
    into an error that Lambda retried; now it is unknown, like a Period that is text."""
    for period in (10**400, 7 * 86_400 + 60, 0, -60):
        note = only(with_message(lambda m, p=period: m["Trigger"].__setitem__("Period", p)))
        assert isinstance(note, AlarmNotification) and note.period is None, period
    week = only(with_message(lambda m: m["Trigger"].__setitem__("Period", 7 * 86_400)))
    assert isinstance(week, AlarmNotification) and week.period == 604_800


def test_a_metric_query_in_another_account_is_refused() -> None:
    """Cross-account alarms: a query's AccountId names whose metric it reads. Same stream name, other account:
    not this stream's load."""

    def other_account(m: dict[str, Any]) -> None:
        m["Trigger"] = {
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Metrics": [
                {
                    "Id": "mb",
                    "AccountId": "999999999999",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/Kinesis",
                            "MetricName": "IncomingBytes",
                            "Dimensions": [{"name": "StreamName", "value": "orders"}],
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                }
            ],
        }

    refused = only(with_message(other_account))
    assert isinstance(refused, Rejected) and refused.reason == "other-account-metric"
    own = only(with_message(lambda m: (other_account(m), m["Trigger"]["Metrics"][0].update(AccountId="123456789012"))))
    assert isinstance(own, AlarmNotification) and own.stream == "orders"
    action = load_event("lambda-alarm-action.json")
    action["alarmData"]["configuration"]["metrics"][0]["accountId"] = "999999999999"
    refused_action = only(action)
    assert isinstance(refused_action, Rejected) and refused_action.reason == "other-account-metric"


def test_a_message_id_is_cut_to_64_characters() -> None:
    event = load_event("sns-alarm-incoming-bytes.json")
    event["Records"][0]["Sns"]["MessageId"] = "m" * 100_000
    note = only(event)
    assert isinstance(note, AlarmNotification) and note.message_id == "m" * 64


advisory_numbers = (
    st.integers()
    | st.integers(min_value=10**290, max_value=10**420)
    | st.floats()
    | st.booleans()
    | st.none()
    | st.text(max_size=5)
)


@settings(max_examples=300, deadline=None)
@given(period=advisory_numbers, threshold=advisory_numbers, direct=st.booleans())
@example(period=10**400, threshold=201_326_592.0, direct=False)
@example(period=10, threshold=1.7e308, direct=True)
def test_an_accepted_alarm_with_any_period_and_threshold_makes_a_request(
    period: Any, threshold: Any, direct: bool
) -> None:
    """One step past the parser, where the handler goes next: whatever Period and Threshold an accepted alarm of ours
    carries, request_from_alarm never raises, and the count its threshold stood for is unknown or finite."""
    if direct:
        event = load_event("lambda-alarm-action.json")
        event["alarmData"]["configuration"]["metrics"][0]["metricStat"]["period"] = period
        event["alarmData"]["state"]["reasonData"] = json.dumps({"threshold": threshold}, default=str)
    else:
        event = with_message(lambda m: m["Trigger"].update(Period=period, Threshold=threshold))
    note = only(event)
    assert isinstance(note, AlarmNotification), note
    config = make_config()
    cfg = config.stream("orders")
    assert cfg is not None
    request = request_from_alarm(note, cfg, config.alarm_name_prefix)
    assert request.alarm_shards is None or math.isfinite(request.alarm_shards), request


def test_the_screen_compares_the_partition_first() -> None:
    """An alarm ARN in aws-us-gov with us-east-1 as its region: refused in the aws partition, accepted in its own."""
    (note,) = parse_scale_up_event(load_event("sns-alarm-incoming-bytes.json"))
    assert isinstance(note, AlarmNotification) and note.partition == "aws"
    gov = note._replace(partition="aws-us-gov")
    refusal = screen(gov, account_id=note.account_id, region=note.region, managed=("orders",))
    assert refusal is not None and refusal.reason == "other-partition"
    assert (
        screen(gov, account_id=note.account_id, region=note.region, managed=("orders",), partition="aws-us-gov") is None
    )


@pytest.mark.parametrize("length", [255, 256])
def test_alarm_names_longer_than_cloudwatch_allows_are_refused(length: int) -> None:
    event = load_event("sns-alarm-incoming-bytes.json")
    msg = json.loads(event["Records"][0]["Sns"]["Message"])
    msg["AlarmName"] = "a" * length
    event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    (item,) = parse_scale_up_event(event)
    if length == 255:
        assert isinstance(item, AlarmNotification)
    else:
        assert isinstance(item, Rejected) and item.reason == "bad-alarm-name" and len(item.detail) < 100


def _sns_with(update: Any) -> dict[str, Any]:
    event = load_event("sns-alarm-incoming-bytes.json")
    msg = json.loads(event["Records"][0]["Sns"]["Message"])
    update(msg["Trigger"])
    event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    return event


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        # a "producer stalled" alarm: IncomingBytes below a floor
        (lambda t: t.update(ComparisonOperator="LessThanThreshold"), "not-rising"),
        (lambda t: t.update(ComparisonOperator="LessThanOrEqualToThreshold"), "not-rising"),
        # anomaly-detection bands: only the upper side breached is a rise
        (lambda t: t.update(ComparisonOperator="LessThanLowerThreshold", ThresholdMetricId="ad1"), "not-rising"),
        (
            lambda t: t.update(ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold", ThresholdMetricId="ad1"),
            "not-rising",
        ),
        (lambda t: t.update(ComparisonOperator="GreaterThanThreshold", ThresholdMetricId="ad1"), "not-rising"),
        (lambda t: t.pop("ComparisonOperator"), "missing-field"),
        # bytes per record (Average), the largest single request (Maximum), a percentile: not the minute's demand
        (lambda t: t.update(Statistic="AVERAGE"), "wrong-statistic"),
        (lambda t: t.update(Statistic="MAXIMUM"), "wrong-statistic"),
        (
            lambda t: t.update(StatisticType="ExtendedStatistic", Statistic=None, ExtendedStatistic="p99"),
            "wrong-statistic",
        ),
    ],
)
def test_alarms_that_do_not_mean_more_write_capacity_are_refused(change: Any, reason: str) -> None:
    item = only(_sns_with(change))
    assert isinstance(item, Rejected) and item.reason == reason, item


@pytest.mark.parametrize(
    "change",
    [
        lambda t: None,  # create-streams' own: SUM, GreaterThanOrEqualToThreshold
        lambda t: t.update(ComparisonOperator="GreaterThanThreshold"),
        lambda t: t.update(ComparisonOperator="GreaterThanUpperThreshold", ThresholdMetricId="ad1"),  # band, upper
        lambda t: t.update(Statistic="Sum"),  # the statistic's case varies between shapes
    ],
)
def test_alarms_that_mean_more_write_capacity_are_accepted(change: Any) -> None:
    assert isinstance(only(_sns_with(change)), AlarmNotification)


def test_the_throttle_alarm_may_read_any_positive_statistic() -> None:
    """Any positive Sum, Maximum or Average of WriteProvisionedThroughputExceeded means refused writes."""
    for stat in ("SUM", "MAXIMUM", "AVERAGE"):
        event = load_event("sns-alarm-write-throttled.json")
        msg = json.loads(event["Records"][0]["Sns"]["Message"])
        msg["Trigger"]["Statistic"] = stat
        event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
        assert isinstance(only(event), AlarmNotification), stat


def test_the_direct_alarm_action_is_read_for_its_direction_and_statistic() -> None:
    """The direct action carries no ComparisonOperator: its state reason says which way it crossed."""
    assert isinstance(only(load_event("lambda-alarm-action.json")), AlarmNotification)
    below = load_event("lambda-alarm-action.json")
    below["alarmData"]["state"]["reason"] = "Threshold Crossed: 2 datapoints were less than the threshold (10.0)."
    refused = only(below)
    assert isinstance(refused, Rejected) and refused.reason == "not-rising"
    average = load_event("lambda-alarm-action.json")
    average["alarmData"]["configuration"]["metrics"][0]["metricStat"]["stat"] = "Average"
    refused = only(average)
    assert isinstance(refused, Rejected) and refused.reason == "wrong-statistic"


def test_a_notification_older_than_lambdas_event_age_is_not_evidence() -> None:
    """StateChangeTime 2026-11-20T14:03:12.371+0000: 6 h later it is still judged; 6 h and a second later it is
    stale (Lambda keeps an async event at most 21,600 s). An unreadable time is judged without it."""
    (note,) = parse_scale_up_event(json.loads((EVENTS / "sns-alarm-incoming-bytes.json").read_text()))  # as recorded
    assert isinstance(note, AlarmNotification)
    changed = datetime(2026, 11, 20, 14, 3, 12, 371_000, tzinfo=UTC).timestamp()
    kw: dict[str, Any] = {"account_id": note.account_id, "region": note.region, "managed": ("orders",)}
    assert screen(note, now=changed + 21_600, **kw) is None
    stale = screen(note, now=changed + 21_601, **kw)
    assert stale is not None and stale.reason == "stale-notification"
    assert screen(note._replace(state_change_time="yesterday"), now=changed + 10**6, **kw) is None


def test_an_alarm_on_missing_data_treated_as_breaching_is_no_demand() -> None:
    """TreatMissingData breaching puts an alarm in ALARM when the writes stop: no datapoint, so the planner would
    take its fallback step on an idle stream. Refused on both delivery shapes; an empty ThresholdMetricId is no band."""
    reason = "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as [Breaching]."
    event = load_event("sns-alarm-incoming-bytes.json")
    msg = json.loads(event["Records"][0]["Sns"]["Message"])
    msg["NewStateReason"] = reason
    event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    refused = only(event)
    assert isinstance(refused, Rejected) and refused.reason == "no-datapoints"
    action = load_event("lambda-alarm-action.json")
    action["alarmData"]["state"]["reason"] = reason
    refused = only(action)
    assert isinstance(refused, Rejected) and refused.reason == "no-datapoints"
    assert isinstance(only(_sns_with(lambda t: t.update(ThresholdMetricId=""))), AlarmNotification)


def test_the_scale_up_schedule_parses_into_a_scheduled_run_for_the_sweep() -> None:
    (item,) = parse_scale_up_event(load_event("scheduled-event.json"))
    assert isinstance(item, ScheduledRun) and (item.account_id, item.region) == ("123456789012", "us-east-1")


# -- the read side (issue 15): the same screening as the write alarms ------------------------------------------------


def _read_alarm(file: str, **trigger: Any) -> dict[str, Any]:
    event = load_event(file)
    msg = json.loads(event["Records"][0]["Sns"]["Message"])
    msg["Trigger"].update(trigger)
    event["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    return event


@pytest.mark.parametrize(
    ("file", "metric", "threshold"),
    [
        ("sns-alarm-read-throttled.json", "ReadProvisionedThroughputExceeded", 0.0),
        ("sns-alarm-iterator-age.json", "GetRecords.IteratorAgeMilliseconds", 60_000.0),
    ],
)
def test_read_side_alarms_parse_into_read_triggers(file: str, metric: str, threshold: float) -> None:
    note = only(load_event(file))
    assert isinstance(note, AlarmNotification), note
    assert (note.stream, note.metrics, note.trigger, note.threshold) == (
        "orders",
        (metric,),
        TriggerKind.READ,
        threshold,
    )


@pytest.mark.parametrize(
    ("file", "trigger", "reason"),
    [
        # a lag read as an Average or a Minimum hides the reader that is behind
        ("sns-alarm-iterator-age.json", {"Statistic": "AVERAGE"}, "wrong-statistic"),
        ("sns-alarm-iterator-age.json", {"Statistic": "MINIMUM"}, "wrong-statistic"),
        # "readers caught up" (the age fell below a floor) is no demand for shards
        ("sns-alarm-iterator-age.json", {"ComparisonOperator": "LessThanThreshold"}, "not-rising"),
        ("sns-alarm-read-throttled.json", {"ComparisonOperator": "LessThanOrEqualToThreshold"}, "not-rising"),
        ("sns-alarm-read-throttled.json", {"Namespace": "AWS/EC2"}, "wrong-namespace"),
        ("sns-alarm-read-throttled.json", {"Dimensions": []}, "no-stream"),
        # enhanced fan-out lag is per consumer and not the shared read capacity: not acted on
        (
            "sns-alarm-iterator-age.json",
            {"MetricName": "SubscribeToShardEvent.MillisBehindLatest"},
            "unsupported-metric",
        ),
    ],
)
def test_read_side_alarms_get_the_write_alarms_screening(file: str, trigger: dict[str, Any], reason: str) -> None:
    item = only(_read_alarm(file, **trigger))
    assert isinstance(item, Rejected) and item.reason == reason, item


def test_a_read_alarm_for_a_stream_without_read_side_is_refused_before_any_call() -> None:
    note = only(load_event("sns-alarm-read-throttled.json"))
    assert isinstance(note, AlarmNotification)
    base = {"account_id": "123456789012", "region": "us-east-1", "managed": ("orders",)}
    refused = screen(note, **base)  # type: ignore[arg-type]
    assert refused is not None and refused.reason == "read-side-off" and "read_side: true" in refused.detail
    assert screen(note, **base, read_side=("orders",)) is None  # type: ignore[arg-type]
    other = only(_read_alarm("sns-alarm-read-throttled.json"))
    assert isinstance(other, AlarmNotification)
    foreign = screen(other, **{**base, "account_id": "210987654321"}, read_side=("orders",))  # type: ignore[arg-type]
    assert foreign is not None and foreign.reason == "other-account"
