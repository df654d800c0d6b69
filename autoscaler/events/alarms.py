"""CloudWatch alarm notifications → domain requests. Defensive: anything unparseable becomes a Rejected with a reason,
never raises.

Shapes handled (see tests/events/):
- SNS-wrapped CloudWatch alarm notifications (Records[].Sns.Message is a JSON string): single-metric alarms
  (Trigger.MetricName + Trigger.Dimensions [{name, value}]) and metric-math alarms (Trigger.Metrics[].MetricStat).
- The direct Lambda alarm-action event (source aws.cloudwatch, alarmData.configuration.metrics[].metricStat).
- The scale-up function's own continuation (events/continuation.py).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from autoscaler.core.limits import (
    ITERATOR_AGE,
    KINESIS_NAMESPACE,
    READ_BYTES,
    READ_THROTTLED,
    WRITE_METRICS,
    WRITE_THROTTLED,
)
from autoscaler.core.model import TriggerKind
from autoscaler.events.common import STREAM_NAME, Rejected, _Bad, _guard, _text
from autoscaler.events.continuation import CONTINUATION_KIND, Continuation, parse_up_continuation
from autoscaler.events.schedule import ScheduledRun, parse_scheduled

MAX_MESSAGE_ID_CHARS = 64
MAX_MESSAGE_CHARS = 262_144  # SNS caps a message at 256 KiB; anything larger is not a real alarm notification
UTILISATION_METRICS = frozenset(WRITE_METRICS)
THROTTLE_METRICS = frozenset({WRITE_THROTTLED})
# The read side (issue 15): bytes read near the shared limit, refused GetRecords calls, readers falling behind. The
# planner judges which of them shards would fix (core/read_side.py); a stream without read_side: true ignores them.
# Enhanced fan-out lag (SubscribeToShardEvent.MillisBehindLatest) is not among them: it is published per consumer
# (StreamName + ConsumerName), each such consumer has its own 2 MiB/s per shard, and no stream-level read metric
# would show what shards would fix.
READ_ALARM_METRICS = frozenset({READ_BYTES, READ_THROTTLED, ITERATOR_AGE})
_ALARM_ARN = re.compile(r"^arn:(aws[a-z-]*):cloudwatch:([a-z0-9-]+):(\d{12}):alarm:(.+)$")
_STATES = frozenset({"OK", "ALARM", "INSUFFICIENT_DATA"})
MAX_ALARM_NAME_CHARS = 255  # PutMetricAlarm: AlarmName is 1-255 characters
# Lambda keeps an asynchronous event at most 6 hours (MaximumEventAgeInSeconds, 21,600 at most): a state change
# older than that reached us by no retry of Lambda's, and says nothing about the stream now.
MAX_NOTIFICATION_AGE_SECONDS = 21_600
# CloudWatch alarm periods are 10, 20, 30 or a multiple of 60 s, and an alarm evaluates at most 7 days: a Period past
# that is no alarm's, and it would overflow the threshold arithmetic (a float holds at most ~1.8e308).
_MAX_PERIOD_S = 7 * 86_400


class AlarmNotification(NamedTuple):
    """One alarm state change on a Kinesis stream metric, from either delivery shape."""

    alarm_name: str
    alarm_arn: str
    account_id: str  # from AlarmArn (the message's AWSAccountId must agree)
    region: str  # from AlarmArn; the message's Region field is a display name ("US East (N. Virginia)")
    partition: str  # from AlarmArn: aws, aws-cn, aws-us-gov, …
    new_state: str
    old_state: str | None
    stream: str
    metrics: tuple[str, ...]
    trigger: TriggerKind
    threshold: float | None  # single-metric alarms only
    period: int | None
    state_change_time: str
    message_id: str | None


# ScheduledRun: the scale-up function's own schedule (template.yaml AlarmSweepSchedule), which runs the re-arm sweep
ScaleUpInput = AlarmNotification | Continuation | ScheduledRun | Rejected


def parse_scale_up_event(event: Any) -> list[ScaleUpInput]:
    """Every request in one Lambda event, in order. Never raises."""
    if not isinstance(event, Mapping):
        return [Rejected("not-an-object", f"event is a {type(event).__name__}, expected a JSON object")]
    if event.get("kind") == CONTINUATION_KIND:
        return [_guard(parse_up_continuation, event, None)]
    if "alarmData" in event:
        return [_guard(_parse_lambda_action, event, None)]
    if event.get("source") == "aws.events":  # EventBridge's own events: only the schedule's is taken
        return [_guard(parse_scheduled, event, None)]
    if "Records" in event:
        records = event["Records"]
        if not isinstance(records, list) or not records:
            return [Rejected("no-records", "Records is empty or not a list")]
        return [_parse_record(r) for r in records]
    keys = ", ".join(repr(str(k)[:40]) for k in sorted(event, key=str)[:8])
    what = "neither an SNS delivery, an alarm action, a continuation nor the sweep's schedule"
    return [Rejected("unknown-shape", f"{what} (keys: {keys})")]


def _parse_record(record: Any) -> ScaleUpInput:
    if not isinstance(record, Mapping):
        return Rejected("malformed-record", "a Records entry is not an object")
    sns = record.get("Sns")
    if record.get("EventSource") != "aws:sns" or not isinstance(sns, Mapping):
        return Rejected("not-sns", f"EventSource {str(record.get('EventSource'))[:40]!r} is not aws:sns")
    # SNS MessageIds are UUIDs: anything longer is cut, so a forged one cannot flood every log line it tags
    raw_id = sns.get("MessageId")
    message_id = raw_id[:MAX_MESSAGE_ID_CHARS] if isinstance(raw_id, str) else None
    message = sns.get("Message")
    if not isinstance(message, str):
        return Rejected("malformed", "Sns.Message is not a string", message_id)
    if len(message) > MAX_MESSAGE_CHARS:
        return Rejected("too-large", f"Sns.Message has {len(message)} characters (SNS max 262,144)", message_id)
    try:
        body = json.loads(message)
    except (ValueError, RecursionError) as exc:  # ValueError also covers integers longer than 4,300 digits
        return Rejected("not-json", f"Sns.Message is not JSON ({str(exc)[:80]})", message_id)
    return _guard(lambda b: _parse_sns_alarm(b, message_id), body, message_id)


def _arn_parts(arn: str) -> tuple[str, str, str, str]:
    """(partition, region, account, alarm name) of a CloudWatch alarm ARN."""
    m = _ALARM_ARN.fullmatch(arn)
    if not m or len(m.group(4)) > MAX_ALARM_NAME_CHARS:
        raise _Bad("bad-arn", f"AlarmArn {arn[:120]!r} is not a CloudWatch alarm ARN")
    return m.group(1), m.group(2), m.group(3), m.group(4)


def _alarm_name(value: str) -> str:
    if len(value) > MAX_ALARM_NAME_CHARS:  # CloudWatch's own limit: a longer one is no alarm's, and would flood logs
        raise _Bad(
            "bad-alarm-name", f"AlarmName has {len(value):,} characters; CloudWatch allows {MAX_ALARM_NAME_CHARS}"
        )
    return value


def _state(value: str) -> str:
    if value not in _STATES:
        raise _Bad("unknown-state", f"alarm state {value[:40]!r} is not OK, ALARM or INSUFFICIENT_DATA")
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        f = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return f if math.isfinite(f) else None


def _period(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_PERIOD_S:
        return None
    return value


def _query_account(query: Mapping[str, Any], key: str, account: str) -> None:
    """A metric query's own account (cross-account alarms: MetricDataQuery.AccountId) must be the alarm's: an alarm
    in this account that watches another account's stream of the same name is not this stream's load."""
    owner = query.get(key)
    if owner is not None and owner != account:
        raise _Bad(
            "other-account-metric", f"a metric query reads account {str(owner)[:20]!r}, the alarm's is {account}"
        )


# What an alarm must say to mean "more write capacity is needed" (README: "Alarms the autoscaler acts on"). Any alarm
# of the account named <prefix>/* may publish to the topic: one breached downwards (a "producer stalled" alarm, an
# anomaly band's lower side) or on another statistic (Average bytes per record) is no demand for shards.
RISING_OPERATORS = frozenset({"GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "GreaterThanUpperThreshold"})
# Utilisation is the per-period Sum (capacity is bytes and records per second × the period); any positive statistic
# of the throttle metric means writes were refused.
STATISTICS = {
    "IncomingBytes": frozenset({"sum"}),
    "IncomingRecords": frozenset({"sum"}),
    "WriteProvisionedThroughputExceeded": frozenset({"sum", "maximum", "average"}),
    # read side: bytes read are a per-period Sum like the writes; any positive statistic of the refusals means reads
    # were refused; a lag is the worst reader's (an Average or Minimum of ages hides the reader that is behind)
    READ_BYTES: frozenset({"sum"}),
    READ_THROTTLED: frozenset({"sum", "maximum", "average"}),
    ITERATOR_AGE: frozenset({"maximum"}),
}


def _rising(operator: Any, *, band: bool) -> None:
    """Refuses an alarm that does not fire on a rise: a lower or two-sided threshold, or an unreadable one."""
    if not isinstance(operator, str):
        raise _Bad("missing-field", "ComparisonOperator is missing: cannot tell which way the alarm fires")
    if operator not in RISING_OPERATORS or (band and operator != "GreaterThanUpperThreshold"):
        raise _Bad("not-rising", f"{operator[:60]} is not a rise in write demand: only Greater… alarms scale up")


def _not_missing_data(reason: Any) -> None:
    """An alarm with TreatMissingData breaching goes to ALARM when the writes stop ("no datapoints were received …
    treated as [Breaching]"): that is no demand for shards, and would take the fallback step on an idle stream."""
    if isinstance(reason, str) and "no datapoints were received" in reason.lower():
        raise _Bad("no-datapoints", f"state reason {reason[:80]!r}: missing data, not a rise in write demand")


def _crossed_upwards(reason: Any) -> None:
    """The direct alarm action carries no ComparisonOperator: its state reason says which way the threshold was
    crossed ("… greater than or equal to the threshold", "… less than the lower thresholds")."""
    text = reason.lower() if isinstance(reason, str) else ""
    if "less than" in text or "greater than" not in text:
        raise _Bad("not-rising", f"state reason {str(reason)[:80]!r} is not a rise in write demand")


def _statistic(metric: str, stat: Any) -> None:
    """Refuses a metric read on a statistic that is not its demand (see STATISTICS); unknown metrics pass on to
    _classify's refusal."""
    allowed = STATISTICS.get(metric)
    if allowed is not None and (not isinstance(stat, str) or stat.lower() not in allowed):
        raise _Bad("wrong-statistic", f"{metric} on {str(stat)[:30]}: the autoscaler reads {'/'.join(sorted(allowed))}")


def _classify(metrics: list[tuple[str, str, str]]) -> tuple[str, tuple[str, ...], TriggerKind]:
    """From (namespace, metric, stream) triples: the one stream, the metric names, and the trigger kind."""
    if not metrics:
        raise _Bad("no-metric", "the alarm names no metric")
    for namespace, _, _ in metrics:
        if namespace != KINESIS_NAMESPACE:
            raise _Bad("wrong-namespace", f"namespace {namespace[:60]!r} is not {KINESIS_NAMESPACE}")
    streams = {s for _, _, s in metrics}
    if "" in streams:
        raise _Bad("no-stream", "a metric has no StreamName dimension")
    if len(streams) != 1:
        raise _Bad("several-streams", f"the alarm spans several streams: {sorted(streams)[:4]}")
    stream = streams.pop()
    if not STREAM_NAME.fullmatch(stream):
        raise _Bad("bad-stream-name", f"{stream[:60]!r} is not a Kinesis stream name")
    names = tuple(dict.fromkeys(m for _, m, _ in metrics))
    if all(n in THROTTLE_METRICS for n in names):
        return stream, names, TriggerKind.THROTTLE
    if any(n in UTILISATION_METRICS for n in names):
        return stream, names, TriggerKind.UTILISATION
    if all(n in READ_ALARM_METRICS for n in names):
        return stream, names, TriggerKind.READ
    raise _Bad("unsupported-metric", f"metrics {list(names)[:4]} are not metrics the autoscaler acts on")


def _dims_list(dims: Any) -> dict[str, str]:
    """SNS Trigger dimensions: [{"value": …, "name": …}] (lower-case keys; tolerate Name/Value)."""
    if not isinstance(dims, list):
        raise _Bad("malformed", "Dimensions is not a list")
    out: dict[str, str] = {}
    for dim in dims:
        if not isinstance(dim, Mapping):
            raise _Bad("malformed", "a dimension is not an object")
        name, value = dim.get("name", dim.get("Name")), dim.get("value", dim.get("Value"))
        if isinstance(name, str) and isinstance(value, str):
            if name in out and out[name] != value:  # CloudWatch never repeats a dimension: forged or corrupt
                raise _Bad("several-streams" if name == "StreamName" else "malformed", f"dimension {name} given twice")
            out[name] = value
    return out


def _parse_sns_alarm(body: Any, message_id: str | None) -> AlarmNotification:
    if not isinstance(body, Mapping):
        raise _Bad("malformed", "Sns.Message is JSON but not an object")
    name = _alarm_name(_text(body, "AlarmName"))
    arn = _text(body, "AlarmArn")
    partition, region, account, _ = _arn_parts(arn)
    declared = body.get("AWSAccountId")
    if declared is not None and not isinstance(declared, str):
        raise _Bad("malformed", f"AWSAccountId is a {type(declared).__name__}, not a 12-digit string")
    if declared is not None and declared != account:
        raise _Bad("account-mismatch", f"AWSAccountId {str(declared)[:20]!r} disagrees with the AlarmArn's {account}")
    trigger = body.get("Trigger")
    if not isinstance(trigger, Mapping):
        raise _Bad("missing-field", "Trigger is missing or not an object")
    triples: list[tuple[str, str, str]] = []
    threshold: float | None = None
    period: int | None = None
    if "MetricName" in trigger:
        dims = _dims_list(trigger.get("Dimensions", []))
        metric_name = _text(trigger, "MetricName")
        _statistic(metric_name, trigger.get("Statistic") if trigger.get("StatisticType") != "ExtendedStatistic" else "")
        triples.append((str(trigger.get("Namespace", "")), metric_name, dims.get("StreamName", "")))
        threshold = _number(trigger.get("Threshold"))
        period = _period(trigger.get("Period"))
    elif isinstance(trigger.get("Metrics"), list):
        for query in trigger["Metrics"]:
            if not isinstance(query, Mapping):
                raise _Bad("malformed", "a Trigger.Metrics entry is not an object")
            _query_account(query, "AccountId", account)
            stat = query.get("MetricStat")
            if stat is None:
                continue  # an Expression query: carries no metric of its own
            metric = stat.get("Metric") if isinstance(stat, Mapping) else None
            if not isinstance(metric, Mapping):
                raise _Bad("malformed", "MetricStat.Metric is missing or not an object")
            dims = _dims_list(metric.get("Dimensions", []))
            metric_name = _text(metric, "MetricName")
            _statistic(metric_name, stat.get("Stat"))
            triples.append((str(metric.get("Namespace", "")), metric_name, dims.get("StreamName", "")))
    else:
        raise _Bad("missing-field", "Trigger has neither MetricName nor Metrics")
    stream, names, kind = _classify(triples)
    band = bool(trigger.get("ThresholdMetricId"))  # an anomaly-detection band, not a number
    _rising(trigger.get("ComparisonOperator"), band=band)
    if body.get("NewStateValue") == "ALARM":
        _not_missing_data(body.get("NewStateReason"))
    old = body.get("OldStateValue")
    return AlarmNotification(
        alarm_name=name,
        alarm_arn=arn,
        account_id=account,
        region=region,
        partition=partition,
        new_state=_state(_text(body, "NewStateValue")),
        old_state=old if isinstance(old, str) else None,
        stream=stream,
        metrics=names,
        trigger=kind,
        threshold=threshold,
        period=period,
        state_change_time=_text(body, "StateChangeTime", required=False),
        message_id=message_id,
    )


def _parse_lambda_action(event: Mapping[str, Any]) -> AlarmNotification:
    if event.get("source") != "aws.cloudwatch":
        raise _Bad("wrong-source", f"source {str(event.get('source'))[:40]!r} is not aws.cloudwatch")
    arn = _text(event, "alarmArn")
    partition, region, account, _ = _arn_parts(arn)
    declared = event.get("accountId")
    if declared is not None and not isinstance(declared, str):
        raise _Bad("malformed", f"accountId is a {type(declared).__name__}, not a 12-digit string")
    if declared is not None and declared != account:
        raise _Bad("account-mismatch", f"accountId {str(declared)[:20]!r} disagrees with the alarmArn's {account}")
    data = event.get("alarmData")
    if not isinstance(data, Mapping):
        raise _Bad("missing-field", "alarmData is not an object")
    state = data.get("state")
    if not isinstance(state, Mapping):
        raise _Bad("missing-field", "alarmData.state is missing")
    previous = data.get("previousState")
    config = data.get("configuration")
    if not isinstance(config, Mapping) or not isinstance(config.get("metrics"), list):
        raise _Bad("missing-field", "alarmData.configuration.metrics is missing (composite alarms are not supported)")
    triples: list[tuple[str, str, str]] = []
    period: int | None = None
    for query in config["metrics"]:
        if not isinstance(query, Mapping):
            raise _Bad("malformed", "a configuration.metrics entry is not an object")
        _query_account(query, "accountId", account)
        stat = query.get("metricStat")
        if stat is None:
            continue
        metric = stat.get("metric") if isinstance(stat, Mapping) else None
        if not isinstance(metric, Mapping):
            raise _Bad("malformed", "metricStat.metric is missing or not an object")
        dims = metric.get("dimensions", {})
        if not isinstance(dims, Mapping):
            raise _Bad("malformed", "metricStat.metric.dimensions is not an object")
        stream = dims.get("StreamName")
        metric_name = _text(metric, "name")
        _statistic(metric_name, stat.get("stat"))
        triples.append((str(metric.get("namespace", "")), metric_name, stream if isinstance(stream, str) else ""))
        period = _period(stat.get("period")) if len(config["metrics"]) == 1 else None
    stream, names, kind = _classify(triples)
    if state.get("value") == "ALARM":
        _not_missing_data(state.get("reason"))
        _crossed_upwards(state.get("reason"))
    threshold = _reason_threshold(state.get("reasonData")) if len(triples) == 1 else None
    return AlarmNotification(
        alarm_name=_alarm_name(_text(data, "alarmName")),
        alarm_arn=arn,
        account_id=account,
        region=region,
        partition=partition,
        new_state=_state(_text(state, "value")),
        old_state=previous.get("value")
        if isinstance(previous, Mapping) and isinstance(previous.get("value"), str)
        else None,
        stream=stream,
        metrics=names,
        trigger=kind,
        threshold=threshold,
        period=period,
        state_change_time=_text(state, "timestamp", required=False) or _text(event, "time", required=False),
        message_id=None,
    )


def _reason_threshold(reason_data: Any) -> float | None:
    """alarmData.state.reasonData is a JSON string that carries the threshold; absent or odd → unknown."""
    if not isinstance(reason_data, str) or len(reason_data) > MAX_MESSAGE_CHARS:
        return None
    try:
        parsed = json.loads(reason_data)
    except (ValueError, RecursionError):
        return None
    return _number(parsed.get("threshold")) if isinstance(parsed, Mapping) else None


def screen(
    request: AlarmNotification,
    *,
    account_id: str,
    region: str,
    managed: frozenset[str] | tuple[str, ...],
    partition: str = "aws",
    now: float | None = None,
    read_side: frozenset[str] | tuple[str, ...] = (),
) -> Rejected | None:
    """Whether an alarm may be acted on here: ALARM state, this partition, account and region, a stream in the
    config, (given `now`) a state change recent enough to be evidence, and for a read-side alarm a stream whose
    read side the config manages (`read_side`)."""
    if request.new_state != "ALARM":
        return Rejected(
            "not-alarm", f"{request.alarm_name} went to {request.new_state}: only ALARM acts", request.message_id
        )
    if request.partition != partition:
        return Rejected(
            "other-partition",
            f"{request.alarm_name} is in partition {request.partition}, this function runs in {partition}",
            request.message_id,
        )
    if request.account_id != account_id:
        return Rejected(
            "other-account",
            f"{request.alarm_name} belongs to account {request.account_id}, this function runs in {account_id}",
            request.message_id,
        )
    if request.region != region:
        return Rejected(
            "other-region",
            f"{request.alarm_name} is in {request.region}, this function runs in {region}",
            request.message_id,
        )
    age = notification_age(request, now) if now is not None else None
    if age is not None and age > MAX_NOTIFICATION_AGE_SECONDS:
        return Rejected(
            "stale-notification",
            f"{request.alarm_name} changed state {age / 3600:.1f} h ago (StateChangeTime {request.state_change_time}); "
            f"Lambda keeps an event at most {MAX_NOTIFICATION_AGE_SECONDS // 3600} h: not evidence of the stream now",
            request.message_id,
        )
    if request.stream not in managed:
        return Rejected(
            "unknown-stream",
            f"stream {request.stream!r} is not in the config; add it to streams.yaml to manage it",
            request.message_id,
        )
    if request.trigger is TriggerKind.READ and request.stream not in read_side:
        return Rejected(
            "read-side-off",
            f"{request.alarm_name} is a read-side alarm and {request.stream!r} does not manage its read side; set "
            "read_side: true for it in streams.yaml to scale for its readers",
            request.message_id,
        )
    return None


def notification_age(note: AlarmNotification, now: float) -> float | None:
    """Seconds since the alarm changed state, from StateChangeTime ("2020-12-04T03:57:01.659+0000"); None when it
    cannot be read (then the notification is judged without it)."""
    try:
        changed = datetime.strptime(note.state_change_time, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            changed = datetime.fromisoformat(note.state_change_time)
        except ValueError:
            return None
    if changed.tzinfo is None:
        return None
    return now - changed.timestamp()
