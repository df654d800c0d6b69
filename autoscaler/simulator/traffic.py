"""How one minute of writes lands on a layout of shards, and how much of it each shard must refuse.

Traffic is spread over the hash key space: uniformly by default, or with a hot range that receives a fixed share of
all writes (many partition keys hashing into a narrow range: a hot tenant, a hot product). A shard takes the writes
whose keys fall in its range; it accepts up to 60 MiB and 60,000 records a minute (1 MiB/s, 1,000 records/s) and
refuses the rest (WriteProvisionedThroughputExceeded). Within a shard, bytes and records arrive in proportion, so a
shard over either limit by a factor u accepts 1/u of both. Bursts inside a minute are not modelled (a minute is the
finest CloudWatch view): that is optimistic for every provisioned policy alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from autoscaler.core.limits import MAX_HASH_KEY
from autoscaler.core.model import Shard
from autoscaler.simulator.trace import SHARD_BYTES_PER_MINUTE, SHARD_RECORDS_PER_MINUTE

KEYS = float(MAX_HASH_KEY + 1)


class Skew(NamedTuple):
    """A hot range of the key space: [start, start + width) (fractions of the space) gets `share` of all writes."""

    share: float = 0.0
    start: float = 0.45
    width: float = 0.02

    def validate(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError("hot share must be within [0, 1]")
        if not (0.0 < self.width <= 1.0 and self.start >= 0.0 and self.start + self.width <= 1.0):
            raise ValueError("the hot range must lie inside [0, 1) with a positive width")


UNIFORM = Skew()


class Layout(NamedTuple):
    """A layout reduced to what serving needs: the share of the stream's writes each shard receives, grouped.

    groups: (share, how many shards receive it), so a uniform layout of 500 shards is one group, not 500 rows.
    capacity: the largest load (in shard-equivalents) the layout takes without refusing anything: 1 / max share.
    """

    shards: int
    groups: tuple[tuple[float, int], ...]
    capacity: float
    by_id: tuple[tuple[str, float], ...] = ()  # (shard id, share) of each shard, for shard-level metrics


def layout_of(shards: Sequence[Shard], skew: Skew = UNIFORM) -> Layout:
    hot_lo, hot_hi = skew.start * KEYS, (skew.start + skew.width) * KEYS
    counts: dict[float, int] = {}
    by_id = []
    for s in shards:
        lo, hi = float(s.start), float(s.end) + 1.0
        share = (1.0 - skew.share) * (hi - lo) / KEYS
        if skew.share:
            overlap = max(0.0, min(hi, hot_hi) - max(lo, hot_lo))
            share += skew.share * overlap / (hot_hi - hot_lo)
        key = round(share, 12)  # ranges differing by a few keys of 2^128 are the same shard for traffic purposes
        counts[key] = counts.get(key, 0) + 1
        by_id.append((s.shard_id, share))
    groups = tuple(sorted(counts.items(), reverse=True))
    top = groups[0][0] if groups else 0.0
    return Layout(len(shards), groups, 1.0 / top if top > 0 else float("inf"), tuple(by_id))


def accepted_share(share: float, load: float) -> float:
    """The fraction of the stream's writes one shard with this share accepts at `load` shard-equivalents."""
    u = load * share
    return share if u <= 1.0 else share / u


def uniform_layout(count: int) -> Layout:
    """N equal shards (UpdateShardCount's and CreateStream's layout) under uniform traffic."""
    return Layout(count, ((1.0 / count, count),), float(count))


def refused(layout: Layout, bytes_: float, records: float) -> tuple[float, float]:
    """(bytes, records) the layout refuses out of one minute's writes.

    e.g. 2 equal shards, 150 MiB and 1,000 records: each gets 75 MiB → u = 75/60 = 1.25 → accepts 1/1.25 = 80%,
    refuses 15 MiB and 100 records; together 30 MiB and 200 records.
    """
    load = max(bytes_ / SHARD_BYTES_PER_MINUTE, records / SHARD_RECORDS_PER_MINUTE)
    if load <= layout.capacity:
        return 0.0, 0.0
    out_b = out_r = 0.0
    for share, n in layout.groups:
        u = load * share  # the shard's utilisation
        if u <= 1.0:
            break  # groups are sorted by share, largest first
        lost = (1.0 - 1.0 / u) * share * n
        out_b += bytes_ * lost
        out_r += records * lost
    return out_b, out_r
