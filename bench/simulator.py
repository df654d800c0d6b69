"""The simulator's comparison for the shared traces (bench/traces/) and the synthetic ones (sim/synthetic.py),
checked against issue 13's figures, written as Markdown to bench/results/simulator.md (the README quotes it).

Figures, as ratios against on-demand Standard (and reported against Advantage too), for a stream with
`capacity_mode: auto` (simulator/auto.py), min 1 and max 10,000 shards and otherwise the built-in defaults: on every
trace the autoscaler throttles at most on-demand's share + 0.01 percentage points and costs no more than on-demand;
on steady traces (peak ≤ 4 × median) it costs ≤ 0.5× on-demand; the geometric mean of its cost ratios over all
traces is ≤ 0.7×; nyc_taxi (7 months) simulates all policies in ≤ 10 s. Where a figure is missed, a feasibility
bound says whether any reactive provisioned policy could meet it. Provisioned mode alone is run too and reported
beside it (its figures are not checked).

The read side (issue 15), on the read-bound synthetic trace (sim/synthetic.py READ_GENERATORS: writes at a modest
share of their shards, 3 polling consumers each reading every record, one of them stopped for 30 minutes), in
provisioned mode: the autoscaler with read_side on, the same autoscaler write-only (read_side off), and on-demand
(which sizes for writes only: read capacity 2× its write capacity). Target: with read_side on, at most 1% of the
bytes read throttled (late) and at most a quarter of the write-only autoscaler's share. The same trace with 5
consumers is reported beside it (not checked): where on-demand's 2× stops covering the readers.

Run alone: `python -m bench.simulator` (about a minute); `make bench` runs it with the others.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import statistics
import time
from collections import deque
from pathlib import Path
from typing import Any

from autoscaler.config import AutoscalerConfig
from autoscaler.simulator import baselines
from autoscaler.simulator.prices import Prices, put_units
from autoscaler.simulator.report import age, markdown
from autoscaler.simulator.simulate import SimSettings, default_config, simulate
from autoscaler.simulator.synthetic import GENERATORS, READ_GENERATORS
from autoscaler.simulator.trace import Trace, load_csv
from autoscaler.simulator.traffic import UNIFORM, Skew

ROOT = Path(__file__).resolve().parent
TRACES = ROOT / "traces"
RESULTS = ROOT / "results" / "simulator.md"
SHARED = (
    "nyc_taxi",
    "twitter_aapl",
    "ec2_network_in",
    "twitter_crm",
    "twitter_cvs",
    "twitter_pfe",
    "twitter_ups",
)
TIME_LIMIT_S = 10.0  # nyc_taxi, all policies
THROTTLE_SLACK = 0.0001  # 0.01 percentage points over on-demand's throttled share
STEADY_PEAK_TO_MEDIAN = 4.0  # a trace whose peak is at most 4× its median is "steady"
STEADY_COST = 0.5  # × on-demand, on steady traces
GEOMEAN_COST = 0.7  # × on-demand, the geometric mean over every trace
READ_THROTTLE_TARGET = 0.01  # read_side on: at most 1% of the bytes read throttled (late)
READ_VS_WRITE_ONLY = 0.25  # ... and at most a quarter of the write-only autoscaler's share
READ_UNCHECKED_CONSUMERS = 5  # the variant reported beside the figure: beyond on-demand's 2× (4 × its write peak)


def skewed_config() -> AutoscalerConfig:
    """The built-in defaults with shard_level_metrics on: what the README recommends for skewed keys (without
    per-shard IncomingBytes no autoscaler can tell which shard is hot)."""
    cfg = default_config()
    stream = dataclasses.replace(cfg.streams[0], shard_level_metrics=True)
    return dataclasses.replace(cfg, source="built-in defaults + shard_level_metrics: true", streams=(stream,))


def cases() -> list[tuple[Trace, Skew, str, AutoscalerConfig | None]]:
    out: list[tuple[Trace, Skew, str, AutoscalerConfig | None]] = [
        (load_csv(TRACES / f"{name}.csv"), UNIFORM, "shared (NAB, see bench/traces/README.md)", None) for name in SHARED
    ]
    for gen in GENERATORS.values():
        s = gen()
        cfg = skewed_config() if s.skew.share else None
        out.append((s.trace, s.skew, "synthetic: " + s.description, cfg))
    return out


def bound_cost(trace: Trace, loads: list[float], throttle_target: float, lag: int = 3) -> float | None:
    """The cheapest ideal reactive policy that throttles no more than `throttle_target` (a fraction of load):
    capacity = ⌈H × the peak load of the last W minutes, seen `lag` minutes late⌉, in place instantly (no reshard
    time, no API limits, no alarm periods: better than anything that reads CloudWatch can do). Returns its cost in
    USD (shard-hours at list price + PUT units), or None if no H, W on the grid meets the target."""
    prices = Prices()
    total = sum(loads) or 1.0
    units = sum(put_units(b, r) for b, r in zip(trace.bytes, trace.records, strict=True))
    best: float | None = None
    for window in (60, 360, 1440, 3 * 1440, 7 * 1440, 30 * 1440):
        for headroom in (1.25, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0):
            dq: deque[tuple[int, float]] = deque()
            refused = 0.0
            shard_minutes = 0
            first = max(loads[:60])
            for t, load in enumerate(loads):
                s = t - lag
                if s >= 0:
                    while dq and dq[-1][1] <= loads[s]:
                        dq.pop()
                    dq.append((s, loads[s]))
                while dq and dq[0][0] < t - window:
                    dq.popleft()
                cap = max(1, math.ceil(headroom * (dq[0][1] if dq else first) - 1e-9))
                refused += max(0.0, load - cap)
                shard_minutes += cap
            if refused / total <= throttle_target:
                cost = shard_minutes / 60 * prices.shard_hour + units / 1e6 * prices.put_units_per_million
                best = cost if best is None else min(best, cost)
    return best


def hold_bound_cost(trace: Trace, loads: list[float]) -> float:
    """The cheapest any policy can be under the 24-hour scale-down rule: capacity never below the peak 5-minute
    load of the last 24 hours (a stream merges only once every 5-minute datapoint of the lookback is below half its
    capacity, and never below that peak), with no headroom and instant scale-up. USD, as bound_cost."""
    prices = Prices()
    five = [sum(loads[i : i + 5]) / 5 for i in range(0, len(loads), 5)]
    dq: deque[tuple[int, float]] = deque()
    shard_minutes = 0
    for m in range(len(loads)):
        b = m // 5
        if not dq or dq[-1][0] != b:
            while dq and dq[-1][1] <= five[b]:
                dq.pop()
            dq.append((b, five[b]))
        while dq[0][0] <= b - 288:
            dq.popleft()
        shard_minutes += max(1, math.ceil(dq[0][1] - 1e-9))
    units = sum(put_units(b, r) for b, r in zip(trace.bytes, trace.records, strict=True))
    return shard_minutes / 60 * prices.shard_hour + units / 1e6 * prices.put_units_per_million


def run(capacity_mode: str = "auto") -> list[dict[str, Any]]:
    logging.getLogger("autoscaler").setLevel(logging.ERROR)
    rows = []
    for trace, skew, origin, config in cases():
        started = time.perf_counter()
        sim = simulate(trace, config=config, settings=SimSettings(skew=skew, capacity_mode=capacity_mode))
        seconds = time.perf_counter() - started
        f = sim.figures
        a, od = f["autoscaler"], f["on-demand"]
        median = statistics.median(sim.loads)
        steady = max(sim.loads) <= STEADY_PEAK_TO_MEDIAN * median
        checks = {
            "throttled ≤ on-demand + 0.01 pp": a["throttled_bytes_fraction"]
            <= od["throttled_bytes_fraction"] + THROTTLE_SLACK,
            "cost ≤ on-demand": a["cost_usd"] <= od["cost_usd"],
        }
        if steady:
            checks[f"steady: cost ≤ {STEADY_COST}× on-demand"] = a["cost_vs_on_demand"] <= STEADY_COST
        if trace.name == "nyc_taxi":
            checks[f"≤ {TIME_LIMIT_S:.0f} s"] = seconds <= TIME_LIMIT_S
        bound = hold = None
        # the bound assumes even traffic over the keys
        if not checks["throttled ≤ on-demand + 0.01 pp"] and not skew.share:
            cost = bound_cost(trace, sim.loads, od["throttled_bytes_fraction"])
            bound = None if cost is None else cost / od["cost_usd"]
        if not checks.get("cost ≤ on-demand", True):
            hold = hold_bound_cost(trace, sim.loads) / od["cost_usd"]
        # on-demand pre-warmed (Advantage's warm throughput) at the peaks that recurred daily (7 days) or weekly
        # (4 weeks) around the same time: what pre-warming from the history would buy
        warm = [
            max(d, w)
            for d, w in zip(
                baselines.recurring_peaks(sim.loads, 1440, 7),
                baselines.recurring_peaks(sim.loads, 7 * 1440, 4),
                strict=True,
            )
        ]
        prewarmed = baselines.on_demand(trace, sim.loads, skew=skew, warm=warm)
        prewarm_throttled = sum(prewarmed.ledger.refused_bytes) / (sum(trace.bytes) or 1.0)
        rows.append(
            {
                "trace": trace.name,
                "origin": origin,
                "skew": skew,
                "config": sim.stream,
                "minutes": trace.minutes,
                "median": median,
                "steady": steady,
                "peak": max(sim.loads),
                "seconds": seconds,
                "figures": f,
                "checks": checks,
                "bound_vs_on_demand": bound,
                "hold_bound_vs_on_demand": hold,
                "prewarm_throttled": prewarm_throttled,
            }
        )
    return rows


def read_config(read_side: bool, consumers: int) -> AutoscalerConfig:
    """The built-in defaults with the read side on (declaring the consumers) or off (write-only)."""
    cfg = default_config()
    stream = dataclasses.replace(cfg.streams[0], read_side=read_side, read_consumers=consumers)
    source = f"built-in defaults + read_side: {'true' if read_side else 'false'}, read_consumers: {consumers}"
    return dataclasses.replace(cfg, source=source, streams=(stream,))


def run_reads() -> list[dict[str, Any]]:
    """The read-side figure: each read-bound trace, as generated (checked) and with 5 consumers (reported)."""
    logging.getLogger("autoscaler").setLevel(logging.ERROR)
    out = []
    for gen in READ_GENERATORS.values():
        s = gen()
        assert s.reads is not None
        for consumers in (s.reads.consumers, READ_UNCHECKED_CONSUMERS):
            settings = SimSettings(
                skew=s.skew, capacity_mode="provisioned", read_consumers=consumers, lagging=s.reads.pauses
            )
            started = time.perf_counter()
            on = simulate(s.trace, config=read_config(True, consumers), settings=settings)
            off = simulate(s.trace, config=read_config(False, consumers), policies=("autoscaler",), settings=settings)
            seconds = time.perf_counter() - started
            a, w = on.figures["autoscaler"], off.figures["autoscaler"]
            checks = {}
            if consumers == s.reads.consumers:
                checks = {
                    f"read throttled ≤ {READ_THROTTLE_TARGET:.0%}": a["read_throttled_bytes_fraction"]
                    <= READ_THROTTLE_TARGET,
                    f"≤ {READ_VS_WRITE_ONLY:g}× write-only's": a["read_throttled_bytes_fraction"]
                    <= READ_VS_WRITE_ONLY * w["read_throttled_bytes_fraction"],
                }
            figures = {"autoscaler": a, "autoscaler (write-only)": w}
            figures.update({k: v for k, v in on.figures.items() if k != "autoscaler"})
            out.append(
                {
                    "trace": s.trace.name,
                    "description": s.description,
                    "model": on.reads,
                    "consumers": consumers,
                    "minutes": s.trace.minutes,
                    "seconds": seconds,
                    "figures": figures,
                    "checks": checks,
                }
            )
    return out


def read_row(name: str, f: dict[str, Any]) -> str:
    """One policy of the read-side figure as a Markdown row (summary.md and simulator.md)."""
    catch = f["read_catch_up_minutes"]
    return (
        f"| {name} | {f['read_throttled_bytes_fraction']:.3%} | {f['read_throttled_calls_fraction']:.3%} | "
        f"{age(f['max_iterator_age_seconds'])} | {f['minutes_readers_behind']:,} | "
        f"{'never' if catch is None else f'{catch:,} min'} | {f['throttled_bytes_fraction']:.3%} | "
        f"{f['cost_vs_on_demand']:.2f}× | " + (f"{f['max_shards']:,}" if f["max_shards"] is not None else "-") + " |"
    )


READ_HEADER = [
    "| policy | reads throttled (bytes late) | GetRecords calls throttled | worst iterator age | minutes readers "
    "behind (> 60 s) | lagging consumer caught up in | writes throttled | cost vs on-demand | max shards |",
    "|---|---|---|---|---|---|---|---|---|",
]
READ_POLICIES = ("autoscaler", "autoscaler (write-only)", "on-demand")


def read_lines(reads: list[dict[str, Any]], policies: tuple[str, ...] = READ_POLICIES) -> list[str]:
    """The read-side figure as Markdown: per trace and consumer count, a table of `policies`, then the checks."""
    lines: list[str] = []
    for r in reads:
        lines += [
            f"**{r['trace']}, {r['consumers']} polling consumers** ({r['model'].describe()}; "
            f"{r['minutes']:,} minutes, simulated in {r['seconds']:.1f} s"
            + ("; reported, not checked" if not r["checks"] else "")
            + ")",
            "",
            *READ_HEADER,
            *(read_row(p, r["figures"][p]) for p in policies if p in r["figures"]),
            "",
        ]
        if r["checks"]:
            lines += ["Figures: " + ", ".join(f"{k} {'OK' if ok else 'MISSED'}" for k, ok in r["checks"].items()), ""]
    return lines


def report_reads(reads: list[dict[str, Any]]) -> bool:
    ok = True
    for r in reads:
        f = r["figures"]
        missed = [k for k, v in r["checks"].items() if not v]
        ok &= not missed
        a, w, od = f["autoscaler"], f["autoscaler (write-only)"], f["on-demand"]
        print(
            f"read side, {r['trace']} with {r['consumers']} consumers ({r['seconds']:.1f} s): reads throttled "
            f"{a['read_throttled_bytes_fraction']:.3%} with read_side on, {w['read_throttled_bytes_fraction']:.3%} "
            f"write-only, {od['read_throttled_bytes_fraction']:.3%} on-demand; worst iterator age "
            f"{age(a['max_iterator_age_seconds'])} / {age(w['max_iterator_age_seconds'])} / "
            f"{age(od['max_iterator_age_seconds'])}; cost {a['cost_vs_on_demand']:.2f}× / "
            f"{w['cost_vs_on_demand']:.2f}× on-demand; "
            + ("reported" if not r["checks"] else "all figures OK" if not missed else f"MISSED: {missed}")
        )
    return ok


def geomean_cost(rows: list[dict[str, Any]], against: str = "cost_vs_on_demand") -> float:
    """The geometric mean of the autoscaler's cost ratios over every trace (a ratio of 0 counts as 1e-9)."""
    ratios = [max(1e-9, r["figures"]["autoscaler"][against]) for r in rows]
    return math.exp(sum(math.log(x) for x in ratios) / len(ratios))


