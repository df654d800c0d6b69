"""Read-only views of the fleet: status (one row per managed stream) and doctor (the invariants, with fixes)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from autoscaler.cli import aws
from autoscaler.cli.common import EXIT_FAILED, View, _run, command, emit


def status() -> None:
    """One row per managed stream: mode, shards vs bounds, peak utilisation (1 h, 24 h), alarms and whether they
    match the open count, cooldowns, last action; plus autoscaler alarms of streams not in the config. Without a
    cooldown table (no stack found, or unreadable) the streams are still listed, their lock state unknown."""
    from autoscaler.adapters.aws.provisioning import Provisioning
    from autoscaler.app.onboarding import is_orphan
    from autoscaler.app.status import fleet_status

    cfg = aws.load()
    ports = aws.ports(cfg, table_required=False)
    rows = _run(
        lambda: fleet_status(
            cfg,
            kinesis=ports["kinesis"],
            metrics=ports["metrics"],
            alarms=ports["alarms"],
            cooldown=ports["cooldown"],
            clock=ports["clock"],
        )
    )
    prefixed = _run(
        lambda: Provisioning(ports["kinesis"].client, ports["alarms"].client, ports["clock"]).prefixed_alarms(
            cfg.alarm_name_prefix
        )
    )
    orphans = sorted(a.name for a in prefixed.values() if is_orphan(cfg.alarm_name_prefix, a, set(cfg.names), None))
    view = View(
        f"kinesis-autoscaler status ({cfg.source})",
        (
            "stream",
            "mode",
            "shards (min/desired/max)",
            "peak 1 h (1-min)",
            "peak 24 h (5-min)",
            "reads 1 h",
            "alarms",
            "cooldown up/down",
            "last action",
        ),
    )

    def pct(v: float | None) -> str:
        return f"{v:.0%}" if v is not None else "-"

    uneven = False
    for r in rows:
        states = ", ".join(sorted({a["state"] for a in r.alarms.values()})) or "none (on-demand)"
        alarms_text = Text.assemble(
            f"{states}; ", ("thresholds match", "") if r.alarms_match else ("thresholds do not match", "red")
        )
        shards = Text(
            f"{r.open_shards if r.open_shards is not None else '-'} ({r.min_shards}/{r.desired_shards}/{r.max_shards})"
        )
        if r.effective_capacity is not None and r.open_shards and r.effective_capacity < r.open_shards - 0.005:
            shards.append(f"\nuneven: {r.effective_capacity:g} shards of capacity", style="dim")
            uneven = True
        cooldowns = (
            f"{r.cooldown_up_s} s / {r.cooldown_down_s} s" + (" (locked)" if r.locked else "")
            if r.lock_known
            else "unknown (no table)"
        )
        view.rows.append(
            (
                r.stream,
                Text.assemble(f"{r.mode} {r.status}", (f"\n{r.mode_note}" if r.mode_note else "", "dim")),
                shards,
                pct(r.peak_1h),
                pct(r.peak_24h),
                _reads_cell(r),
                r.problem or alarms_text,
                cooldowns,
                r.last_action or ("-" if r.lock_known else "unknown"),
            )
        )
    if uneven:
        view.notes.append(
            "peaks are of the effective capacity (an uneven layout fills at its widest shard), as plan scale-down "
            "decides"
        )
    if rows and not rows[0].lock_known:
        view.notes.append(
            f"lock and cooldowns unknown: {aws.no_stack_message('the cooldown table')} (or the table is unreadable)"
        )
    if orphans:
        view.notes.append(
            f"alarms of streams not in the config: {', '.join(orphans)} (create-streams --remove-orphaned-alarms)"
        )
    emit({"streams": [r._asdict() for r in rows], "orphaned_alarms": orphans}, view)


def _reads_cell(r: Any) -> Text | str:
    """The read side in a cell: the busiest minute's reads of the shared capacity and the worst reader's lag (red
    beyond max_iterator_age_seconds is doctor's to explain); "off" when the stream's read side is not managed."""
    if not r.read_side:
        return "off"
    peak = f"{r.read_peak_1h:.0%}" if r.read_peak_1h is not None else "-"
    age = f"{r.max_iterator_age_s:.0f} s behind" if r.max_iterator_age_s is not None else "no reader"
    return Text(f"{peak}, {age}")


def doctor(
    stream: Annotated[list[str] | None, typer.Option("--stream", "-s", help="only these streams")] = None,
) -> None:
    """Check the invariants on the live streams (hash space tiled, count within min_shards … max_shards, no stale lock,
    alarms present and matching the open count) and say what to do about any drift. Exit 1 when an invariant is
    broken."""
    from autoscaler.app.doctor import Severity, diagnose

    cfg = aws.load()
    for name in stream or []:
        aws.check_stream(cfg, name)
    ports = aws.ports(cfg)
    findings = _run(
        lambda: diagnose(
            cfg,
            kinesis=ports["kinesis"],
            alarms=ports["alarms"],
            cooldown=ports["cooldown"],
            clock=ports["clock"],
            names=stream or None,
            metrics=ports["metrics"],
        )
    )
    errors = [f for f in findings if f.severity is Severity.ERROR]
    checked = len(stream) if stream else len(cfg.streams)
    colour = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
    view = View(
        f"kinesis-autoscaler doctor ({cfg.source})",
        ("stream", "severity", "check", "finding", "what to do"),
        [(f.stream, Text(f.severity.value, style=colour[f.severity]), f.check, f.message, f.fix) for f in findings],
    )
    if not findings:
        view.notes.append(Text(f"{checked} stream(s) checked: every invariant holds", style="green"))
    emit(
        {
            "findings": [{**f._asdict(), "severity": f.severity.value} for f in findings],
            "healthy": not errors,
            "checked": checked,
        },
        view,
    )
    if errors:
        raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    command(app, "status")(status)
    command(app, "doctor")(doctor)
