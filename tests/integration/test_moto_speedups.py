"""The local server's indexed GetMetricData answers exactly as moto's own implementation (on random data)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from moto import mock_aws

from autoscaler.local import moto_speedups

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def query(
    i: int, metric: str, dims: list[dict[str, str]], period: int, stat: str = "Sum", namespace: str = "AWS/Kinesis"
) -> dict[str, Any]:
    return {
        "Id": f"q{i}",
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
            "Period": period,
            "Stat": stat,
        },
    }


@pytest.mark.parametrize("seed", range(5))
def test_indexed_answers_equal_moto(seed: int) -> None:
    rng = random.Random(seed)
    with mock_aws():
        c = botocore.session.get_session().create_client("cloudwatch", region_name="us-east-1")
        streams = ["a", "b", "c"]
        data = []
        for _ in range(400):
            dims = [{"Name": "StreamName", "Value": rng.choice(streams)}]
            if rng.random() < 0.3:
                dims.append({"Name": "ShardId", "Value": f"shardId-{rng.randrange(3):012d}"})
            data.append(
                {
                    "MetricName": rng.choice(["IncomingBytes", "IncomingRecords"]),
                    "Dimensions": dims,
                    "Timestamp": T0 + timedelta(seconds=rng.randrange(0, 7200)),
                    "Value": rng.uniform(0, 1e6),
                }
            )
        for i in range(0, len(data), 200):
            c.put_metric_data(Namespace=rng.choice(["AWS/Kinesis", "Other"]), MetricData=data[i : i + 200])
        queries = [
            query(
                i,
                rng.choice(["IncomingBytes", "IncomingRecords"]),
                [{"Name": "StreamName", "Value": rng.choice(streams)}] if rng.random() < 0.8 else [],
                rng.choice([60, 300, 900]),
                rng.choice(["Sum", "Maximum", "SampleCount", "Average"]),
                rng.choice(["AWS/Kinesis", "Other"]),
            )
            for i in range(25)
        ]
        start = T0 + timedelta(seconds=rng.randrange(0, 1800))
        end = start + timedelta(seconds=rng.choice([3600, 5400]))
        kwargs = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": rng.choice(["TimestampAscending", "TimestampDescending"]),
        }
        plain = c.get_metric_data(**kwargs)["MetricDataResults"]
        moto_speedups.install()
        try:
            fast = c.get_metric_data(**kwargs)["MetricDataResults"]
        finally:
            moto_speedups.uninstall()
    assert fast == plain
    assert any(r["Values"] for r in plain), "the random data must give some non-empty answers to compare"
