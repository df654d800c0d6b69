"""KinesisAdapter: AWS-correct pagination and error mapping on botocore's Stubber (moto is loose there), and the
happy path on moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from autoscaler.adapters.aws.kinesis import KinesisAdapter
from autoscaler.adapters.fakes.clock import SimClock
from autoscaler.core.errors import (
    AwsCallFailed,
    InvalidRequest,
    QuotaExhausted,
    StreamBusy,
    StreamNotFound,
    ThrottledError,
    UpdateShardCountLimit,
)
from autoscaler.core.model import StreamMode

pytestmark = pytest.mark.integration


def client() -> Any:
    return botocore.session.get_session().create_client("kinesis", region_name="us-east-1")


def shard(i: int, start: int, end: int, closed: bool = False) -> dict[str, Any]:
    rng: dict[str, str] = {"StartingSequenceNumber": "1"}
    if closed:
        rng["EndingSequenceNumber"] = "2"
    return {
        "ShardId": f"shardId-{i:012d}",
        "HashKeyRange": {"StartingHashKey": str(start), "EndingHashKey": str(end)},
        "SequenceNumberRange": rng,
    }


@pytest.fixture
def stubbed() -> Iterator[tuple[KinesisAdapter, Stubber, SimClock]]:
    c = client()
    clock = SimClock()
    with Stubber(c) as stub:
        yield KinesisAdapter(c, clock), stub, clock
        stub.assert_no_pending_responses()


def test_list_shards_sends_next_token_alone_on_later_pages(stubbed: Any) -> None:
    adapter, stub, _ = stubbed
    half = 2**127
    stub.add_response(
        "list_shards",
        {"Shards": [shard(0, 0, half - 1)], "NextToken": "t1"},
        {"StreamName": "orders", "ShardFilter": {"Type": "AT_LATEST"}, "MaxResults": 1000},
    )
    stub.add_response(
        "list_shards",
        {"Shards": [shard(1, half, 2**128 - 1), shard(2, 0, 5, closed=True)], "NextToken": "t2"},
        {"NextToken": "t1", "MaxResults": 1000},  # AWS: InvalidArgumentException if StreamName is sent too
    )
    stub.add_response("list_shards", {"Shards": []}, {"NextToken": "t2", "MaxResults": 1000})
    shards = adapter.list_open_shards("orders")
    assert [s.shard_id for s in shards] == ["shardId-000000000000", "shardId-000000000001"]  # CLOSED one dropped


def test_expired_next_token_restarts_the_listing_once(stubbed: Any) -> None:
    adapter, stub, _ = stubbed
    first = {"StreamName": "orders", "ShardFilter": {"Type": "AT_LATEST"}, "MaxResults": 1000}
    stub.add_response("list_shards", {"Shards": [shard(0, 0, 10)], "NextToken": "old"}, first)
    stub.add_client_error(
        "list_shards", "ExpiredNextTokenException", expected_params={"NextToken": "old", "MaxResults": 1000}
    )
    stub.add_response("list_shards", {"Shards": [shard(0, 0, 2**128 - 1)]}, first)
    assert len(adapter.list_open_shards("orders")) == 1


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ResourceNotFoundException", StreamNotFound),
        ("ResourceInUseException", StreamBusy),
        ("InvalidArgumentException", InvalidRequest),
        ("AccessDeniedException", AwsCallFailed),
    ],
)
def test_split_errors_map_to_project_exceptions(stubbed: Any, code: str, error: type[Exception]) -> None:
    adapter, stub, _ = stubbed
    stub.add_client_error("split_shard", code)
    with pytest.raises(error):
        adapter.split_shard("orders", "shardId-000000000000", 5)


def test_limit_exceeded_with_quota_room_is_tps_and_retried(stubbed: Any) -> None:
    adapter, stub, clock = stubbed
    stub.add_client_error("split_shard", "LimitExceededException")
    stub.add_response(
        "describe_limits",
        {"ShardLimit": 500, "OpenShardCount": 10, "OnDemandStreamCount": 0, "OnDemandStreamCountLimit": 50},
    )
    stub.add_response("split_shard", {}, {"StreamName": "orders", "ShardToSplit": "s", "NewStartingHashKey": "7"})
    adapter.split_shard("orders", "s", 7)
    assert clock.slept > 0  # backed off before the retry


def test_limit_exceeded_at_the_shard_quota_is_final(stubbed: Any) -> None:
    adapter, stub, _ = stubbed
    stub.add_client_error("split_shard", "LimitExceededException")
    stub.add_response(
        "describe_limits",
        {"ShardLimit": 10, "OpenShardCount": 10, "OnDemandStreamCount": 0, "OnDemandStreamCountLimit": 50},
    )
    with pytest.raises(QuotaExhausted, match="request a Kinesis shard limit increase"):
        adapter.split_shard("orders", "s", 7)


def test_tps_retries_are_bounded(stubbed: Any) -> None:
    adapter, stub, _ = stubbed
    limits = {"ShardLimit": 500, "OpenShardCount": 1, "OnDemandStreamCount": 0, "OnDemandStreamCountLimit": 50}
    for _ in range(5):
        stub.add_client_error("split_shard", "LimitExceededException")
        stub.add_response("describe_limits", limits)
    with pytest.raises(ThrottledError):
        adapter.split_shard("orders", "s", 7)


def test_update_shard_count_limit_means_fall_back(stubbed: Any) -> None:
    adapter, stub, _ = stubbed
    stub.add_client_error("update_shard_count", "LimitExceededException")
    stub.add_response(
        "describe_limits",
        {"ShardLimit": 500, "OpenShardCount": 4, "OnDemandStreamCount": 0, "OnDemandStreamCountLimit": 50},
    )
    with pytest.raises(UpdateShardCountLimit):
        adapter.update_shard_count("orders", 8)


def summary(status: str, mode: str = "PROVISIONED", metrics: list[str] | None = None) -> dict[str, Any]:
    return {
        "StreamDescriptionSummary": {
            "StreamName": "orders",
            "StreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
            "StreamStatus": status,
            "StreamModeDetails": {"StreamMode": mode},
            "RetentionPeriodHours": 24,
            "StreamCreationTimestamp": "2026-01-01T00:00:00Z",
            "EnhancedMonitoring": [{"ShardLevelMetrics": metrics}] if metrics else [],
            "OpenShardCount": 4,
        }
    }


def test_wait_until_active_polls_with_backoff(stubbed: Any) -> None:
    adapter, stub, clock = stubbed
    for status in ("UPDATING", "UPDATING", "UPDATING", "ACTIVE"):
        stub.add_response("describe_stream_summary", summary(status))
    adapter.wait_until_active("orders", 120)
    assert 0 < clock.slept <= 2 + 4 + 8  # jittered 2 s, 4 s, 8 s at most


def test_wait_until_active_gives_up_at_the_timeout(stubbed: Any) -> None:
    adapter, stub, clock = stubbed
    for _ in range(30):
        stub.add_response("describe_stream_summary", summary("UPDATING"))
    start = clock.now()
    with pytest.raises(StreamBusy):
        adapter.wait_until_active("orders", 30)
    assert clock.now() - start == pytest.approx(30)
    stub._queue.clear()  # the remaining responses were not needed


def test_describe_reads_mode_and_shard_level_metrics(stubbed: Any) -> None:
    adapter, stub, _ = stubbed
    stub.add_response("describe_stream_summary", summary("ACTIVE", "ON_DEMAND", ["IncomingBytes"]))
    desc = adapter.describe("orders")
    assert desc.mode is StreamMode.ON_DEMAND and "IncomingBytes" in desc.shard_level_metrics


def test_split_and_update_on_moto() -> None:
    with mock_aws():
        c = client()
        c.create_stream(StreamName="orders", ShardCount=2)
        adapter = KinesisAdapter(c, SimClock())
        shards = adapter.list_open_shards("orders")
        target = shards[0]
        adapter.split_shard("orders", target.shard_id, target.start + target.width // 2)
        adapter.wait_until_active("orders", 10)
        after = adapter.list_open_shards("orders")
        assert len(after) == 3 and target.shard_id not in {s.shard_id for s in after}
        adapter.update_shard_count("orders", 6)
        assert len(adapter.list_open_shards("orders")) == 6
        with pytest.raises(StreamNotFound):
            adapter.describe("nope")


def test_kinesis_client_leaves_limit_exceeded_to_the_adapter() -> None:
    """botocore's standard mode would retry LimitExceededException (quota: final) 4 more times; ours does not."""
    from autoscaler.adapters.aws.clients import build_clients

    clients = build_clients("us-east-1")
    assert clients.kinesis.meta.config.retries["total_max_attempts"] == 1
    assert clients.cloudwatch.meta.config.retries["total_max_attempts"] == 5


