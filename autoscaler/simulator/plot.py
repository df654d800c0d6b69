"""One PNG of a simulation, read at a glance: load and each policy's capacity, when each policy throttled, and
where the autoscaler's shard-hours beyond the oracle's come from.

matplotlib is an optional extra (`kinesis-autoscaler[plot]`): it is imported only when a plot is drawn, and drawn
with the Agg renderer on a figure of its own (no display, no pyplot state shared with the caller).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from autoscaler.core.errors import AutoscalerError
from autoscaler.simulator.ledger import PolicyRun
from autoscaler.simulator.simulate import Simulation

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MAX_POINTS = 3_000  # points drawn per series at most: more is slower and no more readable
LOG_SCALE_RATIO = 20  # peak / median load above which the load axis is logarithmic
MISSING = "plotting needs matplotlib: pip install 'kinesis-autoscaler[plot]'"


class Style(NamedTuple):
    color: str
    width: float
    line: str = "-"
    layer: int = 10  # higher is drawn on top


STYLES = {
    "autoscaler": Style("#1f5fbf", 2.2, layer=20),
    "polling": Style("#e07b00", 1.1, layer=11),
    "on-demand": Style("#2a9d4a", 1.2, layer=12),
    "on-demand-advantage": Style("#2a9d4a", 1.2, "--", layer=12),  # the same capacity as on-demand, cheaper
    "oracle": Style("#222222", 0.8, ":", layer=13),
    "fixed": Style("#8e44ad", 1.0, layer=14),
}
FALLBACK = Style("#777777", 1.0)
LOAD_COLOR = "#d4d4d4"
SHORT_COLOR = "#d62728"


def bucket_width(minutes: int, points: int = MAX_POINTS) -> int:
    """Minutes per bucket so that at most `points` buckets cover the trace: ⌈minutes / points⌉, at least 1."""
    return max(1, math.ceil(minutes / points))


def bucket_max(values: Sequence[float], width: int) -> list[float]:
    """The max of each run of `width` values (the last run may be shorter): a peak is never averaged away."""
    return [max(values[i : i + width]) for i in range(0, len(values), width)]


def bucket_mean(values: Sequence[float], width: int) -> list[float]:
    """The mean of each run of `width` values: the area under the series (shard-hours) is kept."""
    return [sum(values[i : i + width]) / min(width, len(values) - i) for i in range(0, len(values), width)]


def bucket_any(values: Sequence[float], width: int) -> list[bool]:
    """Whether any value of each run of `width` values is > 0: one throttled minute marks its whole bucket."""
    return [max(values[i : i + width]) > 0 for i in range(0, len(values), width)]


def log_scale(loads: Sequence[float]) -> bool:
    """Whether the load axis is logarithmic: the peak is more than LOG_SCALE_RATIO × the median (or the median is 0
    and the peak is not), so a linear axis would flatten everything but the peak."""
    peak = max(loads, default=0.0)
    if peak <= 0:
        return False
    median = statistics.median(loads)
    return median == 0 or peak / median > LOG_SCALE_RATIO


def runs_of(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """(first index, length) of each run of consecutive True flags."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i - start))
            start = None
    return out


def on_demand_flags(run: PolicyRun) -> list[float]:
    """1.0 for each minute the run served in on-demand mode (a provisioned minute has at least one shard), else 0.0."""
    if not run.ledger.on_demand_minutes:
        return [0.0] * len(run.ledger.shards)
    return [1.0 if s == 0 else 0.0 for s in run.ledger.shards]


def mixed_mode(run: PolicyRun) -> bool:
    """The run spent some minutes in each mode (capacity_mode: auto switched)."""
    return 0 < run.ledger.on_demand_minutes < run.ledger.trace.minutes


def percent(fraction: float) -> str:
    """A throttled fraction as the operator reads it: 0%, 0.0003%, 0.18%, 44.1%."""
    pct = 100 * fraction
    if pct == 0:
        return "0%"
    if pct >= 10:
        return f"{pct:.1f}%"
    if pct >= 0.01:
        return f"{pct:.2f}%"
    return f"{pct:.1g}%"


