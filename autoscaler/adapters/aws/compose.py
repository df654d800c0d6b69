"""The adapters every use case runs on, built once from a set of clients (handlers and CLI share this)."""

from __future__ import annotations

from typing import Any

from autoscaler.adapters.aws.clients import Clients
from autoscaler.adapters.aws.cloudwatch import AlarmsAdapter, MetricsAdapter
from autoscaler.adapters.aws.cooldown import CooldownTable
from autoscaler.adapters.aws.kinesis import KinesisAdapter
from autoscaler.app.ports import Clock

DEFAULT_TABLE = "kinesis-autoscaler-cooldown"


def adapters(clients: Clients, clock: Clock, *, table: str) -> dict[str, Any]:
    """Keyword arguments for ScaleUpService / ScaleDownService, less config and continuation."""
    return {
        "kinesis": KinesisAdapter(clients.kinesis, clock),
        "metrics": MetricsAdapter(clients.cloudwatch),
        "alarms": AlarmsAdapter(clients.cloudwatch),
        "cooldown": CooldownTable(clients.dynamodb, table),
        "clock": clock,
    }