def write(
    rows: list[dict[str, Any]],
    provisioned: list[dict[str, Any]],
    path: Path = RESULTS,
    reads: list[dict[str, Any]] | None = None,
) -> str:
    lines = [
        "# Simulator: the autoscaler against its alternatives",
        "",
        "Generated by `make bench` (or `python -m bench.simulator`); do not edit by hand. `capacity_mode: auto`, "
        "built-in defaults (no `--config`), metric delay 120 s, UPDATING 30 s per split or merge and 120 s per "
        "UpdateShardCount, "
        "us-east-1 list prices (on-demand Standard and Advantage). Loads in shard-equivalents (1 = 1 MiB/s or "
        "1,000 records/s).",
        "",
        f"Geometric mean of the autoscaler's cost over every trace: {geomean_cost(rows):.2f}× on-demand "
        f"(target ≤ {GEOMEAN_COST}×), {geomean_cost(rows, 'cost_vs_on_demand_advantage'):.2f}× on-demand Advantage. "
        f"Provisioned mode alone: {geomean_cost(provisioned):.2f}× on-demand.",
        "",
    ]
    alone = {r["trace"]: r["figures"]["autoscaler"] for r in provisioned}
    for r in rows:
        checks = ", ".join(f"{k} {'OK' if ok else 'MISSED'}" for k, ok in r["checks"].items())
        lines += [
            f"## {r['trace']}",
            "",
            f"{r['origin']}. {r['minutes']:,} minutes ({r['minutes'] / 1440:.1f} days), median load "
            f"{r['median']:.2f}, peak {r['peak']:.1f}"
            + (f", {r['skew'].share:.0%} of writes on {r['skew'].width:.0%} of the keys" if r["skew"].share else "")
            + f". Simulated in {r['seconds']:.1f} s"
            + (" with shard_level_metrics: true" if r["config"].shard_level_metrics else "")
            + ".",
            "",
            markdown(r["figures"]),
            "",
            f"Figures: {checks}. Provisioned mode alone: throttled "
            f"{alone[r['trace']]['throttled_bytes_fraction']:.3%}, cost "
            f"{alone[r['trace']]['cost_vs_on_demand']:.2f}× on-demand. On-demand pre-warmed at the daily and weekly "
            f"recurring peaks: throttled {r['prewarm_throttled']:.3%} (on-demand "
            f"{r['figures']['on-demand']['throttled_bytes_fraction']:.3%}).",
        ]
        if r["bound_vs_on_demand"] is not None:
            lines.append(
                f"Feasibility bound: the cheapest ideal reactive policy (capacity = H × the peak of the last W "
                f"minutes seen 3 minutes late, in place instantly) that throttles no more than on-demand costs "
                f"{r['bound_vs_on_demand']:.2f}× on-demand."
            )
        if r["hold_bound_vs_on_demand"] is not None:
            lines.append(
                f"Cost bound: under the 24-hour scale-down rule capacity never drops below the last 24 hours' peak "
                f"5-minute load; holding exactly that (no headroom, instant scale-up) costs "
                f"{r['hold_bound_vs_on_demand']:.2f}× on-demand."
            )
        lines.append("")
    if reads:
        lines += [
            "## The read side: read-bound traffic",
            "",
            "Provisioned mode, built-in defaults with `read_side: true` and `read_consumers` set to the consumers "
            '(the autoscaler), or `read_side: false` (write-only). The read model: docs/simulator.md, "Reads". '
            "Every policy, then the figure.",
            "",
        ]
        for r in reads:
            lines += [f"### {r['trace']}, {r['consumers']} polling consumers", "", markdown(r["figures"]), ""]
        lines += read_lines(reads)
    text = "\n".join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