class Buckets(NamedTuple):
    """The x positions (matplotlib date numbers, days) of buckets of `width` minutes: bucket i covers
    [x[i], x[i + 1]); the one extra edge at the trace's end lets steps drawn "post" reach it."""

    width: int
    x: list[float]

    @property
    def days(self) -> float:
        return self.width / 1440

    @property
    def label(self) -> str:
        return "minute" if self.width == 1 else f"{self.width} minutes"


def with_end(values: list[float]) -> list[float]:
    """A bucketed series with its last value repeated at the trace's end edge (len(values) + 1 points)."""
    return [*values, values[-1]]


def plot(sim: Simulation, path: str | Path, *, title: str | None = None) -> Path:
    """Draw the simulation to a PNG at `path` and return that path. Raises AutoscalerError without matplotlib or
    when the file cannot be written."""
    try:
        import matplotlib.dates
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise AutoscalerError(MISSING) from None

    mdates: Any = matplotlib.dates  # matplotlib.dates ships no type hints
    out = Path(path)
    if not out.parent.is_dir():
        raise AutoscalerError(f"{out}: cannot write the plot (no directory {out.parent})")
    trace = sim.trace
    runs = {run.name: run for run in sim.runs}
    width = bucket_width(trace.minutes)
    first = datetime.fromtimestamp(trace.start, UTC)
    day0 = float(mdates.date2num(first))
    n = math.ceil(trace.minutes / width)
    buckets = Buckets(width, [day0 + i * width / 1440 for i in range(n)] + [day0 + trace.minutes / 1440])
    gap = "autoscaler" in runs and "oracle" in runs

    heights = [5.0] + ([0.35 * len(runs) + 0.6] if runs else []) + ([2.2] if gap else [])
    fig = Figure(figsize=(14, sum(heights) + 1.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # Agg renders the PNG: no display, no pyplot state
    axes: list[Axes] = list(fig.subplots(len(heights), 1, sharex=True, height_ratios=heights, squeeze=False)[:, 0])
    days = trace.minutes / 1440
    fig.suptitle(
        title or f"{trace.name}: {days:,.1f} days from {first:%Y-%m-%d %H:%M} UTC",
        fontsize=14,
        fontweight="bold",
    )
    _load_panel(axes[0], sim, buckets)
    if runs:
        _throttle_panel(axes[1], sim, buckets)
    if gap:
        _gap_panel(axes[-1], sim, buckets)
    locator = mdates.AutoDateLocator(tz=UTC)
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    axes[-1].set_xlim(buckets.x[0], buckets.x[-1])
    axes[-1].set_xlabel("time (UTC)")
    try:
        fig.savefig(out, format="png")
    except OSError as exc:
        raise AutoscalerError(f"{out}: cannot write the plot ({exc.strerror or exc})") from None
    finally:
        fig.clear()
    return out


def _load_panel(ax: Axes, sim: Simulation, buckets: Buckets) -> None:
    from matplotlib.artist import Artist
    from matplotlib.patches import Patch

    load = bucket_max(sim.loads, buckets.width)
    capacity = {run.name: bucket_max(run.ledger.capacity, buckets.width) for run in sim.runs}
    log = log_scale(sim.loads)
    floor = 0.0
    if log:
        peak = max(sim.loads)
        positive = [v for series in (load, *capacity.values()) for v in series if v > 0]
        # Zero cannot be drawn on a log axis: fill down to just below the smallest value drawn.
        floor = max(min(positive) / 1.5, peak * 1e-5)
        ax.set_yscale("log")
    ax.fill_between(buckets.x, with_end(load), floor, step="post", color=LOAD_COLOR, linewidth=0, zorder=1)
    handles: list[Artist] = []
    for name, cap in capacity.items():
        style = STYLES.get(name, FALLBACK)
        (line,) = ax.step(
            buckets.x,
            with_end(cap),
            where="post",
            color=style.color,
            linewidth=style.width,
            linestyle=style.line,
            label=name,
            zorder=style.layer,
        )
        handles.append(line)
    handles.append(Patch(color=LOAD_COLOR, label="traffic load"))
    auto = next((run for run in sim.runs if run.name == "autoscaler" and mixed_mode(run)), None)
    if auto is not None:  # capacity_mode auto: shade when the autoscaler's stream was on-demand
        flags = bucket_any(on_demand_flags(auto), buckets.width)
        for start, length in runs_of(flags):
            ax.axvspan(
                buckets.x[start], buckets.x[start + length], color=STYLES["on-demand"].color, alpha=0.1, zorder=0
            )
        handles.append(Patch(color=STYLES["on-demand"].color, alpha=0.1, label="autoscaler in on-demand mode"))
    ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1, 1), ncols=len(handles), fontsize=9, frameon=False)
    ax.set_ylim(bottom=floor)
    ax.set_ylabel("shard-equivalents" + (" (log)" if log else ""))
    ax.set_title(f"load and capacity (max of each {buckets.label})", loc="left", fontsize=11)
    ax.grid(True, alpha=0.3)