def test_reads_retry_tps_throttling(stubbed: Any) -> None:
    adapter, stub, clock = stubbed
    stub.add_client_error("describe_stream_summary", "LimitExceededException")
    stub.add_response("describe_stream_summary", summary("ACTIVE"))
    assert adapter.describe("orders").status == "ACTIVE"
    assert clock.slept > 0


def test_describe_all_reads_modes_from_list_streams_pages(stubbed: Any) -> None:
    adapter, stub, _ = stubbed

    def summary_of(name: str, mode: str) -> dict[str, Any]:
        return {
            "StreamName": name,
            "StreamARN": f"arn:aws:kinesis:us-east-1:123456789012:stream/{name}",
            "StreamStatus": "ACTIVE",
            "StreamModeDetails": {"StreamMode": mode},
            "StreamCreationTimestamp": "2026-01-01T00:00:00Z",
        }

    stub.add_response(
        "list_streams",
        {
            "StreamNames": ["a"],
            "HasMoreStreams": True,
            "NextToken": "n",
            "StreamSummaries": [summary_of("a", "PROVISIONED")],
        },
        {"Limit": 10_000},
    )
    stub.add_response(
        "list_streams",
        {"StreamNames": ["b"], "HasMoreStreams": False, "StreamSummaries": [summary_of("b", "ON_DEMAND")]},
        {"NextToken": "n"},
    )
    modes = {name: d.mode for name, d in adapter.describe_all().items()}
    assert modes == {"a": StreamMode.PROVISIONED, "b": StreamMode.ON_DEMAND}


