"""`capacity_mode: auto` in the simulator: the stream switches between provisioned and on-demand by the core's
decision (core/capacity_mode.py), judged on its own history.

Both modes run over the whole trace as shadows: the autoscaler's replay (provisioned, the real services) and the
on-demand model. Every `every_seconds` (the fleet job's decision cadence) the decision reads each shadow's cost and
throttled share over the trailing `window_minutes` — the stream's own history replayed under each mode, which is
what the Lambda's estimator does from CloudWatch — and switches when the rule says so, within AWS's two switches
per 24 h. The auto stream serves each minute as the shadow of the mode in place does, billed in that mode.

Assumptions, the conservative readings of docs/capacity-modes.md:
- After a switch the stream keeps its shards ("initially retains whatever shard count it had", both directions),
  and how fast the new mode adapts is not documented: for `transition_minutes` after a switch a minute refuses
  what the worse of the two shadows refuses, and is billed in the new mode.
- The decision waits for `min_history_seconds` of trace (no history before the trace).

Simplifications, each small against the figures and left for the Lambda's estimator to get right:
- Back in provisioned, the stream serves and bills the provisioned shadow's count, not the count on-demand left it
  (AWS keeps it; the autoscaler's decay would then bring it down over a few runs): cost is understated meanwhile.
- The on-demand side is priced as the on-demand run given (Standard in `simulate`), for the decision and the bill.
- On-demand minutes carry no shard-level metric cost (AWS bills enhanced monitoring per shard there too): the
  decision and the bill leave it out alike.
"""

from __future__ import annotations

from itertools import accumulate
from typing import NamedTuple

from autoscaler.core.capacity_mode import (
    MARGIN,
    MIN_DWELL_SECONDS,
    MIN_HISTORY_SECONDS,
    RECENT_SECONDS,
    ModeEstimate,
    ModeInput,
    decide_mode,
)
from autoscaler.core.model import StreamMode
from autoscaler.simulator.ledger import Activity, Ledger, PolicyRun, totals
from autoscaler.simulator.prices import Prices, on_demand_billed_bytes, on_demand_cost, provisioned_cost


class AutoOptions(NamedTuple):
    every_seconds: int = 3600  # decisions every hour (6 h measured: geomean 0.72× instead of 0.70×)
    window_minutes: int = 30 * 1440  # the history judged: 30 days, as on-demand's own memory
    recent_minutes: int = RECENT_SECONDS // 60  # "did the move to provisioned pay?" looks at its last day
    transition_minutes: int = 60
    start: StreamMode = StreamMode.ON_DEMAND  # create-streams creates a capacity_mode auto stream on-demand
    margin: float = MARGIN
    min_dwell_seconds: float = MIN_DWELL_SECONDS
    min_history_seconds: float = MIN_HISTORY_SECONDS


def minute_costs(run: PolicyRun, prices: Prices, on_demand: bool) -> list[float]:
    """Each minute's cost of a shadow in its own mode: the billing formulas of prices.py on that minute's shards,
    accepted PUT units or billed bytes, so what the decision weighs is what the ledger bills (shard-level metrics
    included)."""
    led, tr = run.ledger, run.ledger.trace
    units = totals(tr).units
    out = []
    for m in range(tr.minutes):
        b, r = tr.bytes[m], tr.records[m]
        kept = 1.0 - (led.refused_bytes[m] / b if b > 0 else 0.0)
        if on_demand:
            out.append(on_demand_cost(1 / 60, on_demand_billed_bytes(b * kept, r * kept), prices, run.billing))
        else:
            out.append(provisioned_cost(led.shards[m] / 60, units[m] * kept, prices, run.shard_metrics))
    return out


def auto_mode(
    provisioned: PolicyRun, on_demand: PolicyRun, prices: Prices, opts: AutoOptions | None = None
) -> PolicyRun:
    """The auto stream's run: `provisioned` is the autoscaler's replay, `on_demand` the on-demand model (Standard or
    Advantage: its prices are the account's) over the same trace."""
    opts = opts or AutoOptions()
    tr = provisioned.ledger.trace
    n = tr.minutes
    p_led, od_led = provisioned.ledger, on_demand.ledger
    cost_p = [0.0, *accumulate(minute_costs(provisioned, prices, False))]
    cost_od = [0.0, *accumulate(minute_costs(on_demand, prices, True))]
    ref_p = [0.0, *accumulate(p_led.refused_bytes)]
    ref_od = [0.0, *accumulate(od_led.refused_bytes)]
    written = [0.0, *accumulate(tr.bytes)]

    mode = opts.start
    switches: list[float] = []
    changed_at = -(10**9)
    led = Ledger(tr)
    t_units = totals(tr).units
    step = max(1, opts.every_seconds // 60)
    notes: list[str] = []
    for m in range(n):
        now = tr.start + m * 60
        if m and m % step == 0:

            def figures(lo: int, m: int = m) -> tuple[ModeEstimate, ModeEstimate]:
                total = written[m] - written[lo] or 1.0
                return (
                    ModeEstimate(cost_p[m] - cost_p[lo], (ref_p[m] - ref_p[lo]) / total),
                    ModeEstimate(cost_od[m] - cost_od[lo], (ref_od[m] - ref_od[lo]) / total),
                )

            est_p, est_od = figures(max(0, m - opts.window_minutes))
            recent = None
            if mode is StreamMode.PROVISIONED and changed_at >= 0:  # provisioned by a switch: did it pay?
                recent = figures(max(changed_at, m - opts.recent_minutes))
            d = decide_mode(
                ModeInput(
                    "simulated",
                    mode,
                    est_p,
                    est_od,
                    recent=recent,
                    history_seconds=m * 60,
                    now=now,
                    switches=tuple(switches),
                    margin=opts.margin,
                    min_dwell_seconds=opts.min_dwell_seconds,
                    min_history_seconds=opts.min_history_seconds,
                    # back in provisioned the stream has the shadow's count (the first simplification above),
                    # which the replay kept inside the stream's bounds
                    shards=p_led.shards[m],
                )
            )
            if d.switches:
                switches.append(now)
                mode, changed_at = d.target, m
                if len(notes) < 20:
                    notes.append(f"minute {m}: to {d.target.value}, {d.reason.value}")
        b, r = tr.bytes[m], tr.records[m]
        transition = m - changed_at < opts.transition_minutes
        refused_b = (
            max(p_led.refused_bytes[m], od_led.refused_bytes[m])
            if transition
            else (p_led.refused_bytes[m] if mode is StreamMode.PROVISIONED else od_led.refused_bytes[m])
        )
        kept = 1.0 - (refused_b / b if b > 0 else 0.0)
        led.refused_bytes[m] = refused_b
        led.refused_records += r * (1.0 - kept)
        if mode is StreamMode.PROVISIONED:
            led.shards[m] = p_led.shards[m]
            led.capacity[m] = p_led.capacity[m]
            led.units += t_units[m] * kept
        else:
            led.capacity[m] = od_led.capacity[m]
            led.on_demand_minutes += 1
            led.billed_bytes += on_demand_billed_bytes(b * kept, r * kept)
    act = provisioned.activity
    activity = Activity(
        act.reshard_operations,
        act.update_shard_count_calls,
        act.minutes_updating,
        (
            f"{len(switches)} mode switches, decided every {opts.every_seconds // 3600} h",
            "reshard figures are the provisioned shadow's over the whole trace (an upper bound)",
            *notes,
        ),
        mode_switches=len(switches),
        capped_by_max_shards=act.capped_by_max_shards,
    )
    return PolicyRun("auto", led, activity, on_demand.billing, provisioned.shard_metrics)
