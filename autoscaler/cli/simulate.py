"""`kinesis-autoscaler simulate` and `backtest`: replay traffic through the real decision code next to the
alternatives (polling, on-demand, the oracle, a fixed count), before anything is deployed.

Registered on the main CLI (autoscaler/cli/main.py); the simulator is imported only when one of these runs.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer
from rich.table import Table

from autoscaler.cli import common
from autoscaler.cli.common import envelope
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
    typer.Option(
        "--config",
        "-c",
        help="streams.yaml whose settings the autoscaler policy uses (default: $AUTOSCALER_CONFIG, then "
        "./config/streams.yaml; simulate without --stream or either of those: the built-in defaults)",
    ),
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
        "capacity-mode run does); default: the stream's capacity_mode in the config, else provisioned",
    ),
]
PriceOpt = Annotated[
    list[str] | None,
    typer.Option("--price", help="override a price, e.g. shard_hour=0.018 (see autoscaler/simulator/prices.py)"),
]
ReadConsumersOpt = Annotated[
    int | None,
    typer.Option(
        "--read-consumers",
        help="polling consumers (Lambda, KCL, Firehose) each reading every record written, sharing each shard's "
        "2 MiB/s; 0: no reads (default: the stream's read_consumers when its read_side is true, else no reads)",
    ),
]
LaggingOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--lagging-consumer",
        help="START:MINUTES: one of the consumers stops polling at minute START of the trace for MINUTES, then "
        "reads its backlog as fast as the shards allow (repeat for more pauses)",
    ),
]
ReadSideOpt = Annotated[
    str | None,
    typer.Option(
        "--read-side",
        help="on: the autoscaler row scales for the readers too (read_side: true); off: write-only, for comparison "
        "(default: the stream's read_side; with the built-in defaults, on when there are reads)",
    ),
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
    read_consumers: int | None = None,
    lagging: list[str] | None = None,
    read_side: str | None = None,
) -> SimSettings:
    from autoscaler.simulator.prices import Prices
    from autoscaler.simulator.reads import Pause
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
    if read_consumers is not None and not 0 <= read_consumers <= 50:
        raise typer.BadParameter(f"--read-consumers {read_consumers}: within 0..50 (0: no reads)")
    pauses = []
    for item in lagging or []:
        start, sep, minutes = item.partition(":")
        try:
            pause = Pause(int(start), int(minutes))
        except ValueError:
            pause = None
        if not sep or pause is None or pause.start < 0 or pause.minutes < 1:
            raise typer.BadParameter(
                f"--lagging-consumer {item!r}: write START:MINUTES, whole minutes from the trace's start, "
                "MINUTES ≥ 1 (e.g. 2040:30)"
            )
        pauses.append(pause)
    if read_side is not None and read_side not in ("on", "off"):
        raise typer.BadParameter(f"--read-side {read_side!r}: on or off")
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
        read_consumers=read_consumers,
        lagging=tuple(pauses),
        read_side=None if read_side is None else read_side == "on",
    )


class ConfigChoice(NamedTuple):
    """Which settings the autoscaler row replays: a streams.yaml and how it was found, or the built-in defaults and
    why. Said on every run, as every command says which file it read: a stderr line in table mode; in --json,
    "config" (the path read, null for the defaults) and "config_source" (as_json: how it was found)."""

    config: AutoscalerConfig | None
    path: str | None = None
    found_by: str | None = None  # find_config's answer: "--config", "$AUTOSCALER_CONFIG", "the current directory"
    why_defaults: str = ""

    def describe(self) -> str:
        if self.path is None:
            why = f": {self.why_defaults}" if self.why_defaults else ""
            return f"built-in defaults (min 1, max 10,000 shards){why}"
        return f"{self.path} (from {self.found_by})"

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "found_by": self.found_by, "description": self.describe()}


def _json_asked(flag: bool) -> bool:
    """--json, or the shared --output json the main CLI registers on every command (cli/common.py)."""
    from autoscaler.cli.common import current

    return flag or current().json


def _explicit(flag: str | None, environ: Mapping[str, str]) -> bool:
    """The operator named a file: --config, or $AUTOSCALER_CONFIG (not merely a ./config/streams.yaml nearby)."""
    from autoscaler.config import CONFIG_ENV

    return bool(flag) or bool(environ.get(CONFIG_ENV))


def _under(cwd: Path | None, path: str) -> str:
    """find_config's path as this process opens it: a relative one is relative to `cwd` (default: the process's)."""
    return str(cwd / path) if cwd is not None else path


def _simulate_config(
    flag: str | None, stream: str | None, environ: Mapping[str, str] = os.environ, cwd: Path | None = None
) -> ConfigChoice:
    """simulate's settings. With --config, $AUTOSCALER_CONFIG or --stream: the file find_config finds (the order
    every command uses), --stream naming one of its streams (or it lists just one); none to be found is an error.
    With none of the three: the built-in defaults, said so; a ./config/streams.yaml nearby is not taken unasked,
    since without --stream it could not say which of its streams to replay (the bundled example lists two)."""
    from autoscaler.cli.common import LOCAL_CONFIG, find_config
    from autoscaler.config import load_config

    if stream is None and not _explicit(flag, environ):
        nearby = ((cwd or Path.cwd()) / LOCAL_CONFIG).is_file()
        hint = f"; {LOCAL_CONFIG} is here: add --stream NAME to replay one of its streams" if nearby else ""
        return ConfigChoice(None, why_defaults=f"no --config, $AUTOSCALER_CONFIG or --stream{hint}")
    path, how = find_config(flag, environ, cwd)
    cfg = load_config(_under(cwd, path))
    if stream is None and len(cfg.streams) > 1:
        raise typer.BadParameter(
            f"{path} (from {how}) lists {len(cfg.streams)} streams: name one with --stream ({', '.join(cfg.names)})"
        )
    if stream is not None and cfg.stream(stream) is None:
        raise typer.BadParameter(
            f"{stream!r} is not in {path} (from {how}); its streams: {', '.join(cfg.names)}. Name one of them, or "
            "pass --config with the file that lists it"
        )
    return ConfigChoice(cfg, path, how)


def _backtest_config(
    flag: str | None, stream: str, environ: Mapping[str, str] = os.environ, cwd: Path | None = None
) -> ConfigChoice:
    """backtest's settings for STREAM (always named: its CloudWatch history is read): the file find_config finds,
    which must list it when the operator named the file (--config, $AUTOSCALER_CONFIG). A ./config/streams.yaml
    found nearby that does not list it, or no file at all, gives the built-in defaults, said so: a stream not yet
    onboarded is what a backtest is for."""
    from autoscaler.cli.common import find_config
    from autoscaler.config import load_config

    try:
        path, how = find_config(flag, environ, cwd)
    except ConfigError:
        return ConfigChoice(None, why_defaults="no --config, $AUTOSCALER_CONFIG or ./config/streams.yaml")
    cfg = load_config(_under(cwd, path))
    if cfg.stream(stream) is not None:
        return ConfigChoice(cfg, path, how)
    if _explicit(flag, environ):
        raise typer.BadParameter(
            f"{stream!r} is not in {path} (from {how}); its streams: {', '.join(cfg.names)}. Add it there to "
            "backtest it with its settings"
        )
    return ConfigChoice(None, why_defaults=f"{stream} is not in {path} (from {how})")


def _show(sim: Simulation, as_json: bool, plot: Path | None, seconds: float, choice: ConfigChoice) -> None:
    from rich.console import Console
    from rich.markup import escape

    from autoscaler.simulator.report import columns, rows

    out, err = common.out, Console(stderr=True, soft_wrap=True)
    if plot is not None:
        from autoscaler.simulator.plot import plot as draw

        err.print(f"plot written to {escape(str(draw(sim, plot)))}")
    warnings = sim.warnings
    if as_json:
        # "config": the file read (null: the built-in defaults), as every command's JSON says it; how it was found
        # beside it
        payload = {**sim.as_json(), "config": choice.path, "config_source": choice.as_json()}
        print(json.dumps(envelope(payload), indent=2))
        return
    err.print(f"[dim]config: {escape(choice.describe())}; stream {escape(sim.stream.name)}[/dim]")
    if sim.reads is not None:
        managed = (
            f"the autoscaler scales for them (read_side on, {sim.stream.read_consumers} declared)"
            if sim.stream.read_side
            else "the autoscaler is write-only (read_side off)"
        )
        err.print(f"[dim]reads: {escape(sim.reads.describe())}; {managed}[/dim]")
    days = sim.trace.minutes / 1440
    t = Table(title=f"{sim.trace.name}: {sim.trace.minutes:,} minutes ({days:.1f} days), stream {sim.stream.name}")
    for col in columns(sim.figures):
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
            if note not in warnings:  # said once, as a warning, below
                err.print(f"[dim]{escape(name)}: {escape(note)}[/dim]")
    for warning in warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
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
    stream: Annotated[
        str | None, typer.Option("--stream", "-s", help="the stream of the config whose settings to replay")
    ] = None,
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
    read_consumers: ReadConsumersOpt = None,
    lagging_consumer: LaggingOpt = None,
    read_side: ReadSideOpt = None,
) -> None:
    """Replay a traffic trace through the autoscaler's real code and the alternatives; one row per policy."""
    from autoscaler.simulator.trace import load_csv

    as_json = _json_asked(as_json)
    try:
        settings = _settings(
            metric_delay,
            split_seconds,
            update_seconds,
            hot_key,
            fixed_shards,
            price,
            capacity_mode,
            read_consumers,
            lagging_consumer,
            read_side,
        )
        choice = _simulate_config(config, stream)
        sim, seconds = _simulate(load_csv(trace), choice.config, stream, _policies(policy), settings)
        _show(sim, as_json, plot, seconds, choice)
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
    read_consumers: ReadConsumersOpt = None,
    lagging_consumer: LaggingOpt = None,
    read_side: ReadSideOpt = None,
) -> None:
    """Pull the stream's own IncomingBytes/IncomingRecords history from CloudWatch (1-minute where still retained,
    else 5-minute) and run the same comparison. The autoscaler uses the stream's settings from the config (--config,
    $AUTOSCALER_CONFIG, ./config/streams.yaml), else the built-in defaults. `--save-trace FILE` writes the history
    read, so that `simulate --trace FILE` with the same config, stream and options gives the same rows."""
    from autoscaler.adapters.aws.history import fetch_history
    from autoscaler.cli.common import _run
    from autoscaler.simulator.trace import from_history, write_csv

    as_json = _json_asked(as_json)
    try:
        settings = _settings(
            metric_delay,
            split_seconds,
            update_seconds,
            hot_key,
            fixed_shards,
            price,
            capacity_mode,
            read_consumers,
            lagging_consumer,
            read_side,
        )
        choice = _backtest_config(config, stream)
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
        if not as_json:
            again = f" --config {choice.path} --stream {stream}" if choice.path else ""
            typer.echo(
                f"history written to {save_trace}: `simulate --trace {save_trace}{again}` with the same options gives "
                "these rows",
                err=True,
            )
    try:
        sim, seconds = _simulate(trace, choice.config, stream, _policies(policy), settings)
        _show(sim, as_json, plot, seconds, choice)
    except AutoscalerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
