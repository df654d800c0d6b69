"""The simulation plot: a PNG is written, the bucketing keeps what the operator must see, matplotlib stays optional."""

from __future__ import annotations

import builtins
import math
import struct
from pathlib import Path
from typing import Any

import pytest

from autoscaler.core.errors import AutoscalerError
from autoscaler.simulator.plot import (
    MAX_POINTS,
    bucket_any,
    bucket_max,
    bucket_mean,
    bucket_width,
    log_scale,
    percent,
    plot,
    runs_of,
)
from autoscaler.simulator.simulate import Simulation, default_config, simulate
from autoscaler.simulator.trace import SHARD_BYTES_PER_MINUTE, from_rows

pytestmark = pytest.mark.unit
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
START = 1_404_172_800  # 2014-07-01T00:00:00Z
ROW = 300  # 5-minute rows


def small_trace_rows(days: int = 3) -> list[tuple[int, float, float]]:
    """A daily wave between 2 and 10 shard-equivalents with a 40-equivalent burst on day 2 at noon."""
    rows = []
    for i in range(days * 1440 * 60 // ROW):
        t = START + i * ROW
        minute_of_day = (i * ROW // 60) % 1440
        load = 6 + 4 * math.sin(2 * math.pi * minute_of_day / 1440)
        if 1440 + 720 <= i * ROW // 60 < 1440 + 780:
            load = 40.0
        rows.append((t, load * SHARD_BYTES_PER_MINUTE * ROW / 60, 1_000.0 * ROW / 60))
    return rows


@pytest.fixture(scope="module")
def sim() -> Simulation:
    pytest.importorskip("matplotlib")
    return simulate(from_rows("small", small_trace_rows(), source="test"))


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk: 8 magic bytes, 4 length, 4 type, then 4 + 4 big-endian."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_plot_writes_a_png_of_sane_size(sim: Simulation, tmp_path: Path) -> None:
    out = plot(sim, tmp_path / "small.png", title="3 days, 5-minute rows")
    assert out == tmp_path / "small.png"
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert 20_000 < out.stat().st_size < 3_000_000
    width, height = png_size(out)
    assert width == 1400  # 14 in at 100 dpi
    assert 900 < height < 1300  # three panels


def test_plot_accepts_a_string_path_and_returns_a_path(sim: Simulation, tmp_path: Path) -> None:
    out = plot(sim, str(tmp_path / "small.png"))
    assert isinstance(out, Path)
    assert out.is_file()


def test_without_the_oracle_the_gap_panel_is_left_out(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    only = simulate(from_rows("small", small_trace_rows(1), source="test"), policies=("polling",))
    assert [r.name for r in only.runs] == ["polling"]
    _, height = png_size(plot(only, tmp_path / "polling.png"))
    assert height < 900  # load panel and one throttling row only


def test_an_unwritable_path_raises_autoscaler_error(sim: Simulation, tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "x.png"
    with pytest.raises(AutoscalerError, match="no-such-dir"):
        plot(sim, target)


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    fake = Simulation(from_rows("t", [(START, 1.0, 1.0)], source="test"), [0.0], [], {}, default_config().streams[0])
    with pytest.raises(AutoscalerError) as err:
        plot(fake, tmp_path / "x.png")
    assert str(err.value) == "plotting needs matplotlib: pip install 'kinesis-autoscaler[plot]'"
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("minutes", "width"),
    [
        (1, 1),
        (3_000, 1),  # exactly MAX_POINTS minutes: one a bucket
        (3_001, 2),  # ⌈3,001 / 3,000⌉ = 2 → 1,501 buckets
        (20_170, 7),  # ec2_network_in: ⌈6.72⌉ = 7 → 2,882 buckets
        (309_600, 104),  # nyc_taxi: ⌈103.2⌉ = 104 → 2,977 buckets
    ],
)
def test_bucket_width_keeps_at_most_max_points(minutes: int, width: int) -> None:
    assert bucket_width(minutes) == width
    assert math.ceil(minutes / width) <= MAX_POINTS


def test_bucket_max_keeps_each_buckets_peak() -> None:
    # [1, 5, 2 | 0, 0, 7 | 3]: the last bucket is short
    assert bucket_max([1, 5, 2, 0, 0, 7, 3], 3) == [5, 7, 3]
    assert bucket_max([4.0, 1.0], 1) == [4.0, 1.0]


def test_a_single_peak_minute_survives_nyc_taxi_sized_buckets() -> None:
    values = [1.0] * 309_600
    values[150_001] = 29.0  # in bucket 150,001 // 104 = 1,442
    out = bucket_max(values, 104)
    assert len(out) == 2_977
    assert out[1_442] == 29.0
    assert max(out) == 29.0
    assert sum(1 for v in out if v == 29.0) == 1


def test_bucket_any_marks_a_bucket_with_one_throttled_minute() -> None:
    # [0, 0, 0.5 | 0, 0, 0 | 0, 2]
    assert bucket_any([0, 0, 0.5, 0, 0, 0, 0, 2], 3) == [True, False, True]


def test_bucket_mean_keeps_the_area() -> None:
    # [1, 2, 3 | 4]: means 6 / 3 = 2 and 4 / 1 = 4; area 2 * 3 + 4 * 1 = 10 = 1 + 2 + 3 + 4
    values = [1.0, 2.0, 3.0, 4.0]
    assert bucket_mean(values, 3) == [2.0, 4.0]
    assert bucket_mean([-3.0, 1.0], 2) == [-1.0]


def test_runs_of_finds_consecutive_marks() -> None:
    assert runs_of([False, True, True, False, True]) == [(1, 2), (4, 1)]
    assert runs_of([True, True]) == [(0, 2)]
    assert runs_of([]) == []


@pytest.mark.parametrize(
    ("loads", "log"),
    [
        ([1.0, 2.0, 3.0, 40.0], False),  # 40 / median 2.5 = 16
        ([1.0, 2.0, 3.0, 60.0], True),  # 60 / 2.5 = 24
        ([10.0, 10.0, 10.0, 200.0], False),  # 200 / 10 = 20: not above the ratio
        ([10.0, 10.0, 10.0, 201.0], True),  # 20.1 > 20
        ([0.0, 0.0, 0.0, 5.0], True),  # median 0, peak 5
        ([0.0, 0.0], False),  # nothing written
    ],
)
def test_log_scale_when_peak_dwarfs_median(loads: list[float], log: bool) -> None:
    assert log_scale(loads) is log


@pytest.mark.parametrize(
    ("fraction", "text"),
    [(0.0, "0%"), (3.1e-6, "0.0003%"), (0.0588, "5.88%"), (0.1752, "17.5%"), (0.441, "44.1%")],
)
def test_percent(fraction: float, text: str) -> None:
    assert percent(fraction) == text


def test_auto_mode_shades_the_on_demand_spans_and_shows_no_gap_there(tmp_path: Path) -> None:
    """A day at 0.5 shard, then bursts provisioned cannot meet: auto starts on-demand, moves to provisioned on the
    quiet day's evidence, and back on-demand for the bursts. The on-demand minutes are flagged for the shading, and
    the gap panel shows nothing for them (no shards of the autoscaler's own)."""
    from autoscaler.simulator.plot import mixed_mode, on_demand_flags
    from autoscaler.simulator.simulate import SimSettings
    from autoscaler.simulator.trace import Trace

    loads = [0.5] * 1440
    for _ in range(16):
        loads += [20.0] * 10 + [0.5] * 170
    b = [x * SHARD_BYTES_PER_MINUTE for x in loads]
    trace = Trace("bursts", START, b, [x / 1024 for x in b], 60)
    sim = simulate(trace, settings=SimSettings(capacity_mode="auto"))
    auto = next(r for r in sim.runs if r.name == "autoscaler")
    assert mixed_mode(auto)
    flags = on_demand_flags(auto)
    assert sum(flags) == auto.ledger.on_demand_minutes and flags[0] == 1.0 and flags[-1] == 1.0
    assert 0.0 in flags  # the provisioned span between
    out = plot(sim, tmp_path / "auto.png")
    assert out.read_bytes()[:8] == PNG_MAGIC
