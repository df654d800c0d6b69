"""One simulation: a trace, the policies to compare, the settings; the table the operator reads and the JSON contract.

JSON (a contract: dashboards and checks read it): {"trace": str, "minutes": int, "policies": {NAME: {
"throttled_bytes_fraction", "throttled_records_fraction", "shard_hours", "shard_hours_vs_oracle",
"reshard_operations", "update_shard_count_calls", "minutes_updating", "cost_usd", "cost_vs_on_demand",
"cost_vs_on_demand_advantage", "max_shards", ...}}, "history": {...}, "warnings": [str]}; NAME among autoscaler,
polling, on-demand (Standard), on-demand-advantage, oracle, fixed; the on-demand rows' shard fields are null.

Added without renaming anything: "history" (HistoryCheck.as_json: is the trace long enough for the decisions the
autoscaler row replays), "warnings" (what the operator must know before trusting the figures: a history too short,
throttling that max_shards caused), and in the autoscaler row "throttled_bytes_fraction_at_max_shards",
"throttled_minutes_at_max_shards" and "scale_ups_capped_by_max_shards" (cap_figures).

The read side (issue 15): "read_model" ({"consumers", "lagging_consumer": [{"start_minute", "minutes"}]}, null
without one) and in every row "read_throttled_bytes_fraction", "read_throttled_calls_fraction",
"read_throttled_minutes", "max_iterator_age_seconds", "minutes_readers_behind", "read_catch_up_minutes" (null
without a read model: reads.py ReadRun.figures), and in the autoscaler row "read_side" (whether it managed the
reads).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, NamedTuple

from autoscaler.config import AutoscalerConfig, StreamConfig, Tunables
from autoscaler.core.defaults import ALARM_NAME_PREFIX
from autoscaler.core.limits import MAX_SHARDS_PER_STREAM
from autoscaler.core.model import StreamMode
from autoscaler.simulator import baselines
from autoscaler.simulator.auto import AutoOptions, auto_mode
from autoscaler.simulator.ledger import PolicyRun, ceil_load, summarise, totals
from autoscaler.simulator.prices import Prices
from autoscaler.simulator.reads import (
    SHARD_READ_BYTES_PER_MINUTE,
    Pause,
    ReadModel,
    no_read_figures,
    read_loads,
    reads_of,
)
from autoscaler.simulator.replay import AutoscalerReplay, ReplayOptions
from autoscaler.simulator.trace import Trace
from autoscaler.simulator.traffic import UNIFORM, Skew

POLICIES = ("autoscaler", "polling", "on-demand", "on-demand-advantage", "oracle", "fixed")
DEFAULT_STREAM = "simulated"
CAPACITY_MODES = ("provisioned", "on-demand", "auto")


class SimSettings(NamedTuple):
    replay: ReplayOptions = ReplayOptions()
    # the autoscaler row's capacity mode: provisioned (the replay), on-demand (the on-demand model), or auto (both
    # as shadows, switched by core/capacity_mode.py: simulator/auto.py); None: the stream's capacity_mode
    capacity_mode: str | None = None
    auto: AutoOptions = AutoOptions()
    polling: baselines.PollingParams = baselines.PollingParams()
    on_demand: baselines.OnDemandParams = baselines.OnDemandParams()
    prices: Prices = Prices()
    fixed_shards: int | None = None  # default: the count that covers the trace's peak
    skew: Skew = UNIFORM
    # the read model (simulator/reads.py): polling consumers each reading every record; None: the stream's
    # read_consumers when its read_side is true, else no reads; 0: no reads
    read_consumers: int | None = None
    lagging: tuple[Pause, ...] = ()  # pauses of one of the consumers, which then catches up
    # the autoscaler row manages the reads (the stream's read_side); None: the stream's, or on with the built-in
    # defaults and a read model
    read_side: bool | None = None


class HistoryCheck(NamedTuple):
    """Is the trace long enough for the decisions the autoscaler row replays? Each needs history before it can
    judge as it would on a stream that has run for a while:

    - the scale-down reads the stream's `scale_down_lookback_hours` (24 h by default) of datapoints; on a shorter
      trace the hours before it read as no traffic, and a daily peak outside the trace is in no figure;
    - with `capacity_mode: auto`, the mode decision judges nothing before `min_history_seconds` (6 h): on a shorter
      trace the row never leaves the mode it starts in.

    `warnings` says which bit and what it means for the figures; none: long enough."""

    minutes: int
    scale_down_lookback_minutes: int
    capacity_mode_min_minutes: int | None  # auto only: the mode decision's minimum history
    warnings: tuple[str, ...] = ()

    @property
    def too_short(self) -> bool:
        return bool(self.warnings)

    def as_json(self) -> dict[str, Any]:
        return {
            "minutes": self.minutes,
            "too_short": self.too_short,
            "scale_down_lookback_minutes": self.scale_down_lookback_minutes,
            "capacity_mode_min_minutes": self.capacity_mode_min_minutes,
        }


def _hours(minutes: float) -> str:
    hours = minutes / 60
    return f"{hours:.0f} h" if hours.is_integer() else f"{hours:.1f} h"


def check_history(
    trace: Trace, stream: StreamConfig, mode: str, settings: SimSettings, *, autoscaler: bool = True
) -> HistoryCheck:
    """The HistoryCheck of a trace for this stream's settings and the autoscaler row's capacity mode. `autoscaler`:
    whether that row is simulated at all (the other policies need no history: their notes say how they start)."""
    n = trace.minutes
    lookback = stream.scale_down_lookback_hours * 60
    auto = mode == "auto"
    need_mode = round(settings.auto.min_history_seconds / 60) if auto else None
    warnings: list[str] = []
    if autoscaler and mode != "on-demand" and n < lookback:
        every = settings.replay.scale_down_every_seconds / 60
        never = f"; the scheduled scale-down (every {_hours(every)}) never ran" if n < every else ""
        warnings.append(
            f"history too short to judge: the trace covers {_hours(n)}, less than the scale-down's "
            f"{_hours(lookback)} lookback{never}. The scale-down judged the trace alone (the hours before it count "
            "as no traffic) and a daily peak outside the trace is in no figure, so the autoscaler row may understate "
            f"what this stream costs and throttles; judge on at least {_hours(lookback)} of history"
        )
    if autoscaler and need_mode is not None and n < need_mode:
        start = "on-demand" if settings.auto.start is StreamMode.ON_DEMAND else "provisioned"
        warnings.append(
            f"history too short to judge the capacity mode: capacity_mode auto decides nothing before "
            f"{_hours(need_mode)} of history and the trace covers {_hours(n)}, so the autoscaler row stayed "
            f"{start} throughout: its figures are that mode's, not the choice auto would make"
        )
    return HistoryCheck(n, lookback, need_mode, tuple(warnings))


def cap_figures(run: PolicyRun, max_shards: int, trace: Trace) -> dict[str, Any]:
    """How much of a run's throttling max_shards caused: the bytes refused in minutes the stream was already at
    max_shards (the layout in place had max_shards shards, and still refused writes: only more shards than the
    config allows would have taken them), over all bytes written, as throttled_bytes_fraction is. Throttling while
    the stream was still growing towards the cap is the policy's own (reaction time), not counted here."""
    led = run.ledger
    at_cap = [m for m in range(trace.minutes) if led.shards[m] >= max_shards and led.refused_bytes[m] > 0]
    refused = sum(led.refused_bytes[m] for m in at_cap)
    return {
        "throttled_bytes_fraction_at_max_shards": refused / (sum(trace.bytes) or 1.0),
        "throttled_minutes_at_max_shards": len(at_cap),
        "scale_ups_capped_by_max_shards": run.activity.capped_by_max_shards,
    }


