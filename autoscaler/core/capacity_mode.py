"""Which capacity mode a stream should be in (issue 13, `capacity_mode: auto`): a pure decision with its reason.

The evidence is the stream's own history replayed under each mode with the cost model (the estimates are computed by
the caller: a replay needs the simulator). The rule, asymmetric on purpose — "never worse than on-demand" comes
first, cost second:

- On-demand is the safe side. A provisioned stream whose provisioned estimate throttles more than on-demand's
  (+ `throttle_slack`) goes on-demand, whatever the cost, with no dwell time.
- Cost moves a stream only by a margin, and only after a dwell: provisioned → on-demand when on-demand costs less
  than provisioned × (1 − margin); on-demand → provisioned when provisioned costs less than on-demand × (1 − margin)
  and throttles no more (+ slack). Between the two, the stream stays where it is (hysteresis). A cost move to
  provisioned comes no sooner than `min_dwell_seconds` (a week) after the last switch, a cost move back to on-demand
  no sooner than `min_dwell_to_on_demand_seconds` (a day): a round trip takes at least 8 days, and a move to
  provisioned that proves dear is undone the next day, not a week later.
- AWS allows two switches per stream per 24 h (docs/capacity-modes.md §4). A move to provisioned is made only with
  both left, so one always remains to come back to on-demand. A move to on-demand needs a free on-demand stream in
  the account's quota (DescribeLimits), and a stream UPDATING is not switched.
- A move to provisioned is undone when it does not pay: provisioned by our switch for at least a day, and the last
  day (RECENT_SECONDS) cost more than on-demand would have. The 30-day window is slow to see a burst that came after
  the move; the last day is not.
- Less than `min_history_seconds` (6 h) of history is no evidence: the stream stays where it is (a new capacity_mode
  auto stream is created on-demand, the safe side).
- A move to provisioned needs the stream's shard count inside [min_shards, max_shards] (the switch keeps the count
  on-demand left, and no provisioned stream of ours may be outside its bounds).

`capacity_mode: provisioned` never switches; `capacity_mode: on-demand` switches a provisioned stream to on-demand
(within the same budget, quota and ACTIVE rules) and never back.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import NamedTuple

from autoscaler.core.model import StreamMode

SWITCHES_PER_24H = 2  # UpdateStreamMode: "twice within 24 hours" per stream (docs/capacity-modes.md §4)
DAY_SECONDS = 86_400
MARGIN = 0.2  # a cost move needs the other mode cheaper by 20%
MIN_DWELL_SECONDS = 7 * DAY_SECONDS  # no cost move to provisioned sooner than a week after the last switch
# ... and back to on-demand (the safe side) a day after: a move to provisioned that proves dear is undone quickly
MIN_DWELL_TO_ON_DEMAND_SECONDS = DAY_SECONDS
# Six hours of history before any judgement. A day cost the short steady traces their half of on-demand (hot_key
# 0.63×); six hours is safe because a move to provisioned that does not pay is undone a day later (RECENT_SECONDS).
MIN_HISTORY_SECONDS = 6 * 3600
RECENT_SECONDS = DAY_SECONDS  # "did provisioned pay?" is judged on the last day in provisioned


class ModePolicy(enum.StrEnum):
    """A stream's `capacity_mode` in the config."""

    PROVISIONED = "provisioned"  # today's behaviour: resharded by the autoscaler; never switched
    ON_DEMAND = "on-demand"  # kept on-demand: switched there if found provisioned (resharded as usual until then)
    AUTO = "auto"  # the autoscaler chooses by decide_mode and switches


