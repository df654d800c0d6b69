"""The comparison table, as rows of text: the CLI prints it with rich, the benchmark writes it as Markdown."""

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


def _pct(v: float | None) -> str:
    if v is None:
        return "-"
    if v == 0:
        return "0%"
    return f"{v * 100:.3f}%" if v < 0.001 else f"{v * 100:.2f}%"


def _num(v: Any, fmt: str = "{:,.0f}") -> str:
    return "-" if v is None else fmt.format(v)


def rows(figures: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    out = []
    for name, f in figures.items():
        ttc = f.get("time_to_capacity_minutes")
        out.append(
            [
                name,
                _pct(f["throttled_bytes_fraction"]),
                _pct(f["throttled_records_fraction"]),
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
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(figures)]
    return "\n".join(lines)
