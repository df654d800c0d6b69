"""Evaluating the whole fleet for scale-down against a local moto server: GetMetricData calls, time, and AWS calls
per stream against a naive loop (ListShards + one GetMetricStatistics per metric per stream).

Each stream has a full quiet day: 5-minute IncomingBytes and IncomingRecords Sums for the last 25 h (288 in the
window per series). Targets (issue 3): 500 streams in ≤ 2 GetMetricData calls for the bytes and records series
(⌈1,000 / 500⌉) and ≤ 5 s; 50 and 2,000 reported too.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from typing import Any

from autoscaler.local.moto_server import FAKE_ENV, MotoServer

NAIVE_CALLS_PER_STREAM = 4  # ListShards + GetMetricStatistics × (IncomingBytes, IncomingRecords, throttling)


def measure(server: MotoServer, streams: int) -> dict[str, float]:
    from autoscaler.adapters.aws.clients import build_clients
    from autoscaler.adapters.aws.cloudwatch import AlarmsAdapter, MetricsAdapter
    from autoscaler.adapters.aws.cooldown import CooldownTable
    from autoscaler.adapters.aws.kinesis import KinesisAdapter
    from autoscaler.adapters.runtime import SystemClock
    from autoscaler.app.scale_down import ScaleDownService
    from autoscaler.config import parse_config
    from autoscaler.local.setup import create_table, local_clients, write_quiet_day

    server.reset()
    setup = local_clients(server.endpoint)
    names = [f"fleet-{i:05d}" for i in range(streams)]
    create_table(setup.dynamodb, "bench-cooldown")
    for name in names:
        setup.kinesis.create_stream(StreamName=name, ShardCount=2)
        write_quiet_day(setup.cloudwatch, name, utilisation=0.1, shards=2)
    config = parse_config(
        "streams:\n" + "".join(f"  - {{name: {n}, min_shards: 1, max_shards: 8, desired_shards: 2}}\n" for n in names)
    )
    clients = build_clients("us-east-1")
    calls: Counter[str] = Counter()
    for client in (clients.kinesis, clients.cloudwatch, clients.dynamodb):
        client.meta.events.register("before-call.*.*", lambda model, **_: calls.update([model.name]))
    clock = SystemClock()
    service = ScaleDownService(
        config=config,
        kinesis=KinesisAdapter(clients.kinesis, clock),
        metrics=MetricsAdapter(clients.cloudwatch),
        alarms=AlarmsAdapter(clients.cloudwatch),
        cooldown=CooldownTable(clients.dynamodb, "bench-cooldown"),
        continuation=None,  # type: ignore[arg-type]  # a dry run never hands on
        clock=clock,
    )
    started = time.perf_counter()
    # the evaluation the scheduled run makes before taking any lock (ScaleDownService.evaluate); a dry run adds one
    # lock-item read per candidate for its prediction (would_refuse), which the run's acquire makes anyway
    settled, candidates, _ = service.evaluate(config.names)
    elapsed = time.perf_counter() - started
    assert not settled and len(candidates) == streams and all(d.target == 1 for _, d in candidates)
    total = sum(calls.values())
    return {
        "streams": streams,
        "seconds": elapsed,
        "get_metric_data": calls["GetMetricData"],
        "calls": total,
        "calls_per_stream": total / streams,
        "naive_per_stream": NAIVE_CALLS_PER_STREAM,
        "kinesis_calls": calls["ListShards"] + calls["DescribeStreamSummary"],
    }


def run(sizes: tuple[int, ...] = (50, 500, 2000)) -> list[dict[str, float]]:
    os.environ.update(FAKE_ENV)
    server = MotoServer()
    server.start()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    try:
        return [measure(server, n) for n in sizes]
    finally:
        server.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)


def report(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        print(
            f"scale-down evaluation, {r['streams']} streams: {r['seconds']:.2f} s, {r['get_metric_data']} "
            f"GetMetricData calls (bytes+records, then throttling of the candidates), {r['calls']} AWS calls = "
            f"{r['calls_per_stream']:.2f} per stream vs {r['naive_per_stream']} for a naive loop "
            f"({r['naive_per_stream'] / r['calls_per_stream']:.1f}x fewer)"
        )


if __name__ == "__main__":
    report(run(tuple(int(a) for a in sys.argv[1:]) or (50, 500, 2000)))