def test_describe_all_on_the_older_list_streams_shape(stubbed: Any) -> None:
    """ListStreams before StreamSummaries existed (kinesis-mock, hence LocalStack): names only, paged with
    ExclusiveStartStreamName (HasMoreStreams without a NextToken). Each name is described; one deleted between the
    listing and its description is left out."""
    adapter, stub, _ = stubbed
    stub.add_response("list_streams", {"StreamNames": ["a", "b"], "HasMoreStreams": True}, {"Limit": 10_000})
    stub.add_response(
        "list_streams",
        {"StreamNames": ["c"], "HasMoreStreams": False},
        {"Limit": 10_000, "ExclusiveStartStreamName": "b"},
    )
    for name, mode in (("a", "PROVISIONED"), ("b", "ON_DEMAND")):
        body = summary("UPDATING", mode)
        body["StreamDescriptionSummary"]["StreamName"] = name
        stub.add_response("describe_stream_summary", body, {"StreamName": name})
    stub.add_client_error("describe_stream_summary", "ResourceNotFoundException", expected_params={"StreamName": "c"})
    found = adapter.describe_all()
    assert {n: (d.mode, d.status) for n, d in found.items()} == {
        "a": (StreamMode.PROVISIONED, "UPDATING"),
        "b": (StreamMode.ON_DEMAND, "UPDATING"),
    }


def test_describe_all_on_moto() -> None:
    with mock_aws():
        c = client()
        c.create_stream(StreamName="p", ShardCount=1)
        c.create_stream(StreamName="o", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        found = KinesisAdapter(c, SimClock()).describe_all()
        assert (found["p"].mode, found["o"].mode) == (StreamMode.PROVISIONED, StreamMode.ON_DEMAND)