class ModeReason(enum.StrEnum):
    THROTTLE = "throttle"  # provisioned would throttle more than on-demand: to on-demand
    CHEAPER = "cheaper"  # the other mode costs less by the margin (and, to provisioned, throttles no more)
    UNPAID = "unpaid"  # provisioned since our switch, and its last day cost more than on-demand would have
    KEEP = "keep"  # the current mode is as good, or the other does not win by the margin
    DWELL = "dwell"  # the other mode wins on cost, but the last switch is too recent
    SWITCH_BUDGET = "switch_budget"  # AWS's two switches per 24 h, one always kept to return to on-demand
    QUOTA = "quota"  # no free on-demand stream in the account's quota
    CONFIGURED = "configured"  # capacity_mode provisioned or on-demand: the config decides, not the evidence
    BOUNDS = "bounds"  # back to provisioned would leave the count on-demand left outside [min_shards, max_shards]
    BUSY = "busy"  # the stream is not ACTIVE
    SHORT_HISTORY = "short_history"  # too little history to judge


class ModeEstimate(NamedTuple):
    """One mode's expected figures over the history replayed."""

    cost_usd: float
    throttled_fraction: float  # of the bytes written


class ModeEvidence(NamedTuple):
    """A stream's history replayed under each mode (the estimator's answer)."""

    provisioned: ModeEstimate
    on_demand: ModeEstimate
    history_seconds: float  # how much history the replay had
    # (provisioned, on-demand) over the last RECENT_SECONDS since `provisioned_since`, when asked for
    recent: tuple[ModeEstimate, ModeEstimate] | None = None
    peak_mibps: float = 0.0  # the history's highest one-minute write rate (warm throughput on a switch to on-demand)


