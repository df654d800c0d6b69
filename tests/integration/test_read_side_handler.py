"""The read side through the scale-up Lambda handler on moto (issue 15): a real-shaped read-throttled alarm
notification scales a stream whose read side is managed, sized from read demand, with its six alarms retuned; the
same alarm for a stream that does not manage its read side is refused with no AWS call; a growing lag with reads far
below the limit is reported and nothing is resharded. moto derives no CloudWatch metric from GetRecords: the read
datapoints are written as Kinesis would publish them (autoscaler/local/setup.py write_reads)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from autoscaler.core.capacity import AlarmKind, alarm_name
from autoscaler.local.alarm_events import FakeLambdaContext
from autoscaler.local.setup import create_stream, create_table, ensure_alarms, write_burst, write_reads
from tests.conftest import load_event
from tests.handler_harness import CallRecorder, load_handler

pytestmark = pytest.mark.integration
ACCOUNT = "123456789012"
MiB = 1_048_576
READ_SIDE = (
    "streams:\n  - {name: orders, min_shards: 2, max_shards: 64, desired_shards: 4, read_side: true, "
    "read_consumers: 2}\n"
)
WRITE_ONLY = "streams:\n  - {name: orders, min_shards: 2, max_shards: 64, desired_shards: 4}\n"
WRITES = frozenset({"SplitShard", "MergeShards", "UpdateShardCount", "PutMetricAlarm", "SetAlarmState", "UpdateItem"})


class Loaded(CallRecorder):
    writes_of = WRITES

    def __call__(self, event: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.module.handler(event, FakeLambdaContext(ACCOUNT))["results"]
        return result


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():

        def load(config_text: str) -> Loaded:
            module = load_handler(
                "autoscaler.handlers.scale_up",
                config_text,
                tmp_path,
                monkeypatch,
                COOLDOWN_TABLE="cd",
                AWS_LAMBDA_FUNCTION_NAME="kinesis-autoscaler-scale-up",
            )
            create_table(module.CLIENTS.dynamodb, "cd")
            create_stream(module.CLIENTS.kinesis, "orders", 4)
            ensure_alarms(module.CLIENTS.cloudwatch, module.CONFIG, module.CONFIG.streams[0], 4, "arn:t")
            # writes at 30% of 4 shards: the writers alone need ⌈0.3 × 4 × 2⌉ = 3, fewer than the 4 open
            write_burst(module.CLIENTS.cloudwatch, "orders", bytes_per_minute=0.3 * 4 * MiB * 60, minutes=3)
            return Loaded(module)

        yield load
    sys.modules.pop("autoscaler.handlers.scale_up", None)


def _topic(run: Loaded) -> str:
    """A notification topic for the loaded handler (the template sets NOTIFY_TOPIC_ARN to its NotificationTopic)."""
    from autoscaler.adapters.aws.clients import build_client

    topic: str = build_client("sns", "us-east-1").create_topic(Name="notify")["TopicArn"]
    run.module.NOTIFIER.topic_arn = topic
    return topic


def open_shards(loaded: Loaded) -> int:
    shards = loaded.module.CLIENTS.kinesis.list_shards(StreamName="orders")["Shards"]
    return sum(1 for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"])


def test_a_read_throttled_alarm_scales_for_the_readers(env: Any) -> None:
    run = env(READ_SIDE)
    # 4 shards serve 4 × 2 MiB/s × 60 = 503,316,480 bytes a minute to their polling consumers; read at 90% in 600
    # calls (754,975 bytes a call) with 200 calls refused: demand 0.9 + 200 × 754,975 / 503,316,480 = 1.2 →
    # ⌈1.2 × 4 × 2⌉ = 10 shards (the 2 declared consumers × 30% of writes = 0.3 ask for less)
    write_reads(
        run.module.CLIENTS.cloudwatch,
        "orders",
        bytes_per_minute=0.9 * 4 * 2 * MiB * 60,
        calls_per_minute=600,
        throttled_per_minute=200,
        iterator_age_ms=2_000,
        minutes=3,
    )
    from moto.sns.models import sns_backends

    topic = _topic(run)
    (result,) = run(load_event("sns-alarm-read-throttled.json"))
    _, message, subject, *_ = sns_backends[ACCOUNT]["us-east-1"].topics[topic].sent_notifications[0]
    assert subject == "kinesis-autoscaler: orders scaled up 4 -> 10 for readers"
    assert message.startswith("orders scaled up 4 -> 10 shards for its readers in ") and "read throttling" in message
    assert (result["outcome"], result["reason"], result["current"], result["after"]) == (
        "scaled",
        "read_demand",
        4,
        10,
    ), result
    assert open_shards(run) == 10
    cloudwatch = run.module.CLIENTS.cloudwatch
    read_bytes = alarm_name("kinesis-autoscaler", "orders", AlarmKind.READ_BYTES)
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[read_bytes])["MetricAlarms"]
    assert alarm["Threshold"] == pytest.approx(0.8 * 10 * 2 * MiB * 60)  # retuned with the count
    age = alarm_name("kinesis-autoscaler", "orders", AlarmKind.ITERATOR_AGE)
    (age_alarm,) = cloudwatch.describe_alarms(AlarmNames=[age])["MetricAlarms"]
    assert (age_alarm["Statistic"], age_alarm["Threshold"]) == ("Maximum", 60_000.0)


def test_a_read_alarm_for_a_stream_without_read_side_touches_nothing(env: Any) -> None:
    run = env(WRITE_ONLY)
    (result,) = run(load_event("sns-alarm-read-throttled.json"))
    assert (result["outcome"], result["reason"]) == ("ignored", "read-side-off")
    assert run.calls == [] and open_shards(run) == 4


def test_a_growing_lag_with_reads_far_below_the_limit_is_the_consumers(env: Any) -> None:
    run = env(READ_SIDE)
    write_reads(
        run.module.CLIENTS.cloudwatch,
        "orders",
        bytes_per_minute=0.15 * 4 * 2 * MiB * 60,
        calls_per_minute=480,
        minutes=3,
    )
    # the worst reader's age rose 64 s → 122 s → 181 s (bound 60 s): growing, with reads at 15% (and the 2 declared
    # consumers × 30% of writes = 30%): the consumer is slow, not the stream
    now = int(time.time()) // 60 * 60
    run.module.CLIENTS.cloudwatch.put_metric_data(
        Namespace="AWS/Kinesis",
        MetricData=[
            {
                "MetricName": "GetRecords.IteratorAgeMilliseconds",
                "Dimensions": [{"Name": "StreamName", "Value": "orders"}],
                "Timestamp": datetime.fromtimestamp(now - 60 * i, tz=UTC),
                "Value": age,
            }
            for i, age in ((3, 64_000.0), (2, 122_000.0), (1, 181_000.0))
        ],
    )
    (result,) = run(load_event("sns-alarm-iterator-age.json"))
    assert (result["outcome"], result["reason"]) == ("noop", "consumer_lag"), result
    assert "the consumer is slow" in result["decision"]
    assert open_shards(run) == 4 and not {"SplitShard", "UpdateShardCount"} & set(run.writes)
