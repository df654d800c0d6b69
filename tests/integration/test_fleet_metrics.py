"""fleet_series on moto with freezegun (a 24 h window of 5-minute Sums) and on Stubber (batching, paging)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from botocore.stub import ANY, Stubber
from freezegun import freeze_time
from moto import mock_aws

from autoscaler.adapters.aws.cloudwatch import MetricsAdapter
from autoscaler.core.errors import MetricsUnavailable

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 21, 2, 3, 0, tzinfo=UTC)


def client() -> Any:
    return botocore.session.get_session().create_client("cloudwatch", region_name="us-east-1")


def test_24h_window_of_5_minute_sums_on_moto() -> None:
    with mock_aws(), freeze_time(NOW):
        c = client()
        end = int(NOW.timestamp()) // 300 * 300 + 300  # the period under way, as the service aligns it
        start = end - 86_400
        data = []
        for minutes_ago in range(1, 25 * 60):  # a datapoint a minute for 25 h: value 1 each
            at = NOW - timedelta(minutes=minutes_ago)
            for stream in ("a", "b"):
                data.append(
                    {
                        "MetricName": "IncomingBytes",
                        "Dimensions": [{"Name": "StreamName", "Value": stream}],
                        "Timestamp": at,
                        "Value": 1.0,
                    }
                )
        for i in range(0, len(data), 500):
            c.put_metric_data(Namespace="AWS/Kinesis", MetricData=data[i : i + 500])
        out = MetricsAdapter(c).fleet_series(
            ["a", "b", "quiet"], ["IncomingBytes", "IncomingRecords"], start=start, end=end, period_seconds=300
        )
    a = out["a"]["IncomingBytes"]
    assert min(a) >= start and max(a) < end
    assert all(t % 300 == 0 for t in a), "buckets start at StartTime, which is aligned to the period"
    assert len(a) == 288  # every 5-minute period of the 24 h window has a datapoint
    assert sum(a.values()) == pytest.approx(24 * 60 - 1, abs=5)  # minute datapoints summed into their periods
    assert out["quiet"] == {"IncomingBytes": {}, "IncomingRecords": {}}
    assert out["a"]["IncomingRecords"] == {}


def test_fleet_of_500_streams_takes_two_calls_and_follows_next_token() -> None:
    c = client()
    streams = [f"s{i}" for i in range(500)]
    t0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    params = {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampAscending"}
    with Stubber(c) as stub:
        # first batch (queries 0–499): answered in two pages, as AWS does past 100,800 datapoints
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [{"Id": "m0_0", "StatusCode": "PartialData", "Timestamps": [t0], "Values": [5.0]}],
                "NextToken": "p2",
            },
            params,
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {
                        "Id": "m0_0",
                        "StatusCode": "Complete",
                        "Timestamps": [t0 + timedelta(minutes=5)],
                        "Values": [6.0],
                    },
                    {"Id": "m249_1", "StatusCode": "Complete", "Timestamps": [t0], "Values": [7.0]},
                ]
            },
            {**params, "NextToken": "p2"},
        )
        # second batch (queries 500–999)
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "m499_1", "StatusCode": "Complete", "Timestamps": [t0], "Values": [8.0]}]},
            params,
        )
        out = MetricsAdapter(c).fleet_series(
            streams, ["IncomingBytes", "IncomingRecords"], start=0, end=300, period_seconds=300
        )
        stub.assert_no_pending_responses()
    base = int(t0.timestamp())
    assert out["s0"]["IncomingBytes"] == {base: 5.0, base + 300: 6.0}
    assert out["s249"]["IncomingRecords"] == {base: 7.0}
    assert out["s499"]["IncomingRecords"] == {base: 8.0}


def test_partial_data_without_a_next_page_is_not_a_picture() -> None:
    c = client()
    with Stubber(c) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": [{"Id": "m0_0", "StatusCode": "PartialData"}]})
        with pytest.raises(MetricsUnavailable, match="PartialData"):
            MetricsAdapter(c).fleet_series(["a"], ["IncomingBytes"], start=0, end=300, period_seconds=300)
