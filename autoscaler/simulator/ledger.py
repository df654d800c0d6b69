"""The minute-by-minute account of one policy's run, and the figures drawn from it.

Every policy, whatever drives it, records each minute the same way: the capacity it had in place at the start of
the minute (a reshard that completes mid-minute counts from the next one: conservative), what the trace wrote, what
was refused. The summary turns that into the comparison the operator reads.
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING, Any, NamedTuple

from autoscaler.simulator.prices import (
    Billing,
    Prices,
    on_demand_billed_bytes,
    on_demand_cost,
    provisioned_cost,
    put_units,
)
from autoscaler.simulator.trace import Trace
from autoscaler.simulator.traffic import Layout, refused

if TYPE_CHECKING:
    from autoscaler.simulator.reads import ReadRun

RAMP_FLOOR = 0.5  # the largest ramp starts where the load last stood at ≤ 50% of the trace's peak


class TraceTotals:
    """Per-minute figures every policy's ledger needs, computed once per trace: loads and PUT units."""

    def __init__(self, trace: Trace) -> None:
        self.loads = trace.loads()
        self.units = [put_units(b, r) for b, r in zip(trace.bytes, trace.records, strict=True)]


_TOTALS: list[tuple[Trace, TraceTotals]] = []  # the last few traces, held so their identity stays theirs


def totals(trace: Trace) -> TraceTotals:
    """The trace's TraceTotals, built once per trace object (the simulation and every policy's ledger share it)."""
    for held, got in _TOTALS:
        if held is trace or held.bytes is trace.bytes:
            return got
    got = TraceTotals(trace)
    _TOTALS.append((trace, got))
    del _TOTALS[:-4]
    return got


class Ledger:
    """Per-minute capacity, shard count and refused writes of one policy over one trace."""

    def __init__(self, trace: Trace) -> None:
        n = trace.minutes
        self.trace = trace
        t = totals(trace)
        self._loads = t.loads
        self._units = t.units
        self.capacity = array("d", bytes(8 * n))  # shard-equivalents the layout takes without refusing
        self.shards = array("l", bytes(array("l").itemsize * n))  # open shards (0 for on-demand)
        self.refused_bytes = array("d", bytes(8 * n))
        self.refused_records = 0.0
        self.units = 0.0  # PUT payload units of the accepted writes, in provisioned minutes
        self.billed_bytes = 0.0  # on-demand's billed bytes of the accepted writes, in on-demand minutes
        self.on_demand_minutes = 0  # minutes served in on-demand mode (billed per stream-hour)

    def serve(self, minute: int, layout: Layout) -> tuple[float, float, float]:
        """Account one minute on a provisioned layout. Returns (accepted bytes, accepted records, refused records)."""
        b = self.trace.bytes[minute]
        r = self.trace.records[minute]
        self.capacity[minute] = layout.capacity
        self.shards[minute] = layout.shards
        if self._loads[minute] > layout.capacity:
            rb, rr = refused(layout, b, r)
            self.refused_bytes[minute] = rb
            self.refused_records += rr
            if r > 0:
                self.units += self._units[minute] * (1 - rr / r)  # refused records are not billed
            return b - rb, r - rr, rr
        self.units += self._units[minute]
        return b, r, 0.0

    def serve_aggregate(
        self, minute: int, capacity: float, refused_at_least: float = 0.0, shown_capacity: float | None = None
    ) -> None:
        """Account one minute on a capacity with no shards of ours to overflow (on-demand): refuse the excess over
        the capacity, or `refused_at_least` (a fraction, from the mode's own hot shards) if that is more.
        `shown_capacity` is what the mode could take without refusing (its hot shards may fill first)."""
        b = self.trace.bytes[minute]
        r = self.trace.records[minute]
        self.capacity[minute] = capacity if shown_capacity is None else shown_capacity
        self.on_demand_minutes += 1
        load = self._loads[minute]
        if load > capacity or refused_at_least > 0:
            kept = min(capacity / load if load > capacity else 1.0, 1.0 - refused_at_least)
            self.refused_bytes[minute] = b * (1 - kept)
            self.refused_records += r * (1 - kept)
            b, r = b * kept, r * kept
        self.billed_bytes += on_demand_billed_bytes(b, r)


class Activity(NamedTuple):
    """What a policy did to the stream (None where it does not apply: on-demand has no shards to reshard)."""

    reshard_operations: int | None
    update_shard_count_calls: int | None
    minutes_updating: int | None
    notes: tuple[str, ...] = ()
    mode_switches: int = 0  # UpdateStreamMode calls (auto mode)
    capped_by_max_shards: int = 0  # the autoscaler's scale-up decisions max_shards bounded (replay.py _note_cap)


