"""The Lambda's evidence for capacity_mode: auto (simulator/estimator.py): the history it reads, replayed by the same
simulation `backtest` runs, each mode's cost and throttled share taken from it unchanged."""

from __future__ import annotations

import pytest

from autoscaler.core.errors import MetricsUnavailable
from autoscaler.core.model import History
from autoscaler.simulator.estimator import EVIDENCE_DAYS, HistoryEstimator
from autoscaler.simulator.simulate import default_config, simulate
from autoscaler.simulator.trace import from_history

pytestmark = pytest.mark.unit
MiB = 1_048_576
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def steady(days: int, mib_per_s: float) -> History:
    """5-minute Sums at a constant rate (1 KiB records)."""
    rows = tuple((T0 + 300 * i, 300, mib_per_s * MiB * 300, mib_per_s * 1024 * 300) for i in range(days * 288))
    return History("orders", rows, "test")


def test_it_reads_the_window_and_reports_the_simulations_figures() -> None:
    asked: list[tuple[str, int, float]] = []
    history = steady(3, 2.0)

    def read(stream: str, days: int, now: float) -> History:
        asked.append((stream, days, now))
        return history

    cfg = default_config("orders").streams[0]
    evidence = HistoryEstimator(read, alarm_name_prefix="kinesis-autoscaler").estimate(cfg, T0 + 3 * 86_400)
    assert asked == [("orders", EVIDENCE_DAYS, T0 + 3 * 86_400)]
    sim = simulate(from_history(history), config=default_config("orders"), policies=("autoscaler", "on-demand"))
    assert evidence.provisioned.cost_usd == pytest.approx(sim.figures["autoscaler"]["cost_usd"])
    assert evidence.on_demand.cost_usd == pytest.approx(sim.figures["on-demand"]["cost_usd"])
    assert evidence.provisioned.throttled_fraction == sim.figures["autoscaler"]["throttled_bytes_fraction"]
    assert evidence.history_seconds == 3 * 86_400
    # a steady 2 MiB/s is what provisioned does best: it costs less than half of on-demand Standard here
    assert evidence.provisioned.cost_usd < 0.5 * evidence.on_demand.cost_usd


def test_an_unreadable_history_is_the_callers_to_report() -> None:
    def read(stream: str, days: int, now: float) -> History:
        raise MetricsUnavailable("GetMetricData: InternalError")

    cfg = default_config("orders").streams[0]
    with pytest.raises(MetricsUnavailable):
        HistoryEstimator(read, alarm_name_prefix="kinesis-autoscaler").estimate(cfg, T0)


def test_the_last_day_since_a_switch_to_provisioned_is_each_modes_own_minutes() -> None:
    """Switched to provisioned 30 h ago: the recent figures cover the last 24 h (the later of the two), and are the
    sums of the same per-minute bills the decision and the ledger use; switched 5 h ago: the last 5 h."""
    from autoscaler.simulator.auto import minute_costs
    from autoscaler.simulator.prices import Prices

    history = steady(3, 2.0)
    now = T0 + 3 * 86_400
    cfg = default_config("orders").streams[0]
    est = HistoryEstimator(lambda s, d, n: history, alarm_name_prefix="kinesis-autoscaler")
    day = est.estimate(cfg, now, provisioned_since=now - 30 * 3600).recent
    five = est.estimate(cfg, now, provisioned_since=now - 5 * 3600).recent
    assert est.estimate(cfg, now).recent is None
    assert day is not None and five is not None
    sim = simulate(from_history(history), config=default_config("orders"), policies=("autoscaler", "on-demand"))
    runs = {r.name: r for r in sim.runs}
    per_minute = minute_costs(runs["autoscaler"], Prices(), False)
    assert day[0].cost_usd == pytest.approx(sum(per_minute[-1440:]))
    assert five[0].cost_usd == pytest.approx(sum(per_minute[-300:]))
    assert day[1].cost_usd == pytest.approx(sum(minute_costs(runs["on-demand"], Prices(), True)[-1440:]))