def report(rows: list[dict[str, Any]]) -> bool:
    ok = True
    for r in rows:
        a = r["figures"]["autoscaler"]
        missed = [k for k, v in r["checks"].items() if not v]
        ok &= not missed
        od = r["figures"]["on-demand"]
        print(
            f"simulate {r['trace']}: {r['seconds']:.1f} s; autoscaler throttled {a['throttled_bytes_fraction']:.3%} "
            f"(polling {r['figures']['polling']['throttled_bytes_fraction']:.3%}, on-demand "
            f"{od['throttled_bytes_fraction']:.3%}), cost {a['cost_vs_on_demand']:.2f}× on-demand, "
            f"{a['cost_vs_on_demand_advantage']:.2f}× Advantage, {a['mode_switches']} mode switches, "
            f"{a['minutes_on_demand'] / max(1, r['minutes']):.0%} of the time on-demand, shard-hours "
            + (f"{a['shard_hours_vs_oracle']:.2f}× oracle; " if a["shard_hours_vs_oracle"] is not None else "none; ")
            + ("all figures OK" if not missed else f"MISSED: {missed}")
        )
        if r["bound_vs_on_demand"] is not None:
            print(
                f"  feasibility bound: an ideal reactive policy matching on-demand costs {r['bound_vs_on_demand']:.2f}×"
            )
        if r["hold_bound_vs_on_demand"] is not None:
            print(f"  cost bound: holding the 24 h peak exactly costs {r['hold_bound_vs_on_demand']:.2f}× on-demand")
    geo = geomean_cost(rows)
    ok &= geo <= GEOMEAN_COST
    print(
        f"geometric mean of the cost ratios: {geo:.2f}× on-demand (target ≤ {GEOMEAN_COST}×) "
        + ("OK" if geo <= GEOMEAN_COST else "MISSED")
        + f", {geomean_cost(rows, 'cost_vs_on_demand_advantage'):.2f}× Advantage"
    )
    print(f"  written to {RESULTS.relative_to(ROOT.parent)}")
    return ok


def main() -> int:
    rows, provisioned, reads = run("auto"), run("provisioned"), run_reads()
    write(rows, provisioned, reads=reads)
    ok = report(rows)
    ok &= report_reads(reads)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
