"""Metrics and alarms adapters: windows aligned to the period (moto + freezegun), GetMetricData batching and
paging (Stubber), PutMetricAlarm keeping everything but the threshold (moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from botocore.stub import ANY, Stubber
from freezegun import freeze_time
from moto import mock_aws

from autoscaler.adapters.aws.cloudwatch import AlarmsAdapter, MetricsAdapter
from autoscaler.core.capacity import alarm_specs
from autoscaler.core.errors import AlarmNotFound, MetricsUnavailable
from autoscaler.core.model import MetricSeries

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 20, 14, 3, 25, tzinfo=UTC)


def client() -> Any:
    return botocore.session.get_session().create_client("cloudwatch", region_name="us-east-1")


def put(c: Any, metric: str, at: datetime, value: float, shard: str | None = None) -> None:
    dims = [{"Name": "StreamName", "Value": "orders"}]
    if shard:
        dims.append({"Name": "ShardId", "Value": shard})
    c.put_metric_data(
        Namespace="AWS/Kinesis",
        MetricData=[{"MetricName": metric, "Dimensions": dims, "Timestamp": at, "Value": value}],
    )


def test_write_metrics_reads_aligned_raw_sums() -> None:
    with mock_aws(), freeze_time(NOW):
        c = client()
        minute = NOW.replace(second=0)
        for i, value in enumerate([100.0, 200.0, 300.0], start=1):  # 14:02, 14:01, 14:00
            put(c, "IncomingBytes", minute - timedelta(minutes=i), value)
            put(c, "IncomingBytes", minute - timedelta(minutes=i, seconds=-20), 1.0)  # same minute: summed
        put(c, "IncomingBytes", minute - timedelta(minutes=7), 9e9)  # outside the 5-minute window
        put(c, "IncomingRecords", minute - timedelta(minutes=1), 50.0)
        put(c, "WriteProvisionedThroughputExceeded", minute - timedelta(minutes=2), 40.0)  # refused records, 14:01
        put(c, "IncomingBytes", minute - timedelta(minutes=1), 70.0, shard="shardId-000000000001")
        m = MetricsAdapter(c).write_metrics(
            "orders",
            end=NOW.timestamp(),
            lookback_seconds=300,
            period_seconds=60,
            shard_ids=["shardId-000000000000", "shardId-000000000001"],
        )
        # window [13:58, 14:03): oldest first, 14:00 → 300 + 1, 14:01 → 200 + 1, 14:02 → 100 + 1
        assert m.incoming_bytes.values == (301.0, 201.0, 101.0)
        assert m.incoming_records.values == (50.0,)
        assert m.throttled_records == MetricSeries(60, (40.0,))  # the third query ("t"): demand counts refusals
        assert m.shard_incoming_bytes == {"shardId-000000000001": 70.0}  # a shard with no datapoint is absent


def test_get_metric_data_batches_500_queries_and_follows_next_token() -> None:
    c = client()
    adapter = MetricsAdapter(c)
    queries = [
        {
            "Id": f"q{i}",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Kinesis", "MetricName": "IncomingBytes"},
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for i in range(1001)
    ]
    t0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    with Stubber(c) as stub:
        params = {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampAscending"}
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [{"Id": "q0", "StatusCode": "PartialData", "Timestamps": [t0], "Values": [1.0]}],
                "NextToken": "n",
            },
            params,
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "q0", "StatusCode": "Complete", "Timestamps": [t0 + timedelta(minutes=1)], "Values": [2.0]}
                ]
            },
            {**params, "NextToken": "n"},
        )
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "q500", "StatusCode": "Complete", "Timestamps": [t0], "Values": [3.0]}]},
            params,
        )
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "q1000", "StatusCode": "Complete", "Timestamps": [], "Values": []}]},
            params,
        )
        out = adapter.get_metric_data(queries, start=0, end=60)
        stub.assert_no_pending_responses()
    # ⌈1001 / 500⌉ = 3 batches, the first in two pages
    assert out["q0"] == {int(t0.timestamp()): 1.0, int(t0.timestamp()) + 60: 2.0}
    assert out["q500"] == {int(t0.timestamp()): 3.0}


@pytest.mark.parametrize("status", ["InternalError", "Forbidden"])
def test_failed_metric_results_raise(status: str) -> None:
    c = client()
    with Stubber(c) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": [{"Id": "b", "StatusCode": status}]})
        with pytest.raises(MetricsUnavailable, match=status):
            MetricsAdapter(c).write_metrics("orders", end=120, lookback_seconds=60, period_seconds=60)


def test_throttled_metrics_call_raises_metrics_unavailable() -> None:
    c = client()
    with Stubber(c) as stub:
        stub.add_client_error("get_metric_data", "Throttling", http_status_code=400)
        with pytest.raises(MetricsUnavailable, match="Throttling"):
            MetricsAdapter(c).write_metrics("orders", end=120, lookback_seconds=60, period_seconds=60)


def test_put_thresholds_keeps_the_rest_of_the_alarm_and_set_ok() -> None:
    with mock_aws():
        c = client()
        alarms = AlarmsAdapter(c)
        specs = alarm_specs(
            "kinesis-autoscaler",
            "orders",
            4,
            scale_up_threshold=0.8,
            period_seconds=60,
            evaluation_periods=2,
            datapoints_to_alarm=2,
        )
        alarms.ensure_alarms(specs, ["arn:aws:sns:us-east-1:123456789012:alarms"])
        name = specs[0].name
        c.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
        alarms.put_thresholds({name: 402_653_184.0})
        after = c.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        assert after["Threshold"] == 402_653_184.0
        assert after["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:alarms"]
        assert (after["EvaluationPeriods"], after["DatapointsToAlarm"], after["Period"]) == (2, 2, 60)
        assert after["Dimensions"] == [{"Name": "StreamName", "Value": "orders"}]
        # AWS keeps the state across PutMetricAlarm (moto resets it to OK: not asserted here), so the service
        # resets it explicitly:
        c.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
        alarms.set_ok([name], "retuned")
        assert alarms.get_alarms([name])[name].state == "OK"
        assert alarms.get_alarms(["nope"]) == {}
        with pytest.raises(AlarmNotFound):
            alarms.put_thresholds({"nope": 1.0})