def cap_warning(figures: dict[str, Any], max_shards: int) -> str | None:
    """The sentence that sends the operator to max_shards rather than to the policy, when max_shards throttled."""
    at_cap = figures.get("throttled_bytes_fraction_at_max_shards") or 0.0
    total = figures.get("throttled_bytes_fraction") or 0.0
    if at_cap <= 0 or total <= 0:
        return None
    capped = figures.get("scale_ups_capped_by_max_shards") or 0
    wanted = f"; {capped} scale-up decisions wanted more shards and were held at max_shards" if capped else ""
    return (
        f"max_shards throttled it: {at_cap / total:.0%} of the autoscaler's throttled bytes ({at_cap:.3%} of all "
        f"written) were refused in {figures['throttled_minutes_at_max_shards']} minutes at max_shards "
        f"({max_shards}){wanted}. The policy may not add shards beyond max_shards: raise it to take that traffic"
    )


def read_model_of(settings: SimSettings, stream: StreamConfig, minutes: int) -> ReadModel | None:
    """The simulation's read model: the consumers asked for, else those the stream declares with read_side: true;
    none without consumers. Raises ValueError saying what to fix."""
    consumers = settings.read_consumers
    if consumers is None:
        consumers = stream.read_consumers if stream.read_side else 0
    if consumers < 0:
        raise ValueError(f"--read-consumers must be within 0..50 (got {consumers}); 0: no reads")
    if consumers == 0:
        if settings.lagging:
            raise ValueError(
                "--lagging-consumer needs polling consumers to lag: add --read-consumers N (or give the stream "
                "read_side: true and read_consumers in its config)"
            )
        return None
    model = ReadModel(consumers, tuple(settings.lagging))
    model.validate(minutes)
    return model


