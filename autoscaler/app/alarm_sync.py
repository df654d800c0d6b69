"""Keeping a stream's alarms in step with its open shard count (shared by scale-up and scale-down)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

from autoscaler.app.ports import AlarmsPort
from autoscaler.config import StreamConfig
from autoscaler.core.capacity import AlarmKind, AlarmSpec, alarm_kinds, alarm_name, alarm_specs, alarm_threshold

log = logging.getLogger("autoscaler.alarms")


def stream_alarm_specs(prefix: str, cfg: StreamConfig, shards: int) -> list[AlarmSpec]:
    """The alarms a configured stream wants at N shards (create-streams, the local stack, the simulator): three for
    the write side, three more with read_side: true."""
    return alarm_specs(
        prefix,
        cfg.name,
        shards,
        scale_up_threshold=cfg.scale_up_threshold,
        period_seconds=cfg.alarm_period_seconds,
        evaluation_periods=cfg.alarm_evaluation_periods,
        datapoints_to_alarm=cfg.alarm_datapoints_to_alarm,
        read_side=cfg.read_side,
        max_iterator_age_ms=cfg.max_iterator_age_seconds * 1000,
    )


def stream_threshold(cfg: StreamConfig, kind: AlarmKind, shards: int, period_seconds: int) -> float:
    """The threshold the stream's alarm of `kind` wants at N shards, at that alarm's own period."""
    return alarm_threshold(kind, shards, period_seconds, cfg.scale_up_threshold, cfg.max_iterator_age_seconds * 1000)


def rearm(alarms: AlarmsPort, names: Sequence[str], why: str) -> None:
    """Set alarms in ALARM back to OK so a breach that lasts notifies again: CloudWatch fires actions only on a
    transition into ALARM and re-evaluates an alarm set to OK at its next period. The one way every caller re-arms
    (a refused scale-up, the sweep); the reason is what the alarm's history shows."""
    alarms.set_ok(list(names), f"kinesis-autoscaler: re-armed: {why}")


def sync_alarms(
    alarms: AlarmsPort, prefix: str, cfg: StreamConfig, shards: int, *, force_ok: bool, leave: Collection[str] = ()
) -> list[str]:
    """Retune the stream's alarms to N shards (each at its own period) and reset them to OK.

    Only alarms whose threshold changes are re-put; `force_ok` resets all of them so the next breach fires (alarm
    actions fire only on transitions); otherwise those in ALARM are reset. Returns the names touched. A missing alarm
    is logged, not created (create-streams owns that). `leave`: alarms not to reset unless the run acted — one whose
    notification was answered with a report (a slow consumer): reset, it would fire again at its next minute while
    the cause lasts; left in ALARM, the re-arm sweep brings it back every few minutes instead.
    """
    kinds = {alarm_name(prefix, cfg.name, k): k for k in alarm_kinds(cfg.read_side)}
    names = list(kinds)
    existing = alarms.get_alarms(names)
    for name in names:
        if name not in existing:
            log.warning("alarm missing; run create-streams to restore it", extra={"stream": cfg.name, "alarm": name})
    changes: dict[str, float] = {}
    for name, info in existing.items():
        want = stream_threshold(cfg, kinds[name], shards, info.period_seconds)
        if abs(want - info.threshold) > 1e-6 * max(1.0, want):
            changes[name] = want
    if changes:
        alarms.put_thresholds(changes)
    # Alarms left in ALARM are reset too: one that fired while another run held the lock was skipped without a reset,
    # and actions fire only on a transition into ALARM, so it would never notify again while the breach lasts.
    alarmed = [name for name, info in existing.items() if info.state == "ALARM"]
    touched = sorted(existing) if force_ok or changes else sorted(n for n in alarmed if n not in leave)
    if touched:
        alarms.set_ok(touched, f"kinesis-autoscaler: thresholds set for {shards} shards")
    return touched
