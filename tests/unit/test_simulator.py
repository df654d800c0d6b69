"""The simulator's own accounting on hand-computed traces, the baselines' arithmetic, the oracle's zero-throttle
property, alarm evaluation with the metric delay, and the replay of the real services (bounds, determinism)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.adapters.fakes.clock import SimClock
from autoscaler.adapters.fakes.cloudwatch import FakeAlarms, FakeMetrics
from autoscaler.core.capacity import AlarmKind, alarm_specs
from autoscaler.core.errors import TraceError
from autoscaler.core.scale_up import uniform_shards
from autoscaler.simulator import baselines
from autoscaler.simulator.alarm_eval import AlarmEvaluator
from autoscaler.simulator.ledger import Ledger, largest_ramp, summarise
from autoscaler.simulator.prices import Prices, put_units
from autoscaler.simulator.simulate import POLICIES, SimSettings, default_config, simulate
from autoscaler.simulator.synthetic import GENERATORS
from autoscaler.simulator.trace import Trace, load_csv
from autoscaler.simulator.traffic import Skew, layout_of, refused, uniform_layout
from tests.conftest import make_config

pytestmark = pytest.mark.unit
MiB = 1_048_576
SHARD_MIN = 60 * MiB  # one shard's bytes per minute
T0 = 1_700_000_000 // 3600 * 3600


def trace_of(loads: list[float], record_bytes: int = 1024, name: str = "t") -> Trace:
    """Per-minute loads in shard-equivalents, bytes-led (1 KiB records: 60 MiB = 61,440 records > 60,000, so records
    lead by 2.4%; use 2 KiB records where bytes must lead)."""
    b = [x * SHARD_MIN for x in loads]
    return Trace(name, T0, b, [x / record_bytes for x in b])


# -- traces --------------------------------------------------------------------------------------------------------


def test_csv_rows_spread_evenly_and_gaps_are_zero(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    # 5-minute rows at 00:00, 00:05 and 00:15 (00:10 missing): the period is the most common gap (300 s, the
    # 600 s gap is a missing row); 5,000 bytes / 5 = 1,000 a minute; the missing period stays 0.
    path.write_text(
        "timestamp,incoming_bytes,incoming_records\n"
        "2024-01-01T00:00:00Z,5000,50\n2024-01-01T00:05:00Z,5000,50\n2024-01-01T00:15:00Z,10000,5\n"
    )
    t = load_csv(path)
    assert t.source_period_seconds == 300
    assert list(t.bytes) == [1000.0] * 10 + [0.0] * 5 + [2000.0] * 5
    assert list(t.records) == [10.0] * 10 + [0.0] * 5 + [1.0] * 5
    assert t.start == 1_704_067_200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,b,r\n", "line 1: the header must be timestamp,incoming_bytes,incoming_records"),
        ("timestamp,incoming_bytes,incoming_records\n2024-01-01T00:00:00Z,x,1\n", "line 2: incoming_bytes 'x' is not"),
        ("timestamp,incoming_bytes,incoming_records\nyesterday,1,1\n", "line 2: timestamp 'yesterday' is not ISO"),
        ("timestamp,incoming_bytes,incoming_records\n2024-01-01T00:00:00Z,-1,1\n", "must be a finite number ≥ 0"),
        ("timestamp,incoming_bytes,incoming_records\n2024-01-01T00:00:00Z,1\n", "expected 3 columns"),
        (
            "timestamp,incoming_bytes,incoming_records\n2024-01-01T00:05:00Z,1,1\n2024-01-01T00:00:00Z,1,1\n",
            "not later than the row before it: sort the rows by time",
        ),
        ("timestamp,incoming_bytes,incoming_records\n", "no rows"),
    ],
)
def test_bad_trace_files_say_what_to_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(TraceError, match=message):
        load_csv(path)


def test_a_missing_trace_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="no such file"):
        load_csv(tmp_path / "nope.csv")


def test_shared_traces_load_with_their_documented_shape() -> None:
    root = Path(__file__).resolve().parents[2] / "bench" / "traces"
    # README: nyc_taxi 30-min rows over 7 months = 309,600 minutes; ec2 5-min over 2 weeks.
    names = ("nyc_taxi", "twitter_aapl", "ec2_network_in", "twitter_crm", "twitter_cvs", "twitter_pfe", "twitter_ups")
    # twitter_*: 5-min rows over about 8 weeks, each from its own first to its last row
    assert [load_csv(root / f"{n}.csv").minutes for n in names] == [
        309_600,
        79_510,
        20_170,
        79_510,
        79_265,
        79_290,
        79_330,
    ]


# -- serving a minute ----------------------------------------------------------------------------------------------


def test_refused_arithmetic_from_the_docstring() -> None:
    # 2 equal shards, 150 MiB and 1,000 records: each gets 75 MiB → u = 75/60 = 1.25 → keeps 1/1.25 = 80%:
    # refuses 15 MiB and 100 records each, 30 MiB and 200 records together.
    rb, rr = refused(uniform_layout(2), 150 * MiB, 1000)
    assert rb == pytest.approx(30 * MiB)
    assert rr == pytest.approx(200)


def test_a_hot_range_fills_its_shard_first() -> None:
    # 4 even shards, 50% of writes on [0.30, 0.32) (inside shard 1 = [0.25, 0.5)): shard 1 gets 0.5 × 0.25 + 0.5
    # = 0.625 of the traffic → capacity 1 / 0.625 = 1.6 shard-equivalents, not 4.
    layout = layout_of(uniform_shards(4), Skew(share=0.5, start=0.30, width=0.02))
    assert layout.capacity == pytest.approx(1.6)
    # at 2.0 shards of load: shard 1 at 1.25 refuses 1 − 1/1.25 = 20% of its 62.5% → 12.5% of all writes; the
    # others (0.125 × 2 = 0.25) refuse nothing.
    rb, _ = refused(layout, 2 * SHARD_MIN, 1.0)
    assert rb == pytest.approx(0.125 * 2 * SHARD_MIN)


def test_a_one_minute_burst_on_one_shard() -> None:
    # minutes: 0.5, 2.5, 0.5 shards of load (2 KiB records: bytes lead) on one shard. Minute 1 refuses 1.5 of 2.5 =
    # 60% of its bytes; over the trace 1.5 / 3.5 = 42.857% of bytes. PUT units: ⌈2 KiB / 25 KiB⌉ = 1 per record.
    t = trace_of([0.5, 2.5, 0.5], record_bytes=2048)
    led = Ledger(t)
    for m in range(3):
        led.serve(m, uniform_layout(1))
    assert sum(led.refused_bytes) == pytest.approx(1.5 * SHARD_MIN)
    assert led.refused_records == pytest.approx(1.5 * SHARD_MIN / 2048)
    assert led.units == pytest.approx(2.0 * SHARD_MIN / 2048)  # the accepted records: 0.5 + 1.0 + 0.5 shards' worth
    run = baselines.PolicyRun("fixed", led, baselines.Activity(0, 0, 0))
    f = summarise([run], t, Prices())["fixed"]
    assert f["throttled_bytes_fraction"] == pytest.approx(1.5 / 3.5)
    assert f["shard_hours"] == pytest.approx(3 / 60)
    assert f["throttled_minutes"] == 1


def test_a_constant_load_costs_shard_hours_and_put_units() -> None:
    # 1.5 shards of load for 120 minutes on 2 shards: nothing refused; 2 × 2 h = 4 shard-hours × $0.015 = $0.06;
    # records: 1.5 × 60 MiB / 1 KiB = 92,160 a minute × 120 = 11,059,200 units × $0.014 / 10^6 = $0.154829.
    t = trace_of([1.5] * 120)
    led = Ledger(t)
    for m in range(120):
        led.serve(m, uniform_layout(2))
    f = summarise([baselines.PolicyRun("fixed", led, baselines.Activity(0, 0, 0))], t, Prices())["fixed"]
    assert f["throttled_bytes_fraction"] == 0
    assert f["shard_hours"] == pytest.approx(4.0)
    assert f["cost_usd"] == pytest.approx(0.06 + 11_059_200 * 0.014 / 1e6)


def test_put_units_round_each_record_up_to_25_kb() -> None:
    assert put_units(10 * 1024, 10) == 10  # 1 KiB records: 1 unit each
    assert put_units(30 * 1024 * 4, 4) == 8  # 30 KiB records: ⌈30/25⌉ = 2 units each
    assert put_units(0, 0) == 0


# -- baselines -------------------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=40, allow_nan=False), min_size=1, max_size=300))
def test_the_oracle_never_throttles_and_uses_exactly_the_shards_needed(loads: list[float]) -> None:
    t = trace_of(loads, record_bytes=2048)
    run = baselines.oracle(t, t.loads())
    assert sum(run.ledger.refused_bytes) == 0
    assert run.ledger.refused_records == 0
    assert list(run.ledger.shards) == [max(1, math.ceil(x - 1e-9)) for x in t.loads()]


def test_the_oracle_matches_the_reference_shard_hours() -> None:
    # ../shared/traces/README.md: an independent model gives 59,764 oracle shard-hours on nyc_taxi.
    t = load_csv(Path(__file__).resolve().parents[2] / "bench" / "traces" / "nyc_taxi.csv")
    assert sum(baselines.oracle(t, t.loads()).ledger.shards) / 60 == pytest.approx(59_764, abs=1)


def test_fixed_defaults_to_the_count_that_covers_the_peak() -> None:
    t = trace_of([1.0, 3.2, 0.5], record_bytes=2048)
    run = baselines.fixed(t, t.loads())
    assert set(run.ledger.shards) == {4}  # ⌈3.2⌉
    assert sum(run.ledger.refused_bytes) == 0


def test_on_demand_doubles_the_peak_once_it_is_15_minutes_old() -> None:
    # 60 minutes at 3 shards of load, then 20 at 10. Start: the first hour's peak 3 → capacity max(4, 2 × 3) = 6.
    # Minutes 60–74 refuse 10 − 6 = 4 of 10 (40%); from minute 75 the peak of 10 (at minute 60) counts: 20.
    t = trace_of([3.0] * 60 + [10.0] * 20, record_bytes=2048)
    led = baselines.on_demand(t, t.loads()).ledger
    assert led.capacity[59] == 6 and led.capacity[74] == 6 and led.capacity[75] == 20
    assert sum(led.refused_bytes) == pytest.approx(15 * 4 * SHARD_MIN)


def test_on_demand_has_a_floor_of_four_shards() -> None:
    # first hour at 0.5 → 2 × 0.5 = 1 < the 4-shard floor; a rise to 3.9 fits the floor before it settles
    t = trace_of([0.5] * 60 + [3.9] * 15, record_bytes=2048)
    led = baselines.on_demand(t, t.loads()).ledger
    assert set(led.capacity) == {4.0} and sum(led.refused_bytes) == 0


def test_polling_acts_on_the_delayed_five_minute_mean() -> None:
    # Starts at ⌈first hour's peak 0.5⌉ = 1 shard; from minute 70 the load is 1.6 (2 KiB records), accepted 1.0.
    # A check at t sees minutes v with (v + 1) × 60 + 120 ≤ t. The 5-minute mean with k minutes at 1.0 and the rest
    # at 0.5 is (k + 0.5 (5 − k)) / 5 > 0.75 ⇔ k ≥ 3: minutes 70–72 published at 73 × 60 + 120 = 4,500 s, a check
    # time (45 × 100): UpdateShardCount 1 → 2 there, effective 120 s later = 4,620 s = the start of minute 77.
    t = trace_of([0.5] * 70 + [1.6] * 30, record_bytes=2048)
    run = baselines.polling(t, t.loads())
    shards = list(run.ledger.shards)
    assert shards[:77] == [1] * 77 and shards[77] == 2
    assert run.activity.update_shard_count_calls >= 1


def test_polling_respects_the_10_calls_per_24_hours() -> None:
    # A load that swings between 0.1 and 1.9 every 30 minutes asks for a change every half hour: 48 a day, AWS
    # allows 10.
    loads = [(0.1 if (m // 30) % 2 else 1.9) for m in range(1440)]
    run = baselines.polling(trace_of(loads, record_bytes=2048), loads)
    assert run.activity.update_shard_count_calls == 10
    assert any("beyond AWS's 10" in n for n in run.activity.notes)


def test_largest_ramp_starts_where_the_load_was_last_at_half_the_peak() -> None:
    assert largest_ramp([1, 5, 2, 3, 8, 10, 4]) == (3, 5)  # peak 10 at 5; last ≤ 5 before it: minute 3 (3)
    assert largest_ramp([9, 10]) == (0, 1)


# -- alarm evaluation -------------------------------------------------------------------------------------------------


def test_alarms_fire_on_the_transition_after_the_delay_and_again_after_set_ok() -> None:
    clock = SimClock(start=float(T0))
    metrics = FakeMetrics(clock, delay_seconds=120)
    alarms = FakeAlarms()
    specs = alarm_specs(
        "p", "s", 1, scale_up_threshold=0.8, period_seconds=60, evaluation_periods=2, datapoints_to_alarm=2
    )
    alarms.ensure_alarms(specs, ["arn"])
    ev = AlarmEvaluator(alarms, metrics)
    bytes_alarm = next(s.name for s in specs if s.kind is AlarmKind.INCOMING_BYTES)
    # Minutes 0 and 1 write 0.9 × 60 MiB (≥ 0.8 threshold). Minute 1 is published at 2:00 + 120 s = 4:00: both
    # breaching datapoints visible at 4:00, not before.
    for m in range(2):
        metrics.put("s", "IncomingBytes", T0 + 60 * m, 0.9 * SHARD_MIN)
    assert [a.spec.name for a in ev.evaluate(T0 + 180)] == []
    assert alarms.alarms[bytes_alarm].state == "OK"  # INSUFFICIENT_DATA → OK: missing is not breaching
    assert [a.spec.name for a in ev.evaluate(T0 + 240)] == [bytes_alarm]
    assert ev.evaluate(T0 + 240) == []  # already ALARM: no new action
    alarms.set_ok([bytes_alarm], "reset")
    assert [a.spec.name for a in ev.evaluate(T0 + 240)] == [bytes_alarm]  # still breaching: fires again


# -- the replay and the contract ----------------------------------------------------------------------------------------


def step_trace() -> Trace:
    # 2 hours at 1.5 shards, a step to 6 for 3 hours, back to 1.5 for 2 days (2 KiB records: bytes lead).
    return trace_of([1.5] * 120 + [6.0] * 180 + [1.5] * 2880, record_bytes=2048, name="step")


def test_the_autoscaler_replay_reacts_stays_in_bounds_and_is_deterministic(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="autoscaler")  # the replay runs many invocations; restored after the test
    cfg = default_config()
    first = simulate(step_trace(), config=cfg)
    again = simulate(step_trace(), config=cfg)
    assert json.dumps(first.as_json(), sort_keys=True) == json.dumps(again.as_json(), sort_keys=True)
    a = first.figures["autoscaler"]
    led = first.runs[0].ledger
    # Start: ⌈1.5⌉ = 2 shards. The step to 6 is refused until the alarm (published 2 min late), then sized by
    # demand: (accepted 2 + refused 4) × headroom 2 = 12 shards by UpdateShardCount (2 → 4 → 8 → 12).
    assert led.shards[0] == 2
    assert max(led.shards) == 12
    assert 0 < a["throttled_bytes_fraction"] < 0.05
    assert a["update_shard_count_calls"] >= 3
    assert all(1 <= n <= 10_000 for n in led.shards)
    # the quiet days after: the scheduled scale-down (every 36 h) comes back down, never below what the 24 h peak
    # needs with headroom
    assert led.shards[-1] < 12


def test_max_shards_caps_the_replay() -> None:
    from autoscaler.config import parse_config

    cfg = parse_config("streams:\n  - {name: capped, min_shards: 2, max_shards: 5, desired_shards: 2}\n")
    sim = simulate(step_trace(), config=cfg, policies=("autoscaler",))
    assert max(sim.runs[0].ledger.shards) == 5 and min(sim.runs[0].ledger.shards) >= 2


def test_json_contract_keys_and_types() -> None:
    sim = simulate(trace_of([1.0] * 90 + [2.5] * 30, record_bytes=2048))
    data = json.loads(json.dumps(sim.as_json()))
    assert data["trace"] == "t" and data["minutes"] == 120
    assert set(data["policies"]) == set(POLICIES)
    for name, f in data["policies"].items():
        for key, kind in {
            "throttled_bytes_fraction": float,
            "throttled_records_fraction": float,
            "cost_usd": float,
            "cost_vs_on_demand": float,
            "cost_vs_on_demand_advantage": float,
        }.items():
            assert isinstance(f[key], kind), (name, key)
        on_demand = name.startswith("on-demand")
        for key in ("shard_hours", "shard_hours_vs_oracle", "max_shards", "reshard_operations"):
            assert (f[key] is None) == on_demand, (name, key)
        for key in ("update_shard_count_calls", "minutes_updating"):
            assert on_demand or isinstance(f[key], int)
    assert data["policies"]["on-demand"]["cost_vs_on_demand"] == 1.0
    assert data["policies"]["on-demand-advantage"]["cost_vs_on_demand_advantage"] == 1.0
    assert data["policies"]["oracle"]["shard_hours_vs_oracle"] == 1.0


def test_advantage_has_on_demands_capacity_without_the_stream_hour_and_at_40_percent_per_gb() -> None:
    """A constant 1 shard-equivalent of 1 KiB records for 120 minutes: 120 × 60 MiB = 7.03 GiB written, all
    accepted by both (the same capacity model). Standard: 2 h × $0.04 + 7.03 × $0.08 = $0.6425; Advantage:
    7.03 × $0.032 = $0.225, and no stream-hour."""
    sim = simulate(trace_of([1.0] * 120), policies=("on-demand", "on-demand-advantage"))
    std, adv = sim.figures["on-demand"], sim.figures["on-demand-advantage"]
    gib = 120 * 60 * (1 << 20) / (1 << 30)
    assert std["cost_usd"] == pytest.approx(2 * 0.04 + gib * 0.08)
    assert adv["cost_usd"] == pytest.approx(gib * 0.032)
    assert adv["throttled_bytes_fraction"] == std["throttled_bytes_fraction"]
    assert std["cost_vs_on_demand_advantage"] == pytest.approx(std["cost_usd"] / adv["cost_usd"])


def test_policies_can_be_chosen_and_unknown_ones_are_refused() -> None:
    sim = simulate(trace_of([1.0] * 60), policies=("polling",))
    assert list(sim.figures) == ["polling"]
    with pytest.raises(ValueError, match="unknown policy 'magic'"):
        simulate(trace_of([1.0] * 60), policies=("magic",))


def test_synthetic_traces_are_deterministic() -> None:
    for gen in GENERATORS.values():
        assert gen().trace == gen().trace


def test_hot_key_with_shard_level_metrics_splits_the_hot_range() -> None:
    import dataclasses

    syn = GENERATORS["hot_key"]()
    cfg = default_config()
    cfg = dataclasses.replace(cfg, streams=(dataclasses.replace(cfg.streams[0], shard_level_metrics=True),))
    with_heat = simulate(syn.trace, config=cfg, policies=("autoscaler",), settings=SimSettings(skew=syn.skew))
    blind = simulate(syn.trace, policies=("autoscaler",), settings=SimSettings(skew=syn.skew))
    # With per-shard IncomingBytes the hot shard is split where the heat is; without it the planner can only
    # rescale evenly, which needs far more shards to spread a 2% range.
    assert with_heat.figures["autoscaler"]["throttled_bytes_fraction"] < 0.001
    assert with_heat.figures["autoscaler"]["shard_hours"] < blind.figures["autoscaler"]["shard_hours"]


# -- capacity_mode: auto (simulator/auto.py) -------------------------------------------------------------------------


def test_auto_moves_to_on_demand_once_a_day_of_history_shows_it_cheaper_and_bills_each_minute_in_its_mode() -> None:
    """3 days of a constant 1 MiB/s of 1 KiB records. Provisioned at a fixed 30 shards: 30 × $0.015 + 3,686,400 PUT
    units × $0.014/M = $0.5016/h. On-demand: $0.04 + 3.515625 GiB × $0.08 = $0.32125/h < 0.8 × $0.5016: cheaper by
    the margin. Started provisioned, with a day of history required, the first decision with a day of history
    (minute 1,440) switches; the stream is billed 24 h provisioned and 48 h on-demand:
    24 × 0.5016096 + 48 × 0.32125 = $27.4586."""
    from autoscaler.core.model import StreamMode
    from autoscaler.simulator.auto import AutoOptions, auto_mode

    tr = trace_of([1.0] * 3 * 1440)
    loads = tr.loads()
    opts = AutoOptions(start=StreamMode.PROVISIONED, min_history_seconds=86_400)
    run = auto_mode(baselines.fixed(tr, loads, count=30), baselines.on_demand(tr, loads), Prices(), opts)
    assert run.activity.mode_switches == 1 and "minute 1440: to ON_DEMAND, cheaper" in run.activity.notes
    assert run.ledger.on_demand_minutes == 2 * 1440 and list(run.ledger.shards[:1440]) == [30] * 1440
    f = summarise([run], tr, Prices())["auto"]
    assert f["cost_usd"] == pytest.approx(24 * 0.5016096 + 48 * 0.32125, rel=1e-6)
    assert (f["minutes_provisioned"], f["minutes_on_demand"], f["mode_switches"]) == (1440, 2880, 1)
    assert f["throttled_bytes_fraction"] == 0


def test_auto_moves_a_steady_stream_to_provisioned_and_the_autoscaler_row_follows_the_capacity_mode() -> None:
    """A capacity_mode auto stream starts on-demand (the safe side); the first decision with 6 h of history (minute
    360) finds provisioned cheaper by the margin and switches, once: 360 minutes billed on-demand, the rest as the
    provisioned replay bills them."""
    steady = step_trace()
    both = simulate(steady, policies=("autoscaler", "on-demand"))
    auto = simulate(steady, policies=("autoscaler",), settings=SimSettings(capacity_mode="auto")).figures["autoscaler"]
    assert auto["mode_switches"] == 1 and auto["minutes_on_demand"] == 360
    assert both.figures["autoscaler"]["cost_usd"] < auto["cost_usd"] < both.figures["on-demand"]["cost_usd"]
    od = simulate(steady, policies=("autoscaler", "on-demand"), settings=SimSettings(capacity_mode="on-demand"))
    assert od.figures["autoscaler"]["cost_usd"] == od.figures["on-demand"]["cost_usd"]
    with pytest.raises(ValueError, match="unknown capacity mode 'hybrid'"):
        simulate(steady, settings=SimSettings(capacity_mode="hybrid"))
    # with no --capacity-mode, the row follows the stream's capacity_mode in the config
    pinned = simulate(steady, config=make_config(capacity_mode="on-demand"), policies=("autoscaler", "on-demand"))
    assert pinned.figures["autoscaler"]["cost_usd"] == pinned.figures["on-demand"]["cost_usd"]


def test_auto_leaves_provisioned_for_a_burst_it_cannot_serve_and_throttles_less() -> None:
    """A day at 0.5 shard, then bursts of 40× for 10 minutes every 3 hours for 4 days: provisioned meets each burst
    late (metric delay + alarm + reshard) and throttles far more than on-demand, whose capacity remembers the 30-day
    peak; after the first day auto moves to on-demand for throttling and stays."""
    loads = [0.5] * 1440
    for _ in range(4 * 8):
        loads += [20.0] * 10 + [0.5] * 170
    tr = trace_of(loads)
    prov = simulate(tr, policies=("autoscaler", "on-demand"))
    auto = simulate(tr, policies=("autoscaler",), settings=SimSettings(capacity_mode="auto")).figures["autoscaler"]
    p, od = prov.figures["autoscaler"], prov.figures["on-demand"]
    assert p["throttled_bytes_fraction"] > od["throttled_bytes_fraction"] + 0.0001  # the premise
    assert auto["mode_switches"] >= 1 and auto["minutes_on_demand"] > 0
    assert auto["throttled_bytes_fraction"] < p["throttled_bytes_fraction"]


def test_auto_weighs_each_mode_at_what_its_ledger_bills_shard_level_metrics_included() -> None:
    """The decision's per-minute costs, summed, are the shadows' billed totals: fixed 30 shards publishing three
    shard-level metrics (30 × 3 × $0.30 / 730 per hour on top), and the on-demand model."""
    from autoscaler.simulator.auto import minute_costs

    tr = trace_of([1.0] * 600 + [3.0] * 600)
    loads = tr.loads()
    fixed = baselines.fixed(tr, loads, count=30)._replace(shard_metrics=3)
    od = baselines.on_demand(tr, loads)
    billed = summarise([fixed, od], tr, Prices())
    assert sum(minute_costs(fixed, Prices(), False)) == pytest.approx(billed["fixed"]["cost_usd"], rel=1e-9)
    assert sum(minute_costs(od, Prices(), True)) == pytest.approx(billed["on-demand"]["cost_usd"], rel=1e-9)


def test_pre_warming_at_recurring_peaks_buys_nothing_within_on_demands_30_day_memory() -> None:
    """A daily burst to 20 shard-equivalents for 10 minutes at the same time each day, over a base of 1: the
    pre-warm level (the peak ±30 min of the same time 1–7 days before) is 20 from the second day on, but on-demand's
    own capacity is already 2 × 20 = 40 by then (the first burst is 15 minutes old). Warm throughput changes nothing;
    it raises capacity only where the memory is shorter than the recurrence: a burst every 35 days."""
    day = [1.0] * 1440
    for m in range(600, 610):
        day[m] = 20.0
    tr = trace_of(day * 5)
    loads = tr.loads()
    warm = baselines.recurring_peaks(loads, 1440, 7)
    assert warm[1440 + 600] == max(loads[570:631]) > 19 and warm[600] == 0.0  # from day 2 on: day 1's burst
    plain = baselines.on_demand(tr, loads)
    warmed = baselines.on_demand(tr, loads, warm=warm)
    assert warmed.ledger.refused_bytes == plain.ledger.refused_bytes
    # a burst every 35 days has left on-demand's 30-day memory when it comes again: warm throughput covers it
    period = 35 * 1440
    rare = [1.0] * (2 * period)
    for m in (600, period + 600):
        rare[m] = 20.0
    tr2 = trace_of(rare)
    loads2 = tr2.loads()
    plain2 = baselines.on_demand(tr2, loads2)
    warmed2 = baselines.on_demand(tr2, loads2, warm=baselines.recurring_peaks(loads2, period, 1))
    # the first burst is refused alike (nothing to warm from); the second only without warm throughput
    assert sum(plain2.ledger.refused_bytes[period:]) > 0 and sum(warmed2.ledger.refused_bytes[period:]) == 0