def with_read_side(
    config: AutoscalerConfig, stream: StreamConfig, managed: bool | None, model: ReadModel | None, builtin: bool
) -> tuple[AutoscalerConfig, StreamConfig]:
    """The config the autoscaler row replays, its read side set: `managed` if given, else the stream's own, else (the
    built-in defaults) on when there is a read model. Switched on here, it declares the read model's consumers."""
    want = managed if managed is not None else (model is not None if builtin else stream.read_side)
    if want == stream.read_side:
        return config, stream
    changes: dict[str, Any] = {"read_side": want}
    if want and model is not None:
        changes["read_consumers"] = model.consumers
    replaced = dataclasses.replace(stream, **changes)
    streams = tuple(replaced if s.name == stream.name else s for s in config.streams)
    return dataclasses.replace(config, streams=streams), replaced


def read_side_note(row: dict[str, Any]) -> str | None:
    """What to do when the autoscaler row ran write-only and its readers were throttled."""
    share = row.get("read_throttled_bytes_fraction")
    if row.get("read_side") or not share:
        return None
    return (
        f"read_side is off: the autoscaler sized for writes only and {share:.2%} of the bytes read were throttled "
        "(late); read_side: true (or --read-side on) scales for the readers too"
    )


class Simulation(NamedTuple):
    trace: Trace
    loads: list[float]
    runs: list[PolicyRun]
    figures: dict[str, dict[str, Any]]
    stream: StreamConfig
    history: HistoryCheck | None = None
    reads: ReadModel | None = None

    @property
    def warnings(self) -> list[str]:
        """What to know before trusting the figures: a history too short to judge, throttling max_shards caused."""
        out = list(self.history.warnings) if self.history is not None else []
        row = self.figures.get("autoscaler")
        cap = cap_warning(row, self.stream.max_shards) if row is not None else None
        return [*out, cap] if cap else out

    def as_json(self) -> dict[str, Any]:
        data = {
            "trace": self.trace.name,
            "minutes": self.trace.minutes,
            "start": self.trace.start,
            "stream": {
                "name": self.stream.name,
                "min_shards": self.stream.min_shards,
                "max_shards": self.stream.max_shards,
            },
            "policies": self.figures,
            "warnings": self.warnings,
            "read_model": self.reads.as_json() if self.reads is not None else None,
        }
        if self.history is not None:
            data["history"] = self.history.as_json()
        return data


def default_config(name: str = DEFAULT_STREAM) -> AutoscalerConfig:
    """The built-in defaults with min_shards 1 and max_shards 10,000 (the simulator without --config)."""
    stream = StreamConfig(name=name, min_shards=1, max_shards=MAX_SHARDS_PER_STREAM, desired_shards=1)
    return AutoscalerConfig("built-in defaults", ALARM_NAME_PREFIX, Tunables(), (stream,))


