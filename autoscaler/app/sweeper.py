"""The re-arm sweep: the safety net that does not wait for a notification.

CloudWatch notifies only on a transition into ALARM. An alarm that fired while nobody could act on it — its run died
holding the lock, the hand-over was lost, Lambda gave the event up after its retries, the re-arm after a refusal
failed — stays in ALARM and never notifies again while the breach lasts. On a short schedule (template.yaml
AlarmSweepSchedule, rate(5 minutes) by default) the scale-up function reads every managed stream's alarms and, for a
stream in ALARM that no live run holds, sets those alarms back to OK. CloudWatch re-evaluates them at their next
period and, if the breach is still there, goes back into ALARM and notifies: the scale-up then runs on current
evidence, through the same screen, lock and lifecycle as any alarm.

Which alarms: every one in ALARM named <prefix>/<stream>/… for an enabled stream of the config — the three the
autoscaler makes and any an operator added for the stream (README, "Alarms the autoscaler acts on"). Left alone: a
stream whose lock a live run holds (that run resets its alarms when it finishes, alarm_sync); a stream that is not
provisioned or is gone (the scale-up lets such a stream go without touching its alarms, so re-arming it would only
cycle). A stream in cooldown is re-armed: the re-fired alarm meets the cooldown, which re-arms it, so the first
firing after the cooldown acts. Reads: DescribeAlarms of the prefix in ALARM (paged), then per stream in ALARM one
GetItem and one DescribeStreamSummary.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from autoscaler.app.alarm_sync import rearm
from autoscaler.app.ports import AlarmsPort, Clock, CooldownPort, KinesisPort
from autoscaler.config import AutoscalerConfig
from autoscaler.core.capacity import ALARM_NAME_SEPARATOR, alarm_stream
from autoscaler.core.errors import AutoscalerError, StreamNotFound
from autoscaler.core.lock import held
from autoscaler.core.model import StreamMode

log = logging.getLogger("autoscaler.sweeper")

SWEEP_REASON = "in ALARM while no run holds the stream's lock (the sweep)"


class SweepRow(NamedTuple):
    """One stream with an alarm in ALARM: what the sweep did about it."""

    stream: str
    alarmed: tuple[str, ...]  # its alarms found in ALARM
    rearmed: bool  # set back to OK by this sweep
    why: str  # left alone: held by a live run, not provisioned, gone; re-armed: the lock's state; failed: the error
    error: bool = False


class AlarmSweeper:
    def __init__(
        self,
        *,
        config: AutoscalerConfig,
        kinesis: KinesisPort,
        alarms: AlarmsPort,
        cooldown: CooldownPort,
        clock: Clock,
    ) -> None:
        self.config = config
        self.kinesis = kinesis
        self.alarms = alarms
        self.cooldown = cooldown
        self.clock = clock

    def sweep(self) -> tuple[SweepRow, ...]:
        """A row for every enabled stream of the config with an alarm in ALARM (streams all in OK have none).

        DescribeAlarms failing raises (nothing was read; Lambda retries and the next sweep repeats). A stream's lock
        or description unreadable, or its re-arm refused, is that stream's row (error=True): with the table down the
        sweep cannot tell a live run from a dead one, and leaves the alarm for the next sweep rather than guess."""
        prefix = self.config.alarm_name_prefix
        enabled = {cfg.name for cfg in self.config.streams if cfg.enabled}
        alarmed: dict[str, list[str]] = {}
        for name in self.alarms.alarmed(prefix + ALARM_NAME_SEPARATOR):
            stream = alarm_stream(prefix, name)
            if stream in enabled:
                alarmed.setdefault(stream, []).append(name)
        return tuple(self._guarded(stream, tuple(sorted(names))) for stream, names in sorted(alarmed.items()))

    def _guarded(self, stream: str, alarmed: tuple[str, ...]) -> SweepRow:
        """One stream's trouble of any kind (botocore's connection errors are neither AutoscalerError nor OSError)
        is that stream's row: the other streams are still swept, as the scale-down's fleet run does."""
        try:
            return self._one(stream, alarmed)
        except Exception as exc:
            log.exception("sweep: stream not swept", extra={"stream": stream})
            return SweepRow(stream, alarmed, False, f"{type(exc).__name__}: {exc}; left for the next sweep", error=True)

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
        try:
            mode = self.kinesis.describe(stream).mode
        except StreamNotFound:
            return SweepRow(stream, alarmed, False, "the stream is gone: nothing to scale")
        except (AutoscalerError, OSError) as exc:
            return SweepRow(stream, alarmed, False, f"stream unreadable ({exc}); left for the next sweep", error=True)
        if mode is not StreamMode.PROVISIONED:
            return SweepRow(stream, alarmed, False, f"{mode.value}: not resharded by the autoscaler")
        if state is not None and state.owner is not None:
            lock = f"the lock of {state.owner} lapsed {now - state.lease_until:.0f} s ago"
        else:
            lock = "no run holds the lock"
        try:
            rearm(self.alarms, alarmed, SWEEP_REASON)
        except (AutoscalerError, OSError) as exc:
            return SweepRow(stream, alarmed, False, f"{lock}; re-arm failed ({exc})", error=True)
        return SweepRow(stream, alarmed, True, lock)
