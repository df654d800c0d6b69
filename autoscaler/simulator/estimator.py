"""EstimatorPort for `capacity_mode: auto` in the Lambda: the stream's own CloudWatch history replayed by the simulator
under each mode, the way `kinesis-autoscaler backtest` does it for an operator.

The replay is the provisioned autoscaler (the real services on the in-memory doubles, with this stream's config) and
the on-demand model, over the last EVIDENCE_DAYS; each mode's figures are the simulator's (simulator/ledger.py
summarise: one cost formula for the bill, the bench and this). Built by the composition root with a history reader,
so app/ never imports the simulator.

What it cannot see, and why that is the safe side: IncomingBytes counts accepted writes only, so a stream that threw
writes away while provisioned shows less demand than it had — both modes are judged on the same under-count, and
the on-demand side is the one that would have taken the lost writes.
"""

from __future__ import annotations

from collections.abc import Callable

from autoscaler.config import AutoscalerConfig, StreamConfig, Tunables
from autoscaler.core.capacity_mode import RECENT_SECONDS, ModeEstimate, ModeEvidence
from autoscaler.core.model import History, OnDemandPricing
from autoscaler.simulator.auto import minute_costs
from autoscaler.simulator.ledger import PolicyRun
from autoscaler.simulator.simulate import SimSettings, simulate
from autoscaler.simulator.trace import from_history

EVIDENCE_DAYS = 30  # the window the decision judges (simulator/auto.py AutoOptions.window_minutes)

HistoryReader = Callable[[str, int, float], History]  # (stream, days, now) -> History; raises MetricsUnavailable


class HistoryEstimator:
    def __init__(
        self,
        read_history: HistoryReader,
        *,
        alarm_name_prefix: str,
        days: int = EVIDENCE_DAYS,
        settings: SimSettings | None = None,
    ) -> None:
        self.read_history = read_history
        self.alarm_name_prefix = alarm_name_prefix
        self.days = days
        self.settings = (settings or SimSettings())._replace(capacity_mode="provisioned")

    def estimate(
        self,
        cfg: StreamConfig,
        now: float,
        pricing: OnDemandPricing = OnDemandPricing.STANDARD,
        provisioned_since: float | None = None,
    ) -> ModeEvidence:
        trace = from_history(self.read_history(cfg.name, self.days, now))
        config = AutoscalerConfig("estimator", self.alarm_name_prefix, Tunables(), (cfg,))
        # Advantage: no stream-hour and a lower per-GB price; the account's commitment is billed whatever this
        # stream does (an account-wide floor, not this stream's cost), so it is left out of the comparison.
        od_row = "on-demand-advantage" if pricing is OnDemandPricing.ADVANTAGE else "on-demand"
        sim = simulate(trace, config=config, stream=cfg.name, policies=("autoscaler", od_row), settings=self.settings)
        prov, od = sim.figures["autoscaler"], sim.figures[od_row]
        recent = None
        if provisioned_since is not None:  # the last day since the switch: the replay's minutes from there on
            runs = {r.name: r for r in sim.runs}
            start = max(provisioned_since, now - RECENT_SECONDS)
            lo = min(trace.minutes, max(0, int(start - trace.start) // 60))
            written = sum(trace.bytes[lo:]) or 1.0

            def over(run: PolicyRun, on_demand: bool) -> ModeEstimate:
                cost = sum(minute_costs(run, self.settings.prices, on_demand)[lo:])
                return ModeEstimate(cost, sum(run.ledger.refused_bytes[lo:]) / written)

            recent = (over(runs["autoscaler"], False), over(runs[od_row], True))
        return ModeEvidence(
            ModeEstimate(float(prov["cost_usd"]), float(prov["throttled_bytes_fraction"])),
            ModeEstimate(float(od["cost_usd"]), float(od["throttled_bytes_fraction"])),
            history_seconds=trace.minutes * 60.0,
            recent=recent,
            peak_mibps=max(trace.bytes, default=0.0) / 60 / 1_048_576,
        )