def simulate(
    trace: Trace,
    *,
    config: AutoscalerConfig | None = None,
    stream: str | None = None,
    policies: Sequence[str] = POLICIES,
    settings: SimSettings | None = None,
) -> Simulation:
    """Run the chosen policies over the trace. Deterministic: the same inputs give the same figures.

    The oracle and both on-demand rows always run (the ratios need them) but are reported only when asked for.
    """
    settings = settings or SimSettings()
    if settings.capacity_mode is not None and settings.capacity_mode not in CAPACITY_MODES:
        raise ValueError(f"unknown capacity mode {settings.capacity_mode!r}; choose from {', '.join(CAPACITY_MODES)}")
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown policy {unknown[0]!r}; choose from {', '.join(POLICIES)}")
    cfg = config or default_config(stream or DEFAULT_STREAM)
    name = stream or (cfg.streams[0].name if len(cfg.streams) == 1 else None)
    if name is None or cfg.stream(name) is None:
        raise ValueError(f"name the stream to simulate with --stream (one of: {', '.join(cfg.names)})")
    stream_cfg = cfg.stream(name)
    assert stream_cfg is not None
    model = read_model_of(settings, stream_cfg, trace.minutes)
    cfg, stream_cfg = with_read_side(cfg, stream_cfg, settings.read_side, model, builtin=config is None)
    mode = settings.capacity_mode or stream_cfg.capacity_mode  # the config's names are CAPACITY_MODES' names
    skew = settings.skew
    replay_opts = settings.replay._replace(skew=skew, reads=model)
    loads = totals(trace).loads
    runs: dict[str, PolicyRun] = {}
    if model is None:
        runs["oracle"] = baselines.oracle(trace, loads)
    else:  # enough shards for the writes and for the reads, each minute (the oracle never refuses a write)
        need = [max(w, r) for w, r in zip(loads, read_loads(model, trace.bytes), strict=True)]
        oracle = baselines.oracle(trace, need)
        notes = (*oracle.activity.notes, "sized for the reads too: max(write load, read demand / 2 MiB/s)")
        runs["oracle"] = oracle._replace(activity=oracle.activity._replace(notes=notes))
    runs["on-demand"] = baselines.on_demand(trace, loads, settings.on_demand, skew)
    runs["on-demand-advantage"] = baselines.on_demand_advantage(runs["on-demand"])
    if "autoscaler" in policies:
        if mode == "on-demand":
            runs["autoscaler"] = runs["on-demand"]._replace(name="autoscaler")
        else:
            replayed = AutoscalerReplay(trace, loads, cfg, name, replay_opts).run()
            runs["autoscaler"] = (
                auto_mode(replayed, runs["on-demand"], settings.prices, settings.auto)._replace(name="autoscaler")
                if mode == "auto"
                else replayed
            )
    if "polling" in policies:
        runs["polling"] = baselines.polling(
            trace,
            loads,
            params=settings.polling,
            skew=skew,
            metric_delay_seconds=replay_opts.metric_delay_seconds,
            update_seconds=replay_opts.update_shard_count_seconds,
            reads=model,
        )
    if "fixed" in policies:
        fixed_count = settings.fixed_shards
        if fixed_count is None and model is not None:
            # AWS's sizing formula: max(write load, consumers × bytes written / 2 MiB/s), at the trace's peak
            read_peak = model.consumers * max(trace.bytes, default=0.0) / SHARD_READ_BYTES_PER_MINUTE
            fixed_count = ceil_load(max(max(loads, default=0.0), read_peak))
        runs["fixed"] = baselines.fixed(trace, loads, skew, fixed_count)
    if model is not None:  # the runs whose capacity the reads did not steer: read on the capacity they had
        runs = {k: r if r.reads is not None else r._replace(reads=reads_of(model, r.ledger)) for k, r in runs.items()}
    ordered = [runs[p] for p in POLICIES if p in runs]
    figures = summarise(ordered, trace, settings.prices, loads)
    for run in ordered:
        reads = run.reads.figures(stream_cfg.max_iterator_age_seconds) if run.reads is not None else None
        figures[run.name].update(reads or no_read_figures())
    if "autoscaler" in figures:
        row = figures["autoscaler"]
        row.update(cap_figures(runs["autoscaler"], stream_cfg.max_shards, trace))
        row["read_side"] = stream_cfg.read_side
        cap = cap_warning(row, stream_cfg.max_shards)
        if cap:
            row["notes"].append(cap)
        note = read_side_note(row)
        if note:
            row["notes"].append(note)
    shown = {p: figures[p] for p in POLICIES if p in policies}
    history = check_history(trace, stream_cfg, mode, settings, autoscaler="autoscaler" in policies)
    return Simulation(trace, loads, [r for r in ordered if r.name in policies], shown, stream_cfg, history, model)
