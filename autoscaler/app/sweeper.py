"""The re-arm sweep: the safety net that does not wait for a notification.

CloudWatch notifies only on a transition into ALARM. An alarm that fired while nobody could act on it — its run died
holding the lock, the hand-over was lost, Lambda gave the event up after its retries, the re-arm after a refusal
failed — stays in ALARM and never notifies again while the breach lasts. On a short schedule (template.yaml
AlarmSweepSchedule, rate(5 minutes) by default) the scale-up function reads every managed stream's alarms and, for a
stream in ALARM that no live run holds, sets those alarms back to OK. CloudWatch re-evaluates them at their next
period and, if the breach is still there, goes back into ALARM and notifies: the scale-up then runs on current
evidence, through the same screen, lock and lifecycle as any alarm.

A stream whose lock a live run holds is left alone: that run resets its alarms when it finishes (alarm_sync). A
stream in cooldown is re-armed too: the re-fired alarm meets the cooldown, which re-arms it, so the first firing
after the cooldown acts. Reads: one DescribeAlarms per 100 alarms, one GetItem per stream in ALARM.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from autoscaler.app.alarm_sync import rearm
from autoscaler.app.ports import AlarmsPort, Clock, CooldownPort
from autoscaler.config import AutoscalerConfig
from autoscaler.core.capacity import AlarmKind, alarm_name
from autoscaler.core.errors import AutoscalerError
from autoscaler.core.lock import held

log = logging.getLogger("autoscaler.sweeper")

SWEEP_REASON = "in ALARM while no run holds the stream's lock (the sweep)"


class SweepRow(NamedTuple):
    """One stream with an alarm in ALARM: what the sweep did about it."""

    stream: str
    alarmed: tuple[str, ...]  # its alarms found in ALARM
    rearmed: bool  # set back to OK by this sweep
    why: str  # left alone: "held by ..."; re-armed: the lock's state; failed: the error
    error: bool = False


class AlarmSweeper:
    def __init__(self, *, config: AutoscalerConfig, alarms: AlarmsPort, cooldown: CooldownPort, clock: Clock) -> None:
        self.config = config
        self.alarms = alarms
        self.cooldown = cooldown
        self.clock = clock

    def sweep(self) -> tuple[SweepRow, ...]:
        """A row for every enabled stream of the config with an alarm in ALARM (streams all in OK have none).

        DescribeAlarms failing raises (nothing was read; Lambda retries and the next sweep repeats). A stream's lock
        unreadable, or its re-arm refused, is that stream's row (error=True): with the table down the sweep cannot
        tell a live run from a dead one, and leaves the alarm for the next sweep rather than guess."""
        prefix = self.config.alarm_name_prefix
        names = {
            alarm_name(prefix, cfg.name, kind): cfg.name
            for cfg in self.config.streams
            if cfg.enabled
            for kind in AlarmKind
        }
        found = self.alarms.get_alarms(list(names))
        alarmed: dict[str, list[str]] = {}
        for name, info in found.items():
            if info.state == "ALARM":
                alarmed.setdefault(names[name], []).append(name)
        rows = []
        for stream, stream_alarms in alarmed.items():
            rows.append(self._one(stream, tuple(sorted(stream_alarms))))
        return tuple(rows)

    def _one(self, stream: str, alarmed: tuple[str, ...]) -> SweepRow:
        now = self.clock.now()
        try:
            state = self.cooldown.read(stream)
        except (AutoscalerError, OSError) as exc:
            log.warning("sweep: lock unreadable; alarms left for the next sweep", extra={"stream": stream})
            return SweepRow(stream, alarmed, False, f"lock unreadable ({exc}); left for the next sweep", error=True)
        if held(state, now):
            assert state is not None
            why = f"held by {state.owner} for {state.lease_until - now:.0f} s more: its finish resets them"
            return SweepRow(stream, alarmed, False, why)
        if state is not None and state.owner is not None:
            lock = f"the lock of {state.owner} lapsed {now - state.lease_until:.0f} s ago"
        else:
            lock = "no run holds the lock"
        try:
            rearm(self.alarms, alarmed, SWEEP_REASON)
        except (AutoscalerError, OSError) as exc:
            return SweepRow(stream, alarmed, False, f"{lock}; re-arm failed ({exc})", error=True)
        return SweepRow(stream, alarmed, True, lock)