class PolicyRun(NamedTuple):
    name: str
    ledger: Ledger
    activity: Activity
    # the price list of the run's on-demand minutes (Standard or Advantage); PROVISIONED: it has none
    billing: Billing = Billing.PROVISIONED
    shard_metrics: int = 0  # shard-level metrics billed per open shard (enhanced monitoring)
    reads: ReadRun | None = None  # the read side of the run, when the simulation has a read model (reads.py)

    @property
    def provisioned(self) -> bool:
        """Some of its minutes were provisioned (it has shards to count)."""
        return self.ledger.on_demand_minutes < self.ledger.trace.minutes


def largest_ramp(loads: list[float]) -> tuple[int, int]:
    """(start, peak): the rise to the trace's peak minute from the last minute at or below half of it."""
    peak = max(range(len(loads)), key=loads.__getitem__)
    floor = RAMP_FLOOR * loads[peak]
    start = next((i for i in range(peak, -1, -1) if loads[i] <= floor), 0)
    return start, peak


def time_to_capacity(ledger: Ledger, loads: list[float], ramp: tuple[int, int]) -> int | None:
    """Minutes from the first refused minute of the ramp until capacity covers the ramp's peak (0: never short).
    None when capacity never reaches it after the breach."""
    start, peak = ramp
    first = next((m for m in range(start, peak + 1) if ledger.refused_bytes[m] > 0), None)
    if first is None:
        return 0
    need = loads[peak]
    cap = ledger.capacity
    return next((m - first for m in range(first, len(loads)) if cap[m] >= need), None)


def summarise(
    runs: list[PolicyRun], trace: Trace, prices: Prices, loads: list[float] | None = None
) -> dict[str, dict[str, Any]]:
    """The JSON contract's per-policy figures (plus extras), ratios against the oracle and on-demand runs given."""
    loads = loads if loads is not None else trace.loads()
    total_b = sum(trace.bytes) or 1.0
    total_r = sum(trace.records) or 1.0
    hours = trace.minutes / 60
    ramp = largest_ramp(loads)
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        led, act = run.ledger, run.activity
        refused_b = sum(led.refused_bytes)
        shard_hours = sum(led.shards) / 60 if run.provisioned else None
        # one formula for every policy: its provisioned minutes' shards and PUT units, its on-demand minutes'
        # stream-hours and GB (either part is zero for a policy that never uses that mode)
        cost = provisioned_cost(shard_hours or 0.0, led.units, prices, run.shard_metrics) + (
            on_demand_cost(led.on_demand_minutes / 60, led.billed_bytes, prices, run.billing)
            if led.on_demand_minutes
            else 0.0
        )
        out[run.name] = {
            "throttled_bytes_fraction": refused_b / total_b,
            "throttled_records_fraction": led.refused_records / total_r,
            "shard_hours": shard_hours,
            "shard_hours_vs_oracle": None,
            "reshard_operations": act.reshard_operations,
            "update_shard_count_calls": act.update_shard_count_calls,
            "minutes_updating": act.minutes_updating,
            "cost_usd": cost,
            "cost_vs_on_demand": None,
            "cost_vs_on_demand_advantage": None,
            "max_shards": max(led.shards) if run.provisioned else None,
            "minutes_provisioned": trace.minutes - led.on_demand_minutes,
            "minutes_on_demand": led.on_demand_minutes,
            "mode_switches": act.mode_switches,
            "throttled_minutes": sum(1 for v in led.refused_bytes if v > 0),
            "time_to_capacity_minutes": time_to_capacity(led, loads, ramp),
            "mean_shards": shard_hours / hours if shard_hours is not None else None,
            "notes": list(act.notes),
        }
    oracle = out.get("oracle", {}).get("shard_hours")
    od = out.get("on-demand", {}).get("cost_usd")
    adv = out.get("on-demand-advantage", {}).get("cost_usd")
    for row in out.values():
        if oracle and row["shard_hours"] is not None:
            row["shard_hours_vs_oracle"] = row["shard_hours"] / oracle
        if od:
            row["cost_vs_on_demand"] = row["cost_usd"] / od
        if adv:
            row["cost_vs_on_demand_advantage"] = row["cost_usd"] / adv
    return out


def ceil_load(load: float) -> int:
    """Shards a load needs: ⌈load⌉ with float noise ignored, at least 1."""
    return max(1, math.ceil(load - 1e-9))
