"""Which capacity mode a stream should be in (issue 13, `capacity_mode: auto`): a pure decision with its reason.

The evidence is the stream's own history replayed under each mode with the cost model (the estimates are computed by
the caller: a replay needs the simulator). The rule, asymmetric on purpose — "never worse than on-demand" comes
first, cost second:

- On-demand is the safe side. A provisioned stream whose provisioned estimate throttles more than on-demand's
  (+ `throttle_slack`) goes on-demand, whatever the cost, with no dwell time.
- Cost moves a stream only by a margin, and only after a dwell: provisioned → on-demand when on-demand costs less
  than provisioned × (1 − margin); on-demand → provisioned when provisioned costs less than on-demand × (1 − margin)
  and throttles no more (+ slack). Between the two, the stream stays where it is (hysteresis), and neither move
  comes sooner than `min_dwell_seconds` after the last switch, so the mode never flaps.
- AWS allows two switches per stream per 24 h (docs/capacity-modes.md §4). A move to provisioned is made only with
  both left, so one always remains to come back to on-demand. A move to on-demand needs a free on-demand stream in
  the account's quota (DescribeLimits), and a stream UPDATING is not switched.
- Less than `min_history_seconds` (a day: one daily cycle) of history is no evidence: the stream stays where it is.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import NamedTuple

from autoscaler.core.model import StreamMode

SWITCHES_PER_24H = 2  # UpdateStreamMode: "twice within 24 hours" per stream (docs/capacity-modes.md §4)
DAY_SECONDS = 86_400
MARGIN = 0.2  # a cost move needs the other mode cheaper by 20%
MIN_DWELL_SECONDS = 7 * DAY_SECONDS  # no cost move sooner than a week after the last switch
MIN_HISTORY_SECONDS = DAY_SECONDS  # one daily cycle before any judgement


class ModeReason(enum.StrEnum):
    THROTTLE = "throttle"  # provisioned would throttle more than on-demand: to on-demand
    CHEAPER = "cheaper"  # the other mode costs less by the margin (and, to provisioned, throttles no more)
    KEEP = "keep"  # the current mode is as good, or the other does not win by the margin
    DWELL = "dwell"  # the other mode wins on cost, but the last switch is too recent
    SWITCH_BUDGET = "switch_budget"  # AWS's two switches per 24 h, one always kept to return to on-demand
    QUOTA = "quota"  # no free on-demand stream in the account's quota
    BUSY = "busy"  # the stream is not ACTIVE
    SHORT_HISTORY = "short_history"  # too little history to judge


class ModeEstimate(NamedTuple):
    """One mode's expected figures over the history replayed."""

    cost_usd: float
    throttled_fraction: float  # of the bytes written


class ModeInput(NamedTuple):
    stream: str
    current: StreamMode
    provisioned: ModeEstimate
    on_demand: ModeEstimate
    history_seconds: float
    now: float
    switches: Sequence[float] = ()  # epoch seconds of this stream's mode switches (any age; the last 24 h count)
    active: bool = True
    on_demand_quota_free: bool = True  # OnDemandStreamCount < OnDemandStreamCountLimit
    margin: float = MARGIN
    throttle_slack: float = 0.0001  # 0.01 percentage points
    min_dwell_seconds: float = MIN_DWELL_SECONDS
    min_history_seconds: float = MIN_HISTORY_SECONDS


class ModeDecision(NamedTuple):
    stream: str
    current: StreamMode
    target: StreamMode
    reason: ModeReason
    message: str

    @property
    def switches(self) -> bool:
        return self.target is not self.current


def decide_mode(inp: ModeInput) -> ModeDecision:
    """Keep the current mode or switch, with the reason (see the module docstring for the rule)."""
    prov, od = inp.provisioned, inp.on_demand
    figures = (
        f"provisioned ${prov.cost_usd:,.2f} throttling {prov.throttled_fraction:.3%}, "
        f"on-demand ${od.cost_usd:,.2f} throttling {od.throttled_fraction:.3%}"
    )

    def keep(reason: ModeReason, why: str) -> ModeDecision:
        return ModeDecision(inp.stream, inp.current, inp.current, reason, f"{why} ({figures})")

    def switch(target: StreamMode, reason: ModeReason, why: str) -> ModeDecision:
        return ModeDecision(inp.stream, inp.current, target, reason, f"{why} ({figures})")

    if inp.history_seconds < inp.min_history_seconds:
        days = inp.history_seconds / DAY_SECONDS
        return keep(
            ModeReason.SHORT_HISTORY, f"{days:.1f} days of history, {inp.min_history_seconds / DAY_SECONDS:g} needed"
        )
    throttles_more = prov.throttled_fraction > od.throttled_fraction + inp.throttle_slack
    used = sum(1 for t in inp.switches if inp.now - DAY_SECONDS < t <= inp.now)
    since = inp.now - max(inp.switches, default=float("-inf"))
    if inp.current is StreamMode.PROVISIONED:
        if throttles_more:
            target, reason, why = StreamMode.ON_DEMAND, ModeReason.THROTTLE, "provisioned would throttle more"
        elif od.cost_usd < prov.cost_usd * (1 - inp.margin):
            target, reason, why = (
                StreamMode.ON_DEMAND,
                ModeReason.CHEAPER,
                f"on-demand is cheaper by > {inp.margin:.0%}",
            )
        else:
            return keep(ModeReason.KEEP, "provisioned is as good")
        if reason is ModeReason.CHEAPER and since < inp.min_dwell_seconds:
            return keep(ModeReason.DWELL, f"{why}, but the last switch was {since / 3600:.0f} h ago")
        if used >= SWITCHES_PER_24H:
            return keep(ModeReason.SWITCH_BUDGET, f"{why}, but {used} switches in the last 24 h")
        if not inp.on_demand_quota_free:
            return keep(ModeReason.QUOTA, f"{why}, but the account's on-demand stream quota is full")
    else:
        if throttles_more or not prov.cost_usd < od.cost_usd * (1 - inp.margin):
            return keep(
                ModeReason.KEEP, "on-demand is as good" if not throttles_more else "provisioned would throttle more"
            )
        target, reason, why = (
            StreamMode.PROVISIONED,
            ModeReason.CHEAPER,
            f"provisioned is cheaper by > {inp.margin:.0%}",
        )
        if since < inp.min_dwell_seconds:
            return keep(ModeReason.DWELL, f"{why}, but the last switch was {since / 3600:.0f} h ago")
        if used > 0:  # one switch must remain to come back to on-demand within the 24 h
            return keep(ModeReason.SWITCH_BUDGET, f"{why}, but {used} switch in the last 24 h (one is kept)")
    if not inp.active:
        return keep(ModeReason.BUSY, f"{why}, but the stream is not ACTIVE")
    return switch(target, reason, why)
