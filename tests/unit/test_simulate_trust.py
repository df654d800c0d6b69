"""What makes the simulator's rows trustworthy to an operator (issue 14, "Local and lifecycle"): a saved backtest
history replays to the same rows, a history too short to judge says so, and throttling that max_shards caused is
told apart from the policy's. (Which config simulate and backtest read: test_simulate_config.py.)"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.config import AutoscalerConfig, parse_config
from autoscaler.core.model import History
from autoscaler.simulator import baselines
from autoscaler.simulator.simulate import (
    SimSettings,
    cap_figures,
    cap_warning,
    check_history,
    default_config,
    simulate,
)
from autoscaler.simulator.trace import Trace, from_history, load_csv, write_csv

pytestmark = pytest.mark.unit
MiB = 1_048_576
SHARD_MIN = 60 * MiB
T0 = 1_700_000_000 // 3600 * 3600


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="autoscaler")  # the replay runs many invocations


def trace_of(loads: list[float], name: str = "t") -> Trace:
    """Per-minute loads in shard-equivalents, bytes leading (2 KiB records)."""
    b = [x * SHARD_MIN for x in loads]
    return Trace(name, T0, b, [x / 2048 for x in b])


def a_history() -> History:
    """What backtest reads for `--days 20`: 5-minute Sums beyond 15 days, 1-minute ones after, with what made the
    saved trace differ before: a first period with no writes (a 0 datapoint: the trace starts there), Sums that are
    not whole numbers (a 5-minute Sum of 1,001 bytes is 200.2 a minute), a minute missing every 7 (no writes), a burst
    past the stream's max_shards, and quiet minutes at the end."""
    rows: list[tuple[int, int, float, float]] = [(T0, 300, 0.0, 0.0)]
    t = T0 + 300
    for i in range(2 * 288):
        load = 1.2 + math.sin(i / 40)
        rows.append((t, 300, load * 5 * SHARD_MIN + 1.0, load * 5 * SHARD_MIN / 3000 + 0.3))
        t += 300
    for i in range(1440):
        if i % 7 != 3:
            load = 1.3 + math.sin(i / 200) + (9.0 if 600 <= i < 660 else 0.0)
            rows.append((t, 60, load * SHARD_MIN + 0.7, load * SHARD_MIN / 3000 + 0.1))
        t += 60
    rows += [(t, 60, 0.0, 0.0), (t + 60, 60, 0.0, 0.0)]
    return History("orders", tuple(rows), "CloudWatch orders (test)")


def capped_config(max_shards: int = 5) -> AutoscalerConfig:
    return parse_config(
        f"streams:\n  - {{name: orders, min_shards: 1, max_shards: {max_shards}, desired_shards: 2}}\n",
        source="s.yaml",
    )


# -- 1. a saved history replays to the same rows -----------------------------------------------------------------


def test_a_saved_history_reads_back_as_the_same_trace(tmp_path: Path) -> None:
    trace = from_history(a_history())
    write_csv(trace, tmp_path / "orders.csv")
    again = load_csv(tmp_path / "orders.csv")
    assert (again.start, again.minutes) == (trace.start, trace.minutes)  # the quiet first and last minutes kept
    assert list(again.bytes) == list(trace.bytes)  # to the bit: 1,001 / 5 is 200.2, not 200
    assert list(again.records) == list(trace.records)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False),
            st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_write_csv_then_load_csv_is_the_identity(tmp_path_factory: pytest.TempPathFactory, minutes: Any) -> None:
    """Any per-minute trace, zeros and gaps included (writes every other minute once read as 2-minute Sums)."""
    trace = Trace("t", T0, [b for b, _ in minutes], [r for _, r in minutes])
    path = tmp_path_factory.mktemp("rt") / "t.csv"
    write_csv(trace, path)
    again = load_csv(path)
    assert (again.start, again.minutes, list(again.bytes), list(again.records)) == (
        trace.start,
        trace.minutes,
        list(trace.bytes),
        list(trace.records),
    )


def test_simulating_the_saved_history_gives_the_rows_of_the_history(tmp_path: Path) -> None:
    """What `backtest --save-trace F` then `simulate --trace F` do with the same config, stream and options."""
    trace = from_history(a_history())
    write_csv(trace, tmp_path / "orders.csv")
    cfg = capped_config()
    backtest = simulate(trace, config=cfg, stream="orders").as_json()
    replay = simulate(load_csv(tmp_path / "orders.csv"), config=cfg, stream="orders").as_json()
    assert backtest["policies"]["autoscaler"]["throttled_bytes_fraction"] > 0  # the burst is in the figures
    assert replay["trace"] == "orders"  # the file is named as the stream: every field is the same
    assert json.dumps(replay, sort_keys=True) == json.dumps(backtest, sort_keys=True)


