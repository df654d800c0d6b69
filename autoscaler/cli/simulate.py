"""`kinesis-autoscaler simulate` and `backtest`: replay traffic through the real decision code next to the
alternatives (polling, on-demand, the oracle, a fixed count), before anything is deployed.

Registered on the main CLI (autoscaler/cli/main.py); the simulator is imported only when one of these runs.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from autoscaler.core.errors import AutoscalerError, ConfigError

if TYPE_CHECKING:
    from autoscaler.config import AutoscalerConfig
    from autoscaler.simulator.simulate import SimSettings, Simulation
    from autoscaler.simulator.trace import Trace

PolicyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--policy",
        "-p",
        help="all, or policies to show (repeat or comma-separate): autoscaler, polling, on-demand, oracle, fixed",
    ),
]
SimConfigOpt = Annotated[
    str | None,
    typer.Option("--config", "-c", help="streams.yaml whose settings the autoscaler policy uses (default: built-in)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the JSON contract instead of a table")]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="write a PNG: traffic, capacity, throttling over time")]
DelayOpt = Annotated[int, typer.Option("--metric-delay", help="seconds before a minute's datapoint is published")]
SplitOpt = Annotated[float, typer.Option("--split-seconds", help="UPDATING per SplitShard / MergeShards")]
UscOpt = Annotated[float, typer.Option("--update-seconds", help="UPDATING per UpdateShardCount call")]
HotOpt = Annotated[
    str | None,
    typer.Option("--hot-key", help="SHARE[:START:WIDTH]: SHARE of writes on [START, START+WIDTH) of the key space"),
]
FixedOpt = Annotated[int | None, typer.Option("--fixed-shards", help="the fixed policy's count (default: peak)")]
ModeOpt = Annotated[
    str | None,
    typer.Option(
        "--capacity-mode",
        help="the autoscaler row's mode: provisioned, on-demand, or auto (switches by the evidence, as the hourly "
        "capacity-mode run does); default: the stream's capacity_mode in --config, else provisioned",
    ),
]
PriceOpt = Annotated[
    list[str] | None,
    typer.Option("--price", help="override a price, e.g. shard_hour=0.018 (see autoscaler/simulator/prices.py)"),
]


def _policies(values: list[str] | None) -> tuple[str, ...]:
    from autoscaler.simulator.simulate import POLICIES

    names = [p.strip() for v in (values or ["all"]) for p in v.split(",") if p.strip()]
    if not names or "all" in names:
        return POLICIES
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise typer.BadParameter(f"unknown policy {unknown[0]!r}; choose from all, {', '.join(POLICIES)}")
    return tuple(p for p in POLICIES if p in names)


def _settings(
    delay: int,
    split: float,
    usc: float,
    hot: str | None,
    fixed: int | None,
    prices: list[str] | None,
    capacity_mode: str | None = None,
) -> SimSettings:
    from autoscaler.simulator.prices import Prices
    from autoscaler.simulator.replay import ReplayOptions
    from autoscaler.simulator.simulate import CAPACITY_MODES, SimSettings
    from autoscaler.simulator.traffic import UNIFORM, Skew

    if capacity_mode is not None and capacity_mode not in CAPACITY_MODES:
        raise typer.BadParameter(f"--capacity-mode {capacity_mode!r}: choose from {', '.join(CAPACITY_MODES)}")
    skew = UNIFORM
    if hot:
        try:
            parts = [float(x) for x in hot.split(":")]
            skew = Skew(parts[0]) if len(parts) == 1 else Skew(parts[0], parts[1], parts[2])
            skew.validate()
        except (ValueError, IndexError) as exc:
            raise typer.BadParameter(f"--hot-key {hot!r}: {exc} (write e.g. 0.3 or 0.3:0.45:0.02)") from None
    price = Prices()
    for item in prices or []:
        key, _, value = item.partition("=")
        if key not in Prices._fields:
            raise typer.BadParameter(f"--price {item!r}: unknown price; one of {', '.join(Prices._fields)}")
        try:
            amount = float(value)
        except ValueError:
            raise typer.BadParameter(f"--price {item!r}: {value!r} is not a number") from None
        if not math.isfinite(amount) or amount < 0:
            raise typer.BadParameter(f"--price {item!r}: a price is a finite number ≥ 0")
        price = price._replace(**{key: amount})
    if delay < 0 or not all(math.isfinite(v) and 0 < v <= 86_400 for v in (split, usc)):
        raise typer.BadParameter(
            "--metric-delay must be ≥ 0, and --split-seconds and --update-seconds finite, > 0 and ≤ 86,400"
        )
    return SimSettings(
        replay=ReplayOptions(
            metric_delay_seconds=delay, split_seconds=split, merge_seconds=split, update_shard_count_seconds=usc
        ),
        prices=price,
        fixed_shards=fixed,
        skew=skew,
        capacity_mode=capacity_mode,
    )


def _config(path: str | None, stream: str | None) -> tuple[AutoscalerConfig | None, str | None]:
    from autoscaler.config import load_config

    if path is None:
        if stream is not None:
            raise typer.BadParameter("--stream names a stream of --config; give --config too")
        return None, None
    cfg = load_config(path)
    if stream is None and len(cfg.streams) > 1:
        raise typer.BadParameter(f"{path} lists {len(cfg.streams)} streams: name one with --stream")
    return cfg, stream


def _show(sim: Simulation, as_json: bool, plot: Path | None, seconds: float) -> None:
    from rich.console import Console

    from autoscaler.simulator.report import COLUMNS, rows

    out, err = Console(), Console(stderr=True)
    if plot is not None:
        from autoscaler.simulator.plot import plot as draw

        err.print(f"plot written to {draw(sim, plot)}")
    if as_json:
        print(json.dumps(sim.as_json(), indent=2))
        return
    days = sim.trace.minutes / 1440
    t = Table(title=f"{sim.trace.name}: {sim.trace.minutes:,} minutes ({days:.1f} days), stream {sim.stream.name}")
    for col in COLUMNS:
        t.add_column(col, justify="left" if col == "policy" else "right")
    for r in rows(sim.figures):
        t.add_row(*r)
    out.print(t)
    a, od = sim.figures.get("autoscaler"), sim.figures.get("on-demand")
    if a and od and a["cost_usd"] > od["cost_usd"] and a["throttled_bytes_fraction"] > od["throttled_bytes_fraction"]:
        out.print(
            "[yellow]on-demand mode would have cost less and throttled less for this traffic: consider on-demand for "
            "this stream (its bursts are too sudden and too rare for provisioned capacity to pay off).[/yellow]"
        )
    for name, f in sim.figures.items():
        for note in f.get("notes", []):
            err.print(f"[dim]{name}: {note}[/dim]")
    err.print(f"[dim]simulated in {seconds:.1f} s[/dim]")


def _simulate(
    trace: Trace, cfg: AutoscalerConfig | None, stream: str | None, policies: tuple[str, ...], settings: SimSettings
) -> tuple[Simulation, float]:
    from autoscaler.simulator.simulate import simulate

    logging.getLogger("autoscaler").setLevel(logging.ERROR)  # the replay runs thousands of invocations
    started = time.perf_counter()
    try:
        sim = simulate(trace, config=cfg, stream=stream, policies=policies, settings=settings)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return sim, time.perf_counter() - started


def simulate_command(
    trace: Annotated[Path, typer.Option("--trace", "-t", help="CSV: timestamp,incoming_bytes,incoming_records")],
    config: SimConfigOpt = None,
    stream: Annotated[str | None, typer.Option("--stream", "-s", help="the stream of --config to simulate")] = None,
    policy: PolicyOpt = None,
    as_json: JsonOpt = False,
    plot: PlotOpt = None,
    metric_delay: DelayOpt = 120,
    split_seconds: SplitOpt = 30.0,
    update_seconds: UscOpt = 120.0,
    hot_key: HotOpt = None,
    fixed_shards: FixedOpt = None,
    price: PriceOpt = None,
    capacity_mode: ModeOpt = None,
) -> None:
    """Replay a traffic trace through the autoscaler's real code and the alternatives; one row per policy."""
    from autoscaler.simulator.trace import load_csv

    try:
        settings = _settings(metric_delay, split_seconds, update_seconds, hot_key, fixed_shards, price, capacity_mode)
        cfg, name = _config(config, stream)
        sim, seconds = _simulate(load_csv(trace), cfg, name, _policies(policy), settings)
        _show(sim, as_json, plot, seconds)
    except (ConfigError, AutoscalerError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def backtest_command(
    stream: Annotated[str, typer.Option("--stream", "-s", help="the stream whose history to replay")],
    days: Annotated[int, typer.Option("--days", "-d", help="how far back (1-63 days)")] = 14,
    config: SimConfigOpt = None,
    policy: PolicyOpt = None,
    as_json: JsonOpt = False,
    plot: PlotOpt = None,
    save_trace: Annotated[Path | None, typer.Option("--save-trace", help="also write the history as a CSV")] = None,
    metric_delay: DelayOpt = 120,
    split_seconds: SplitOpt = 30.0,
    update_seconds: UscOpt = 120.0,
    hot_key: HotOpt = None,
    fixed_shards: FixedOpt = None,
    price: PriceOpt = None,
    capacity_mode: ModeOpt = None,
) -> None:
    """Pull the stream's own IncomingBytes/IncomingRecords history from CloudWatch (1-minute where still retained,
    else 5-minute) and run the same comparison. The autoscaler uses the stream's settings when --config lists it."""
    from autoscaler.adapters.aws.history import fetch_history
    from autoscaler.cli.common import _run
    from autoscaler.simulator.trace import from_history, write_csv

    try:
        settings = _settings(metric_delay, split_seconds, update_seconds, hot_key, fixed_shards, price, capacity_mode)
        cfg = None
        if config is not None:
            from autoscaler.config import load_config

            cfg = load_config(config)
            if cfg.stream(stream) is None:
                raise typer.BadParameter(f"{stream!r} is not in {config}; leave --config out to use the defaults")
    except (ConfigError, AutoscalerError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    def fetch() -> Trace:
        from autoscaler.adapters.aws.clients import build_clients
        from autoscaler.core.errors import TraceError

        try:
            return from_history(fetch_history(build_clients().cloudwatch, stream, days=days, now=time.time()))
        except TraceError as exc:  # bad input (days out of range, a stream with no history), not an AWS failure
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    trace = _run(fetch)
    if save_trace is not None:
        try:
            write_csv(trace, save_trace)
        except OSError as exc:
            typer.echo(f"error: cannot write {save_trace}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2) from None
    try:
        sim, seconds = _simulate(trace, cfg, stream, _policies(policy), settings)
        _show(sim, as_json, plot, seconds)
    except AutoscalerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
