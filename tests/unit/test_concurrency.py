"""Issue 6, under load: a scale-down run over 500 streams while scale-up alarms fire on some of them, in real
threads on the in-package doubles. No stream is merged and split at once: every reshard call is made while a run
holds the stream's lock, and within one lock tenure all calls go one way."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest

from autoscaler.config import parse_config
from autoscaler.model import TriggerKind
from autoscaler.planner import tiles_key_space
from autoscaler.service import ScaleUpRequest
from autoscaler.sim.clock import SimBudget
from tests.conftest import World

pytestmark = pytest.mark.unit
STREAMS = 500
HOT = 25  # streams whose alarms fire during the run
MiB = 1_048_576


def test_scale_down_over_500_streams_with_alarms_firing_never_merges_and_splits_at_once(world: World) -> None:
    names = [f"s{i:03d}" for i in range(STREAMS)]
    world.config = parse_config(
        "streams:\n" + "".join(f"  - {{name: {n}, min_shards: 1, max_shards: 64, desired_shards: 4}}\n" for n in names)
    )
    now = world.clock.now()
    for n in names:
        world.add_stream(n, 4)
        # a quiet day (10% of 4 shards) for every stream: all are scale-down candidates (4 → 2) ...
        for k in range(1, 289):
            world.metrics.put(n, "IncomingBytes", now - 300 * k, 0.1 * 4 * MiB * 300)
            world.metrics.put(n, "IncomingRecords", now - 300 * k, 10.0)
    # these also get a write-throttling alarm meanwhile (a hot shard: one split wanted) while the scale-down, on the
    # same quiet day, wants to merge them: both runs contend for the same streams' locks
    hot = names[:: STREAMS // HOT][:HOT]

    # SimClock's sleep advances one global time for every thread: with real UPDATING times, 25 scale-ups waiting in
    # parallel would move the clock past the quiet day's data. 1 s per reshard keeps the interleaving, not the drift.
    world.kinesis.split_seconds = world.kinesis.merge_seconds = world.kinesis.update_shard_count_seconds = 1.0
    tenure: dict[str, list[tuple[str | None, str, int]]] = defaultdict(list)  # stream -> (lock owner, op, count)
    record = threading.Lock()

    def on_call(operation: str, stream: str) -> None:
        if operation in ("split_shard", "merge_shards", "update_shard_count"):
            item = world.cooldown.items.get(stream)
            owner = item[0].owner if item and item[0].lease_until >= world.clock.now() else None
            with record:
                tenure[stream].append((owner, operation, world.kinesis.open_count(stream)))

    world.kinesis.on_call = on_call
    down = world.scale_down_service()
    up = world.service()
    start = threading.Barrier(1 + HOT)
    errors: list[BaseException] = []

    def scale_down() -> None:
        start.wait()
        try:
            down.run(SimBudget(world.clock, 3600))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def alarm(name: str) -> None:
        start.wait()
        try:
            up.scale_up(ScaleUpRequest(name, TriggerKind.THROTTLE, source="t"), world.budget())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=scale_down)] + [threading.Thread(target=alarm, args=(n,)) for n in hot]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors

    for stream, calls in tenure.items():
        assert all(owner is not None for owner, _, _ in calls), f"{stream}: a reshard call without the lock: {calls}"
        by_owner: dict[str | None, set[str]] = defaultdict(set)
        for owner, op, _ in calls:
            by_owner[owner].add("down" if op == "merge_shards" else "up" if op == "split_shard" else op)
        for owner, kinds in by_owner.items():
            assert not {"up", "down"} <= kinds, f"{stream}: split and merge in one lock tenure ({owner}): {calls}"
    merged = {
        s for s, calls in tenure.items() if any(op in ("merge_shards", "update_shard_count") for _, op, _ in calls)
    }
    assert len(merged) >= STREAMS - HOT  # the quiet ones were shrunk
    split = {s for s, calls in tenure.items() if any(op == "split_shard" for _, op, _ in calls)}
    assert split and split <= set(hot)  # the throttled ones were split (some after their merge, in a later tenure)
    for n in names:
        shards = world.kinesis.open_shards(n)
        assert tiles_key_space(shards) and 1 <= len(shards) <= 64
        lock = world.cooldown.read(n)
        assert lock is None or lock.owner is None, f"{n}: lock left held"