# -- 2. a history too short to judge ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "mode", "lookback_hours", "expected"),
    [
        # the scale-down reads 24 h: 23 h is short, 24 h is enough
        (23, "provisioned", 24, ["less than the scale-down's 24 h lookback"]),
        (24, "provisioned", 24, []),
        # under 6 h the 6-hourly scale-down never ran at all; with auto, the mode decision never judged either
        (5, "provisioned", 24, ["covers 5 h, less than the scale-down's 24 h lookback; the scheduled scale-down"]),
        (5, "auto", 24, ["24 h lookback", "auto decides nothing before 6 h of history and the trace covers 5 h"]),
        (7, "auto", 24, ["24 h lookback"]),
        # the lookback is the stream's: 2 h of it judged on a 3 h trace is enough
        (3, "provisioned", 2, []),
        (3, "auto", 2, ["auto decides nothing before 6 h"]),
        # an on-demand row replays no decision
        (1, "on-demand", 24, []),
    ],
)
def test_the_history_is_too_short_when_a_decision_could_not_see_what_it_needs(
    hours: int, mode: str, lookback_hours: int, expected: list[str]
) -> None:
    stream = dataclasses.replace(default_config().streams[0], scale_down_lookback_hours=lookback_hours)
    check = check_history(trace_of([1.0] * hours * 60), stream, mode, SimSettings())
    assert len(check.warnings) == len(expected)
    for warning, text in zip(check.warnings, expected, strict=True):
        assert text in warning
    assert check.too_short == bool(expected)
    assert check.as_json()["scale_down_lookback_minutes"] == lookback_hours * 60
    assert check.as_json()["capacity_mode_min_minutes"] == (360 if mode == "auto" else None)


def test_a_short_trace_warns_in_the_json_and_a_long_one_does_not() -> None:
    short = simulate(trace_of([1.0] * 180), policies=("autoscaler", "on-demand")).as_json()
    assert short["history"] == {
        "minutes": 180,
        "too_short": True,
        "scale_down_lookback_minutes": 1440,
        "capacity_mode_min_minutes": None,
    }
    assert len(short["warnings"]) == 1 and "history too short to judge" in short["warnings"][0]
    assert "may understate what this stream costs and throttles" in short["warnings"][0]
    # without the autoscaler row there is no decision to judge
    assert simulate(trace_of([1.0] * 180), policies=("on-demand",)).as_json()["warnings"] == []
    day = simulate(trace_of([1.0] * 1440), policies=("autoscaler",)).as_json()
    assert day["history"]["too_short"] is False and day["warnings"] == []


# -- 3. throttling max_shards caused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_shards", "fraction", "minutes"),
    [
        # fixed at 2 shards; loads 1, 3, 3, 1 (8 shard-minutes written): minutes 1 and 2 carry 3 on 2 shards and
        # refuse a third each (1 shard-minute), at max_shards 2: 2 / 8 of all bytes, in 2 minutes
        (2, 2 / 8, 2),
        # max_shards 3: the stream was below it, so the throttling is not the cap's
        (3, 0.0, 0),
    ],
)
def test_the_throttling_at_max_shards_is_the_bytes_refused_while_at_it(
    max_shards: int, fraction: float, minutes: int
) -> None:
    tr = trace_of([1.0, 3.0, 3.0, 1.0])
    run = baselines.fixed(tr, tr.loads(), count=2)
    got = cap_figures(run, max_shards, tr)
    assert got["throttled_bytes_fraction_at_max_shards"] == pytest.approx(fraction)
    assert got["throttled_minutes_at_max_shards"] == minutes


def test_a_replay_held_at_max_shards_says_so_and_one_below_it_does_not() -> None:
    # 2 h at 1.5 shards, 3 h at 6 (the autoscaler would take 12), 19 h back at 1.5: a day, so no history warning
    step = trace_of([1.5] * 120 + [6.0] * 180 + [1.5] * 1140)
    capped = simulate(step, config=capped_config(5), policies=("autoscaler",))
    a = capped.figures["autoscaler"]
    assert 0 < a["throttled_bytes_fraction_at_max_shards"] <= a["throttled_bytes_fraction"]
    assert a["throttled_minutes_at_max_shards"] > 0 and a["scale_ups_capped_by_max_shards"] > 0
    [warning] = capped.warnings
    assert warning.startswith("max_shards throttled it:") and "at max_shards (5)" in warning
    assert "raise it" in warning and warning in a["notes"]
    assert capped.as_json()["warnings"] == [warning]
    roomy = simulate(step, config=capped_config(64), policies=("autoscaler",)).figures["autoscaler"]
    assert roomy["throttled_bytes_fraction"] > 0  # the step is met late: the policy's own throttling
    assert roomy["throttled_bytes_fraction_at_max_shards"] == 0 and roomy["scale_ups_capped_by_max_shards"] == 0
    assert cap_warning(roomy, 64) is None
    # auto mode's row carries the provisioned shadow's count of capped decisions
    auto = simulate(step, config=capped_config(5), policies=("autoscaler",), settings=SimSettings(capacity_mode="auto"))
    assert auto.figures["autoscaler"]["scale_ups_capped_by_max_shards"] == a["scale_ups_capped_by_max_shards"]