def _throttle_panel(ax: Axes, sim: Simulation, buckets: Buckets) -> None:
    labels = []
    for row, run in enumerate(sim.runs):
        flags = bucket_any(run.ledger.refused_bytes, buckets.width)
        color = STYLES.get(run.name, FALLBACK).color
        bars = [(buckets.x[start], length * buckets.days) for start, length in runs_of(flags)]
        # The edge line keeps a lone throttled bucket (narrower than a pixel on a long trace) visible.
        ax.broken_barh(bars, (row - 0.35, 0.7), facecolors=color, edgecolors=color, linewidth=0.6)
        fraction = sim.figures.get(run.name, {}).get("throttled_bytes_fraction")
        labels.append(f"{run.name}  {percent(fraction) if fraction is not None else '?'}")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_title(
        f"when each policy throttled (marked: any refused write in the {buckets.label}) · % of bytes refused",
        loc="left",
        fontsize=11,
    )
    ax.grid(True, axis="x", alpha=0.3)


def _gap_panel(ax: Axes, sim: Simulation, buckets: Buckets) -> None:
    runs = {run.name: run for run in sim.runs}
    # minutes the autoscaler's stream was on-demand have no shards of its own: no gap to show there
    diff = [
        0.0 if od else float(a - o)
        for a, o, od in zip(
            runs["autoscaler"].ledger.shards,
            runs["oracle"].ledger.shards,
            on_demand_flags(runs["autoscaler"]),
            strict=True,
        )
    ]
    mean = with_end(bucket_mean(diff, buckets.width))
    for above, color, alpha, label in (
        (True, STYLES["autoscaler"].color, 0.55, "autoscaler holds more"),
        (False, SHORT_COLOR, 0.7, "autoscaler holds fewer"),
    ):
        where = [v >= 0 if above else v <= 0 for v in mean]
        ax.fill_between(
            buckets.x, mean, 0, where=where, step="post", color=color, alpha=alpha, linewidth=0, label=label
        )
    # The outline keeps a gap of a single bucket (narrower than a pixel on a long trace) visible.
    ax.step(buckets.x, mean, where="post", color="#333333", linewidth=0.5)
    ax.axhline(0, color="#444444", linewidth=0.6)
    ratio = sim.figures.get("autoscaler", {}).get("shard_hours_vs_oracle")
    note = f"shard-hours vs oracle: {ratio:.2f}×" if ratio is not None else "shard-hours vs oracle: n/a"
    ax.set_title(f"autoscaler shards − oracle shards (mean of each {buckets.label}) · {note}", loc="left", fontsize=11)
    ax.set_ylabel("shards")
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), fontsize=9, ncols=2, frameon=False)
    ax.grid(True, alpha=0.3)
