"""Create what the autoscaler needs on a local emulator: streams at their desired count, the cooldown table,
the alarm topic and each stream's alarms. Idempotent. (Production uses template.yaml and create-streams.)"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from autoscaler.adapters.aws.cloudwatch import AlarmsAdapter
from autoscaler.adapters.aws.errors import error_code
from autoscaler.app.alarm_sync import stream_alarm_specs
from autoscaler.config import AutoscalerConfig, StreamConfig
from autoscaler.core.limits import (
    INCOMING_BYTES,
    INCOMING_RECORDS,
    ITERATOR_AGE,
    KINESIS_NAMESPACE,
    READ_BYTES,
    READ_CALLS,
    READ_THROTTLED,
)


@dataclass(frozen=True)
class LocalStack:
    table: str
    topic_arn: str


def create_table(dynamodb: Any, table: str, *, timeout: float = 30.0) -> bool:
    """The cooldown table, ACTIVE, with TTL on `expires_at` if the endpoint has TTL. Idempotent. Returns whether TTL
    is on: dynalite has no UpdateTimeToLive (UnknownOperationException, a code AWS never returns for it), and the
    lock never relies on TTL (aws/cooldown.py: cleanup only), so a table without it is still a working table."""
    try:
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "stream", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "stream", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
    # A new table is CREATING for a while (AWS, dynalite; moto is ACTIVE at once), and UpdateTimeToLive on it is a
    # ResourceInUseException.
    deadline = time.monotonic() + timeout
    while dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {table} not ACTIVE after {timeout:.0f} s")
        time.sleep(0.1)
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"].get("TimeToLiveStatus")
    if ttl in ("ENABLED", "ENABLING"):
        return True  # enabling it again is a ValidationException on AWS
    try:
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
    except ClientError as exc:
        if error_code(exc) == "UnknownOperationException":
            return False
        raise
    return True


def create_stream(kinesis: Any, name: str, shards: int) -> bool:
    """True if created, False if it already existed. Waits until ACTIVE."""
    try:
        kinesis.create_stream(StreamName=name, ShardCount=shards, StreamModeDetails={"StreamMode": "PROVISIONED"})
        created = True
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
        created = False
    for _ in range(100):
        status = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
        if status == "ACTIVE":
            break
        time.sleep(0.1)
    return created


def ensure_alarms(cloudwatch: Any, cfg: AutoscalerConfig, stream: StreamConfig, shards: int, topic_arn: str) -> None:
    specs = stream_alarm_specs(cfg.alarm_name_prefix, stream, shards)
    AlarmsAdapter(cloudwatch).ensure_alarms(specs, [topic_arn])


def bootstrap(clients: Any, cfg: AutoscalerConfig, *, table: str, topic: str) -> LocalStack:
    create_table(clients.dynamodb, table)
    topic_arn = clients.sns.create_topic(Name=topic)["TopicArn"]
    for stream in cfg.streams:
        create_stream(clients.kinesis, stream.name, stream.desired_shards)
        ensure_alarms(clients.cloudwatch, cfg, stream, stream.desired_shards, topic_arn)
    return LocalStack(table=table, topic_arn=topic_arn)


@dataclass(frozen=True)
class LocalClients:
    kinesis: Any
    cloudwatch: Any
    dynamodb: Any
    sns: Any


def local_clients(
    endpoint: str,
    region: str = "us-east-1",
    *,
    endpoints: Mapping[str, str] | None = None,
    fake_credentials: bool = False,
) -> LocalClients:
    """Clients on `endpoint`, or on `endpoints[service]` for the services it names (e.g. {"kinesis": kinesis-mock}).
    `fake_credentials`: moto's test keys instead of the credential chain, so an operator's shell without AWS
    credentials (or with real ones) still reaches only the emulator, signed with keys that are worth nothing."""
    import botocore.session

    from autoscaler.local.moto_server import FAKE_ENV

    session = botocore.session.get_session()
    keys = (
        {
            "aws_access_key_id": FAKE_ENV["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": FAKE_ENV["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": FAKE_ENV["AWS_SESSION_TOKEN"],
        }
        if fake_credentials
        else {}
    )

    def make(name: str) -> Any:
        url = (endpoints or {}).get(name, endpoint)
        return session.create_client(name, region_name=region, endpoint_url=url, **keys)

    return LocalClients(make("kinesis"), make("cloudwatch"), make("dynamodb"), make("sns"))


def write_burst(
    cloudwatch: Any,
    stream: str,
    *,
    bytes_per_minute: float,
    records_per_minute: float | None = None,
    minutes: int = 5,
) -> None:
    """One-minute Sum datapoints for the last `minutes` whole minutes, as Kinesis would publish them (moto accepts
    PutMetricData in AWS/Kinesis, which AWS itself would refuse)."""
    now = int(time.time()) // 60 * 60
    write_datapoints(
        cloudwatch,
        stream,
        [(now - 60 * i, bytes_per_minute, records_per_minute) for i in range(1, minutes + 1)],
    )


def write_datapoints(cloudwatch: Any, stream: str, points: list[tuple[int, float, float | None]]) -> None:
    """(epoch, IncomingBytes, IncomingRecords or None) Sum datapoints, 500 metric values per PutMetricData call."""
    from datetime import UTC, datetime

    dims = [{"Name": "StreamName", "Value": stream}]
    data: list[dict[str, Any]] = []
    for at, bytes_, records in points:
        ts = datetime.fromtimestamp(at, tz=UTC)
        data.append({"MetricName": INCOMING_BYTES, "Dimensions": dims, "Timestamp": ts, "Value": bytes_})
        if records is not None:
            data.append({"MetricName": INCOMING_RECORDS, "Dimensions": dims, "Timestamp": ts, "Value": records})
    for i in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=KINESIS_NAMESPACE, MetricData=data[i : i + 500])


def write_quiet_day(cloudwatch: Any, stream: str, *, utilisation: float, shards: int, hours: int = 25) -> None:
    """A 5-minute Sum every 5 minutes for the last `hours`, at `utilisation` of `shards` shards' byte capacity."""
    now = int(time.time()) // 300 * 300
    per_period = utilisation * shards * 1_048_576 * 300
    write_datapoints(cloudwatch, stream, [(now - 300 * i, per_period, 100.0) for i in range(0, hours * 12)])


def write_reads(
    cloudwatch: Any,
    stream: str,
    *,
    bytes_per_minute: float,
    calls_per_minute: float,
    throttled_per_minute: float = 0.0,
    iterator_age_ms: float = 0.0,
    minutes: int = 5,
) -> None:
    """The read side's one-minute datapoints for the last `minutes` whole minutes, as Kinesis publishes them:
    GetRecords.Bytes and .Success and ReadProvisionedThroughputExceeded (Sums), GetRecords.IteratorAgeMilliseconds
    (the worst reader's age; read back as Maximum). moto derives none of these from GetRecords calls."""
    from datetime import UTC, datetime

    dims = [{"Name": "StreamName", "Value": stream}]
    now = int(time.time()) // 60 * 60
    data: list[dict[str, Any]] = []
    for i in range(1, minutes + 1):
        ts = datetime.fromtimestamp(now - 60 * i, tz=UTC)
        for metric, value in (
            (READ_BYTES, bytes_per_minute),
            (READ_CALLS, calls_per_minute),
            (READ_THROTTLED, throttled_per_minute),
            (ITERATOR_AGE, iterator_age_ms),
        ):
            data.append({"MetricName": metric, "Dimensions": dims, "Timestamp": ts, "Value": value})
    for i in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=KINESIS_NAMESPACE, MetricData=data[i : i + 500])
