"""The comparison table, as rows of text: the CLI prints it with rich, the benchmark writes it as Markdown. With a
read model (simulator/reads.py) the read side's columns follow the write side's throttling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

COLUMNS = (
    "policy",
    "throttled bytes",
    "throttled records",
    "shard-hours",
    "vs oracle",
    "reshards",
    "UpdateShardCount",
    "min UPDATING",
    "cost $",
    "vs on-demand",
    "vs Advantage",
    "max shards",
    "ramp: breach → capacity",
)
READ_COLUMNS = ("throttled reads", "worst iterator age", "min readers behind")
READ_AFTER = COLUMNS.index("throttled records") + 1  # where the read columns go


def has_reads(figures: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether the simulation had a read model (its rows carry the read figures)."""
    return any(f.get("read_throttled_bytes_fraction") is not None for f in figures.values())


def columns(figures: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """The table's columns: COLUMNS, and the read side's after the write throttling when there were reads."""
    if not has_reads(figures):
        return COLUMNS
    return COLUMNS[:READ_AFTER] + READ_COLUMNS + COLUMNS[READ_AFTER:]


def _pct(v: float | None) -> str:
    if v is None:
        return "-"
    if v == 0:
        return "0%"
    return f"{v * 100:.3f}%" if v < 0.001 else f"{v * 100:.2f}%"


def _num(v: Any, fmt: str = "{:,.0f}") -> str:
    return "-" if v is None else fmt.format(v)


def age(seconds: float | None) -> str:
    """An iterator age as an operator reads it: 45 s, 12.5 min, 2.1 h."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def rows(figures: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """One row per policy, in the order of `columns(figures)`."""
    reads = has_reads(figures)
    out = []
    for name, f in figures.items():
        ttc = f.get("time_to_capacity_minutes")
        read_cells = (
            [
                _pct(f.get("read_throttled_bytes_fraction")),
                age(f.get("max_iterator_age_seconds")),
                _num(f.get("minutes_readers_behind")),
            ]
            if reads
            else []
        )
        out.append(
            [
                name,
                _pct(f["throttled_bytes_fraction"]),
                _pct(f["throttled_records_fraction"]),
                *read_cells,
                _num(f["shard_hours"]),
                _num(f["shard_hours_vs_oracle"], "{:.2f}x"),
                _num(f["reshard_operations"]),
                _num(f["update_shard_count_calls"]),
                _num(f["minutes_updating"]),
                _num(f["cost_usd"], "{:,.2f}"),
                _num(f["cost_vs_on_demand"], "{:.2f}x"),
                _num(f.get("cost_vs_on_demand_advantage"), "{:.2f}x"),
                _num(f["max_shards"]),
                "no breach" if ttc == 0 else ("never" if ttc is None else f"{ttc} min"),
            ]
        )
    return out


def markdown(figures: Mapping[str, Mapping[str, Any]]) -> str:
    cols = columns(figures)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(figures)]
    return "\n".join(lines)