class ModeInput(NamedTuple):
    stream: str
    current: StreamMode
    provisioned: ModeEstimate | None  # None: not estimated (a configured mode needs no evidence)
    on_demand: ModeEstimate | None
    history_seconds: float
    now: float
    switches: Sequence[float] = ()  # epoch seconds of this stream's mode switches (any age; the last 24 h count)
    active: bool = True
    on_demand_quota_free: bool = True  # OnDemandStreamCount < OnDemandStreamCountLimit
    margin: float = MARGIN
    throttle_slack: float = 0.0001  # 0.01 percentage points
    min_dwell_seconds: float = MIN_DWELL_SECONDS
    min_dwell_to_on_demand_seconds: float = MIN_DWELL_TO_ON_DEMAND_SECONDS
    min_history_seconds: float = MIN_HISTORY_SECONDS
    # (provisioned, on-demand) over the last RECENT_SECONDS the stream spent provisioned since our last switch to it
    # (None: not provisioned by a switch of ours)
    recent: tuple[ModeEstimate, ModeEstimate] | None = None
    policy: ModePolicy = ModePolicy.AUTO
    shards: int | None = None  # open shards now (None: unknown, no move to provisioned)
    min_shards: int = 1
    max_shards: int = 10_000


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
        f" (provisioned ${prov.cost_usd:,.2f} throttling {prov.throttled_fraction:.3%}, "
        f"on-demand ${od.cost_usd:,.2f} throttling {od.throttled_fraction:.3%})"
        if prov is not None and od is not None
        else ""
    )

    def keep(reason: ModeReason, why: str) -> ModeDecision:
        return ModeDecision(inp.stream, inp.current, inp.current, reason, f"{why}{figures}")

    def switch(target: StreamMode, reason: ModeReason, why: str) -> ModeDecision:
        return ModeDecision(inp.stream, inp.current, target, reason, f"{why}{figures}")

    used = sum(1 for t in inp.switches if inp.now - DAY_SECONDS < t <= inp.now)
    since = inp.now - max(inp.switches, default=float("-inf"))

    def to_on_demand(reason: ModeReason, why: str) -> ModeDecision:
        if used >= SWITCHES_PER_24H:
            return keep(ModeReason.SWITCH_BUDGET, f"{why}, but {used} switches in the last 24 h")
        if not inp.on_demand_quota_free:
            return keep(ModeReason.QUOTA, f"{why}, but the account's on-demand stream quota is full")
        if not inp.active:
            return keep(ModeReason.BUSY, f"{why}, but the stream is not ACTIVE")
        return switch(StreamMode.ON_DEMAND, reason, why)

    if inp.policy is ModePolicy.PROVISIONED:
        return keep(ModeReason.CONFIGURED, "capacity_mode: provisioned (never switched)")
    if inp.policy is ModePolicy.ON_DEMAND:
        if inp.current is StreamMode.ON_DEMAND:
            return keep(ModeReason.CONFIGURED, "capacity_mode: on-demand")
        return to_on_demand(ModeReason.CONFIGURED, "capacity_mode: on-demand")
    if prov is None or od is None or inp.history_seconds < inp.min_history_seconds:
        days = inp.history_seconds / DAY_SECONDS
        return keep(
            ModeReason.SHORT_HISTORY, f"{days:.1f} days of history, {inp.min_history_seconds / DAY_SECONDS:g} needed"
        )
    throttles_more = prov.throttled_fraction > od.throttled_fraction + inp.throttle_slack
    if inp.current is StreamMode.PROVISIONED:
        if throttles_more:
            return to_on_demand(ModeReason.THROTTLE, "provisioned would throttle more")
        paid = inp.recent
        if paid is not None and since >= inp.min_dwell_to_on_demand_seconds and paid[1].cost_usd < paid[0].cost_usd:
            return to_on_demand(
                ModeReason.UNPAID,
                f"the move to provisioned did not pay: its last day cost ${paid[0].cost_usd:,.2f}, on-demand "
                f"would have cost ${paid[1].cost_usd:,.2f}",
            )
        if not od.cost_usd < prov.cost_usd * (1 - inp.margin):
            return keep(ModeReason.KEEP, "provisioned is as good")
        why = f"on-demand is cheaper by > {inp.margin:.0%}"
        if since < min(inp.min_dwell_to_on_demand_seconds, inp.min_dwell_seconds):
            return keep(ModeReason.DWELL, f"{why}, but the last switch was {since / 3600:.0f} h ago")
        return to_on_demand(ModeReason.CHEAPER, why)
    if throttles_more or not prov.cost_usd < od.cost_usd * (1 - inp.margin):
        return keep(
            ModeReason.KEEP, "on-demand is as good" if not throttles_more else "provisioned would throttle more"
        )
    why = f"provisioned is cheaper by > {inp.margin:.0%}"
    if since < inp.min_dwell_seconds:
        return keep(ModeReason.DWELL, f"{why}, but the last switch was {since / 3600:.0f} h ago")
    if used > 0:  # one switch must remain to come back to on-demand within the 24 h
        return keep(ModeReason.SWITCH_BUDGET, f"{why}, but {used} switch in the last 24 h (one is kept)")
    if inp.shards is None or not inp.min_shards <= inp.shards <= inp.max_shards:
        return keep(
            ModeReason.BOUNDS,
            f"{why}, but the stream's {inp.shards if inp.shards is not None else 'unknown'} shards are outside "
            f"[min_shards, max_shards] = [{inp.min_shards}, {inp.max_shards}] (the switch keeps the count)",
        )
    if not inp.active:
        return keep(ModeReason.BUSY, f"{why}, but the stream is not ACTIVE")
    return switch(StreamMode.PROVISIONED, ModeReason.CHEAPER, why)


def favoured_mode(evidence: ModeEvidence, throttle_slack: float = 0.0001) -> StreamMode:
    """The mode the evidence alone favours, with no margin, dwell or AWS limit: on-demand when provisioned would
    throttle more (+ slack) or cost more; else provisioned. What `plan capacity-mode` reports for every stream."""
    prov, od = evidence.provisioned, evidence.on_demand
    if prov.throttled_fraction > od.throttled_fraction + throttle_slack or od.cost_usd < prov.cost_usd:
        return StreamMode.ON_DEMAND
    return StreamMode.PROVISIONED
