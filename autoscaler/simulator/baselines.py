"""The policies the autoscaler is compared with: polling, on-demand, the oracle, a fixed count.

Each is a small model of the alternative an operator would otherwise pick, run over the same trace and accounted by
the same Ledger. The autoscaler itself is not modelled here: sim/replay.py runs the real code.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from typing import NamedTuple

from autoscaler.core.limits import UPDATE_SHARD_COUNT_CALLS_PER_24H
from autoscaler.core.scale_up import uniform_shards
from autoscaler.simulator.ledger import Activity, Ledger, PolicyRun, ceil_load
from autoscaler.simulator.prices import Billing
from autoscaler.simulator.reads import SHARD_READ_BYTES_PER_MINUTE, ReadModel, ReadRun
from autoscaler.simulator.trace import SHARD_BYTES_PER_MINUTE, SHARD_RECORDS_PER_MINUTE, Trace
from autoscaler.simulator.traffic import UNIFORM, Layout, Skew, layout_of, uniform_layout

DAY_MINUTES = 1440


class _LayoutCache:
    """Uniform layouts (UpdateShardCount's) under the trace's skew, built once per count."""

    def __init__(self, skew: Skew) -> None:
        self.skew = skew
        self.cache: dict[int, Layout] = {}

    def __call__(self, count: int) -> Layout:
        got = self.cache.get(count)
        if got is None:
            got = uniform_layout(count) if self.skew.share == 0 else layout_of(uniform_shards(count), self.skew)
            self.cache[count] = got
        return got


def initial_count(loads: list[float]) -> int:
    """The count that covers the trace's first hour: ⌈peak load of minutes 0–59⌉, at least 1."""
    return ceil_load(max(loads[:60], default=0.0))


# -- oracle and fixed ----------------------------------------------------------------------------------------------


def oracle(trace: Trace, loads: list[float]) -> PolicyRun:
    """The physical limit: exactly ⌈load⌉ shards each minute, in place instantly, laid out so each shard gets an
    equal share of the writes (so it never refuses anything, skew or not). At least 1 shard."""
    led = Ledger(trace)
    changes = 0
    prev = 0
    layout = uniform_layout(1)
    for m, load in enumerate(loads):
        n = ceil_load(load)
        if n != prev:
            changes += prev > 0
            prev = n
            layout = uniform_layout(n)
        led.serve(m, layout)
    return PolicyRun("oracle", led, Activity(changes, 0, 0, ("instant, ideal layout: a bound, not a policy",)))


def fixed(trace: Trace, loads: list[float], skew: Skew = UNIFORM, count: int | None = None) -> PolicyRun:
    """A constant count with even ranges; by default the count that covers the trace's peak."""
    n = max(1, count if count is not None else ceil_load(max(loads, default=0.0)))
    layout = _LayoutCache(skew)(n)
    led = Ledger(trace)
    for m in range(trace.minutes):
        led.serve(m, layout)
    return PolicyRun("fixed", led, Activity(0, 0, 0, (f"{n} shards throughout",)))


# -- on-demand -------------------------------------------------------------------------------------------------------


class OnDemandParams(NamedTuple):
    floor: float = 4.0  # a new on-demand stream takes 4 MB/s and 4,000 records/s: ~4 shard-equivalents
    peak_factor: float = 2.0  # capacity covers 2× the previous peak
    window_minutes: int = 30 * DAY_MINUTES  # "the previous 30 days"
    settle_minutes: int = 15  # a new peak counts once it is 15 minutes old ("more than doubles within 15 min")
    hot_shard_rate: float = 0.5  # "a shard above 500 KB/s is split within 15 min" (aws-facts.md, on-demand)
    hot_shard_minutes: int = 15


class _HotShards:
    """On-demand's shards under skewed keys: even at first, one per shard-equivalent of the starting capacity; a
    shard writing above 500 KB/s for 15 minutes is split in two (AWS's documented behaviour). Each shard still takes
    1 MiB/s at most: with a hot range, that limit refuses writes before the stream's capacity does."""

    def __init__(self, count: int, skew: Skew, params: OnDemandParams) -> None:
        self.bounds = [i / count for i in range(count + 1)]
        self.skew = skew
        self.params = params
        self.hot_for = [0] * count

    def shares(self) -> list[float]:
        s, lo, hi = self.skew, self.skew.start, self.skew.start + self.skew.width
        out = []
        for a, b in itertools.pairwise(self.bounds):
            out.append((1 - s.share) * (b - a) + s.share * max(0.0, min(b, hi) - max(a, lo)) / s.width)
        return out

    def grow_to(self, count: int) -> None:
        """On-demand adds shards as its capacity grows: split the widest until there are `count`."""
        while len(self.hot_for) < count:
            i = max(range(len(self.hot_for)), key=lambda k: self.bounds[k + 1] - self.bounds[k])
            a, b = self.bounds[i], self.bounds[i + 1]
            self.bounds[i + 1 : i + 1] = [(a + b) / 2]
            self.hot_for[i : i + 1] = [0, 0]

    def capacity(self) -> float:
        """The load at which the fullest shard reaches 1 MiB/s."""
        top = max(self.shares())
        return 1.0 / top if top > 0 else float("inf")

    def refused_fraction(self, load: float) -> float:
        """Refuse what each shard gets above 1 shard-equivalent; split the shards hot for long enough."""
        shares = self.shares()
        refused = sum(max(0.0, load * sh - 1.0) for sh in shares)
        bounds = [self.bounds[0]]
        hot_for = []
        for i, sh in enumerate(shares):
            hot = self.hot_for[i] + 1 if load * sh > self.params.hot_shard_rate else 0
            a, b = self.bounds[i], self.bounds[i + 1]
            if hot >= self.params.hot_shard_minutes:
                bounds += [(a + b) / 2, b]
                hot_for += [0, 0]
            else:
                bounds.append(b)
                hot_for.append(hot)
        self.bounds, self.hot_for = bounds, hot_for
        return refused / load if load > 0 else 0.0


def recurring_peaks(loads: list[float], period_minutes: int, periods: int, half_width: int = 30) -> list[float]:
    """Each minute's pre-warm level from the history alone: the highest load within ±half_width minutes of the same
    time one, two, … `periods` periods earlier (daily: 1,440 × 7; weekly: 10,080 × 4). 0 with no such history."""
    n = len(loads)
    around = [0.0] * n  # the max over [m - half_width, m + half_width], by a sliding window
    window: deque[tuple[int, float]] = deque()
    for right in range(n + half_width):
        if right < n:
            while window and window[-1][1] <= loads[right]:
                window.pop()
            window.append((right, loads[right]))
        centre = right - half_width
        while window and window[0][0] < centre - half_width:
            window.popleft()
        if 0 <= centre < n:
            around[centre] = window[0][1] if window else 0.0
    out = [0.0] * n
    for m in range(n):
        earlier = [m - j * period_minutes for j in range(1, periods + 1)]
        seen = [around[c] for c in earlier if c - half_width >= 0]  # only windows wholly in the past
        out[m] = max(seen, default=0.0)
    return out


def on_demand(
    trace: Trace,
    loads: list[float],
    params: OnDemandParams | None = None,
    skew: Skew = UNIFORM,
    warm: list[float] | None = None,
) -> PolicyRun:
    """On-demand mode as AWS documents it: capacity = max(floor, 2 × the peak of the previous 30 days), a peak
    counting once it is 15 minutes old. How it starts: the trace has no 30-day history, so the history before the
    trace is taken to be the first hour's peak (as if the stream had run at that level before). With a hot key
    range, its shards' own 1 MiB/s limit applies too, and hot shards split after 15 minutes (_HotShards). `warm`:
    each minute's warm throughput in shard-equivalents (Advantage), a floor under the capacity (AWS: the stream
    "will automatically scale beyond that as needed")."""
    params = params or OnDemandParams()
    led = Ledger(trace)
    first = max(params.floor, params.peak_factor * max(loads[:60], default=0.0))
    hot = _HotShards(math.ceil(first), skew, params) if skew.share else None
    start_peak = max(loads[:60], default=0.0)
    window: deque[tuple[int, float]] = deque()  # (minute, load), loads decreasing: the sliding maximum
    for m in range(len(loads)):
        settled = m - params.settle_minutes
        if settled >= 0:
            v = loads[settled]
            while window and window[-1][1] <= v:
                window.pop()
            window.append((settled, v))
        while window and window[0][0] <= m - params.window_minutes:
            window.popleft()
        peak = window[0][1] if window else 0.0
        if m < params.window_minutes:
            peak = max(peak, start_peak)
        cap = max(params.floor, params.peak_factor * peak, warm[m] if warm is not None else 0.0)
        if hot is None:
            led.serve_aggregate(m, cap)
        else:
            hot.grow_to(math.ceil(cap))
            shown = min(cap, hot.capacity())
            led.serve_aggregate(m, cap, hot.refused_fraction(loads[m]), shown_capacity=shown)
    notes = [
        "history before the trace taken as the first hour's peak",
        "the 30-day peak counts demand, refused writes included (flatters on-demand after a burst it throttled)",
    ]
    if hot is not None:
        notes.append(f"hot range: shards above 500 KB/s for 15 min split; {len(hot.hot_for)} shards at the end")
    return PolicyRun("on-demand", led, Activity(None, None, None, tuple(notes)), Billing.ON_DEMAND)


def on_demand_advantage(standard: PolicyRun) -> PolicyRun:
    """The same stream in an account with On-demand Advantage: the same capacity (warm throughput not used), so the
    same writes accepted and refused, billed at Advantage's prices."""
    notes = (*standard.activity.notes, "Advantage prices; the account-wide throughput commitment not charged here")
    return standard._replace(
        name="on-demand-advantage",
        activity=standard.activity._replace(notes=notes),
        billing=Billing.ON_DEMAND_ADVANTAGE,
    )


# -- polling -----------------------------------------------------------------------------------------------------------


class PollingParams(NamedTuple):
    """A polling autoscaler in the style of awslabs/amazon-kinesis-scaling-utils."""

    check_seconds: int = 45  # how often it polls CloudWatch
    window_minutes: int = 5  # average utilisation over the last 5 minutes
    scale_up_above: float = 0.75
    scale_down_below: float = 0.25
    scale_up_factor: float = 2.0  # +100%
    scale_down_factor: float = 0.5  # −50%
    cool_off_seconds: int = 600
    min_shards: int = 1
    max_shards: int = 10_000


def polling(
    trace: Trace,
    loads: list[float],
    *,
    params: PollingParams | None = None,
    skew: Skew = UNIFORM,
    metric_delay_seconds: int = 120,
    update_seconds: float = 120.0,
    reads: ReadModel | None = None,
) -> PolicyRun:
    """Every `check_seconds`, the mean utilisation of the last `window_minutes` CloudWatch shows (accepted writes,
    published `metric_delay_seconds` late) decides: ×2 above 75%, ÷2 below 25%, by UpdateShardCount (effective
    `update_seconds` later; AWS's 10 calls per 24 h apply), then a cool-off. With `reads`, the bytes read
    (GetRecords.Bytes) over 2 MiB/s per shard count as a third utilisation, as the tool's GET operation does (one
    consumer's worth: it has no consumer count, and reads what CloudWatch shows, refused reads not included)."""
    params = params or PollingParams()
    led = Ledger(trace)
    read_run = ReadRun(reads, trace.minutes) if reads is not None else None
    acc_read: list[float] = [0.0]  # prefix sums of bytes read by minute
    layouts = _LayoutCache(skew)
    n = min(max(initial_count(loads), params.min_shards), params.max_shards)
    pending: tuple[float, int] | None = None  # (effective at, count)
    calls: deque[float] = deque()
    cool_until = -math.inf
    acc_b: list[float] = [0.0]  # prefix sums of accepted bytes and records by minute
    acc_r: list[float] = [0.0]
    usc = 0
    refused_calls = 0
    check = params.check_seconds
    next_check = float(check)
    span = params.window_minutes
    for m in range(trace.minutes):
        t0 = m * 60.0
        if pending is not None and pending[0] <= t0:
            n, pending = pending[1], None
        b, r, _ = led.serve(m, layouts(n))
        acc_b.append(acc_b[-1] + b)
        acc_r.append(acc_r[-1] + r)
        if read_run is not None:
            acc_read.append(acc_read[-1] + read_run.step(m, b, float(n), n).bytes_read)
        end = t0 + 60.0
        while next_check < end:
            t = next_check
            next_check += check
            if pending is not None or t < cool_until:
                continue
            visible = min(m + 1, int((t - metric_delay_seconds) // 60))  # minutes wholly published by t
            if visible <= 0:
                continue
            lo = max(0, visible - span)
            mean_b = (acc_b[visible] - acc_b[lo]) / span / (n * SHARD_BYTES_PER_MINUTE)
            mean_r = (acc_r[visible] - acc_r[lo]) / span / (n * SHARD_RECORDS_PER_MINUTE)
            util = max(mean_b, mean_r)
            if read_run is not None:
                util = max(util, (acc_read[visible] - acc_read[lo]) / span / (n * SHARD_READ_BYTES_PER_MINUTE))
            if util > params.scale_up_above:
                target = min(params.max_shards, math.ceil(n * params.scale_up_factor))
            elif util < params.scale_down_below:
                target = max(params.min_shards, math.ceil(n * params.scale_down_factor))
            else:
                continue
            if target == n:
                continue
            while calls and t - calls[0] >= 86_400:
                calls.popleft()
            if len(calls) >= UPDATE_SHARD_COUNT_CALLS_PER_24H:
                refused_calls += 1  # AWS refuses the 11th call in 24 h; the tool logs and tries again next check
                continue
            calls.append(t)
            usc += 1
            pending = (t + update_seconds, target)
            cool_until = t + params.cool_off_seconds
    notes = [
        f"checks every {check} s, {span}-min mean, x{params.scale_up_factor:g} >{params.scale_up_above:.0%}, "
        f"x{params.scale_down_factor:g} <{params.scale_down_below:.0%}, cool-off {params.cool_off_seconds} s"
    ]
    if refused_calls:
        notes.append(f"{refused_calls} checks wanted a call beyond AWS's 10 UpdateShardCount calls per 24 h")
    if read_run is not None:
        notes.append("scales on bytes read too (GetRecords.Bytes over 2 MiB/s per shard), as the tool's GET operation")
    return PolicyRun("polling", led, Activity(usc, usc, round(usc * update_seconds / 60), tuple(notes)), reads=read_run)
