"""The cost model: us-east-1 list prices (the Kinesis Data Streams pricing page; Advantage's from the developer
guide, beside it) as defaults, every one overridable (`simulate --price NAME=VALUE`).

Provisioned: each open shard-hour, plus PUT payload units (each record rounded up to whole 25 KB units) for the
records accepted. On-demand Standard: each stream-hour, plus each GB written (records rounded up to 1 KB). On-demand
Advantage (an account-level setting since Nov 2025): no per-stream charge and a lower price per GB written; its
account-wide minimum throughput commitment is not charged to one stream here (it is shared by every on-demand
stream of the account, and waived for none). Reads are left out of all three (the traces hold writes only;
provisioned polling reads are free, on-demand charges per GB out), which flatters on-demand. Refused writes are not
billed.
"""

from __future__ import annotations

import enum
import math
from typing import NamedTuple

GB = 1 << 30  # pricing's GB; 1 GiB here (the 7% difference to 10^9 is within what list prices vary by region)
PUT_UNIT_BYTES = 25 * 1024  # one PUT payload unit: up to 25 KB of one record


class Billing(enum.Enum):
    """How a policy's stream is billed."""

    PROVISIONED = "provisioned"
    ON_DEMAND = "on-demand"  # On-demand Standard
    ON_DEMAND_ADVANTAGE = "on-demand-advantage"


class Prices(NamedTuple):
    shard_hour: float = 0.015  # provisioned, per open shard-hour
    put_units_per_million: float = 0.014  # provisioned, per million 25 KB PUT payload units
    on_demand_stream_hour: float = 0.04  # On-demand Standard, per stream-hour
    on_demand_per_gb_in: float = 0.08  # On-demand Standard, per GB written
    # On-demand Advantage: "no longer a fixed, per-stream level charge, and the data ingest ... at least 60% lower
    # than that of On-demand Standard" (streams developer guide, how-do-i-size-a-stream): 0.4 × $0.08 at most
    advantage_stream_hour: float = 0.0
    advantage_per_gb_in: float = 0.032
    shard_metric_month: float = 0.30  # each shard-level metric (enhanced monitoring) is a CloudWatch metric-month


def put_units(bytes_: float, records: float) -> float:
    """PUT payload units for a minute's accepted writes: records × ⌈mean record size / 25 KB⌉ (at least 1 each)."""
    if records <= 0:
        return 0.0
    return records * max(1, math.ceil(bytes_ / records / PUT_UNIT_BYTES - 1e-9))


def on_demand_billed_bytes(bytes_: float, records: float) -> float:
    """Bytes on-demand bills for a minute: each record counts at least 1 KB."""
    return max(bytes_, records * 1024.0)


HOURS_PER_MONTH = 730  # CloudWatch prorates metric-months by the hour


def provisioned_cost(shard_hours: float, units: float, prices: Prices, shard_metrics: int = 0) -> float:
    """Shard-hours, PUT units, and the shard-level metrics the stream publishes (per shard, prorated hourly)."""
    metrics = shard_hours * shard_metrics * prices.shard_metric_month / HOURS_PER_MONTH
    return shard_hours * prices.shard_hour + units / 1e6 * prices.put_units_per_million + metrics


def on_demand_cost(hours: float, billed_bytes: float, prices: Prices, billing: Billing = Billing.ON_DEMAND) -> float:
    """Stream-hours and GB written, at Standard's or Advantage's prices."""
    if billing is Billing.ON_DEMAND_ADVANTAGE:
        return hours * prices.advantage_stream_hour + billed_bytes / GB * prices.advantage_per_gb_in
    return hours * prices.on_demand_stream_hour + billed_bytes / GB * prices.on_demand_per_gb_in
