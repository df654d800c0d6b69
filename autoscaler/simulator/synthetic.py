"""Synthetic traces for the benchmark: shapes the three real traces lack, built deterministically (seeded noise).

Loads are in shard-equivalents (1 = 1 MiB/s or 1,000 records/s for a minute); records are 1 KiB unless said, so
bytes lead. Each generator returns the trace and the key skew to simulate it with, and the read side's traces their
read model (simulator/reads.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import NamedTuple

from autoscaler.simulator.reads import Pause, ReadModel
from autoscaler.simulator.trace import SHARD_BYTES_PER_MINUTE, Trace
from autoscaler.simulator.traffic import UNIFORM, Skew

DAY = 1440
START = 1_700_000_000 // 86_400 * 86_400  # a midnight UTC (2023-11-14), so hours of the day read naturally


class Synthetic(NamedTuple):
    trace: Trace
    skew: Skew
    description: str
    reads: ReadModel | None = None  # who reads it (the read side's traces); None: no reads modelled


def _trace(name: str, loads: list[float], record_bytes: int = 1024) -> Trace:
    b = [x * SHARD_BYTES_PER_MINUTE for x in loads]
    return Trace(name, START, b, [x / record_bytes for x in b], 60)


def _noise(rng: random.Random, level: float) -> float:
    return max(0.0, 1.0 + rng.gauss(0.0, level))


def diurnal(minute: int, low: float, high: float, peak_hour: float = 15.0) -> float:
    """A daily cycle between low and high, highest at peak_hour (UTC)."""
    phase = 2 * math.pi * ((minute % DAY) / 60 - peak_hour) / 24
    return low + (high - low) * (1 + math.cos(phase)) / 2


def step_ramp(days: int = 5, seed: int = 1) -> Synthetic:
    """Every day at 08:00 traffic climbs a staircase from 2 to ~29 shards (×1.4 every 20 minutes, 8 steps),
    holds until 18:00, and steps back down the same way: a batch window or a market open."""
    rng = random.Random(seed)
    loads = []
    for m in range(days * DAY):
        t = m % DAY
        level = 2.0
        up, down = 8 * 60, 18 * 60
        if up <= t < down + 8 * 20:
            steps = min(8, (t - up) // 20 + 1) if t < down else max(0, 8 - (t - down) // 20 - 1)
            level = 2.0 * 1.4**steps
        loads.append(level * _noise(rng, 0.03))
    return Synthetic(_trace("step_ramp", loads), UNIFORM, "2 → 29 shards in 8 steps of ×1.4 every 20 min, daily")


def flash_crowd(days: int = 4, seed: int = 2) -> Synthetic:
    """A steady 3 shards, then on day 1 at 14:00 a ×12 jump within two minutes (a viral link, a push notification),
    holding 90 minutes and decaying back over three hours."""
    rng = random.Random(seed)
    loads = []
    start = DAY + 14 * 60
    for m in range(days * DAY):
        level = 3.0
        dt = m - start
        if 0 <= dt < 2:
            level = 3.0 + 33.0 * (dt + 1) / 2
        elif 2 <= dt < 92:
            level = 36.0
        elif 92 <= dt < 92 + 180:
            level = 3.0 + 33.0 * math.exp(-(dt - 92) / 45)
        loads.append(level * _noise(rng, 0.05))
    return Synthetic(_trace("flash_crowd", loads), UNIFORM, "3 shards, a ×12 jump in 2 min for 90 min, then decay")


def slow_diurnal(days: int = 14, seed: int = 3) -> Synthetic:
    """Two weeks of a smooth daily cycle between 2 and 20 shards (peak 15:00 UTC), weekends at 60%, 5% noise."""
    rng = random.Random(seed)
    loads = []
    for m in range(days * DAY):
        weekend = 0.6 if (m // DAY) % 7 in (5, 6) else 1.0
        loads.append(diurnal(m, 2.0, 20.0) * weekend * _noise(rng, 0.05))
    return Synthetic(_trace("slow_diurnal", loads), UNIFORM, "daily 2 ↔ 20 shards, weekends at 60%")


def hot_key(days: int = 4, seed: int = 4) -> Synthetic:
    """A daily cycle between 2 and 8 shards where 30% of all writes hash into 2% of the key space (a hot tenant):
    the shard holding that range needs splitting, not the stream as a whole."""
    rng = random.Random(seed)
    loads = [diurnal(m, 2.0, 8.0) * _noise(rng, 0.05) for m in range(days * DAY)]
    return Synthetic(
        _trace("hot_key", loads), Skew(share=0.3, start=0.45, width=0.02), "2 ↔ 8 shards, 30% of writes on 2% of keys"
    )


def read_bound(days: int = 4, seed: int = 5) -> Synthetic:
    """Writes on a daily cycle between 1.5 and 4 MiB/s (peak 15:00 UTC, 2 KiB records, 5% noise), read by 3 polling
    consumers that each read every record (a Lambda function, a KCL application, a Firehose delivery stream): the
    readers ask 3 × the writes of a shared 2 MiB/s per shard, i.e. 1.5× the writes' share of 1 MiB/s, so reads bind
    and writes do not (writes at 67% of their shards are reads at 100%). On day 1 at 10:00, as traffic rises, one
    consumer stops for 30 minutes (a failed deploy) and then reads its backlog as fast as the shards allow."""
    rng = random.Random(seed)
    loads = [diurnal(m, 1.5, 4.0) * _noise(rng, 0.05) for m in range(days * DAY)]
    model = ReadModel(3, (Pause(DAY + 10 * 60, 30),))
    return Synthetic(
        _trace("read_bound", loads, record_bytes=2048),
        UNIFORM,
        "daily 1.5 ↔ 4 MiB/s written, 3 polling consumers, one stopped 30 min on day 1",
        model,
    )


# The read side's traces: apart from GENERATORS, whose write-side figures (bench/simulator.py) they would change
READ_GENERATORS: dict[str, Callable[[], Synthetic]] = {"read_bound": read_bound}

GENERATORS: dict[str, Callable[[], Synthetic]] = {
    "step_ramp": step_ramp,
    "flash_crowd": flash_crowd,
    "slow_diurnal": slow_diurnal,
    "hot_key": hot_key,
}
