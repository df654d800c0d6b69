"""Planning a scale-up for a 10,000-shard stream (uneven ranges, shard-level heat). Target: ≤ 50 ms.

Three shapes: one UpdateShardCount (the usual path); splits with UpdateShardCount refused (the planner ranks all
10,000 shards and plans the most splits one action chain can execute, MAX_SPLITS_PER_ACTION); and a hot shard found
among 10,000 by shard-level IncomingBytes.
"""

from __future__ import annotations

import random
import statistics
import time

from autoscaler.core.model import MetricSeries, Shard, StreamMetrics, TriggerKind
from autoscaler.core.scale_up import PlanInput, midpoint, plan_scale_up, uniform_shards

SHARDS = 10_000
MiB = 1_048_576


def uneven_layout(n: int, seed: int = 7) -> list[Shard]:
    """n shards: start from n/2 uniform ones and split random ones at their midpoint (realistic history)."""
    rng = random.Random(seed)
    shards = uniform_shards(n // 2)
    index = 0
    while len(shards) < n:
        i = rng.randrange(len(shards))
        p = shards[i]
        cut = midpoint(p.start, p.end)
        index += 1
        shards[i : i + 1] = [Shard(f"s{index}a", p.start, cut - 1), Shard(f"s{index}b", cut, p.end)]
    return shards


def inputs() -> dict[str, PlanInput]:
    shards = tuple(uneven_layout(SHARDS))
    rng = random.Random(3)
    heat = {s.shard_id: rng.uniform(0, 1e8) for s in shards}
    peak = MetricSeries(60, tuple(1.2 * SHARDS * MiB * 60 * f for f in (0.8, 0.9, 1.0, 0.95, 0.9)))
    metrics = StreamMetrics(peak, MetricSeries(60, (1.0,) * 5), heat)
    base = PlanInput("big", shards, 1, 20_000, TriggerKind.UTILISATION, metrics)  # a planner stress test
    quiet = StreamMetrics(MetricSeries(60, (0.3 * SHARDS * MiB * 60,)), MetricSeries(60, ()), heat)
    return {
        "update_shard_count": base,
        "splits, UpdateShardCount refused": base._replace(update_shard_count_allowed=False),
        "hot shard": base._replace(trigger=TriggerKind.THROTTLE, metrics=quiet),
    }


def run(repeats: int = 15) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, inp in inputs().items():
        plan_scale_up(inp)  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            plan = plan_scale_up(inp)
            times.append(time.perf_counter() - t)
        out[name] = {
            "median_ms": statistics.median(times) * 1000,
            "max_ms": max(times) * 1000,
            "ops": len(plan.ops),
            "target": plan.target,
        }
    return out


if __name__ == "__main__":
    for name, r in run().items():
        print(
            f"plan 10,000 shards [{name}]: median {r['median_ms']:.2f} ms, max {r['max_ms']:.2f} ms "
            f"({r['ops']:.0f} ops → {r['target']:.0f} shards; target ≤ 50 ms)"
        )
