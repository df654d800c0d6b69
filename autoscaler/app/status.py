"""`kinesis-autoscaler status`: one row per managed stream, from the same ports the functions use. Read-only."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from autoscaler.app.alarm_sync import stream_threshold
from autoscaler.app.ports import AlarmsPort, Clock, CooldownPort, Direction, KinesisPort, MetricsPort
from autoscaler.config import AutoscalerConfig
from autoscaler.core.capacity import alarm_kinds, alarm_name
from autoscaler.core.capacity_mode import ModePolicy
from autoscaler.core.errors import AutoscalerError, LockUnavailable
from autoscaler.core.limits import INCOMING_BYTES, INCOMING_RECORDS, ITERATOR_AGE, READ_BYTES, WRITE_METRICS
from autoscaler.core.model import LockState, StreamMode
from autoscaler.core.read_side import read_bytes_capacity
from autoscaler.core.scale_down import effective_capacity, period_utilisation


class StreamStatus(NamedTuple):
    stream: str
    mode: str
    status: str
    open_shards: int | None
    min_shards: int
    desired_shards: int
    max_shards: int
    peak_1h: float | None
    peak_24h: float | None
    alarms: dict[str, dict[str, Any]]  # name -> {state, threshold, matches}
    alarms_match: bool
    cooldown_up_s: int
    cooldown_down_s: int
    locked: bool
    last_action: str | None
    problem: str | None = None
    capacity_mode: str = "provisioned"  # the config's: provisioned, on-demand or auto
    mode_note: str = ""  # why the stream is in its mode (or what will happen to it)
    effective_capacity: float | None = None  # shard-equivalents before the widest shard fills (= open for even)
    lock_known: bool = True  # False: the cooldown table could not be read (lock and cooldowns unknown)
    read_side: bool = False
    read_peak_1h: float | None = (
        None  # read_side: the busiest minute's GetRecords.Bytes, of the shared 2 MiB/s per shard
    )
    max_iterator_age_s: float | None = None  # read_side: the worst reader's age over the last hour


def peak(
    points: Mapping[str, Mapping[int, float]],
    capacity: float,
    period: int,
    reads: Mapping[str, Mapping[int, float]] | None = None,
    read_consumers: int = 0,
) -> float | None:
    """The busiest period's utilisation of `capacity` shard-equivalents, by the scale-down's own rule
    (core/scale_down.py period_utilisation: the effective capacity's denominator, and a read-side stream's readers),
    so status and plan scale-down show the same figure for the same stream."""
    b, r = points.get(INCOMING_BYTES, {}), points.get(INCOMING_RECORDS, {})
    rb = (reads or {}).get(READ_BYTES, {}) if read_consumers else {}
    periods = set(b) | set(r) | set(rb)
    if not periods or capacity <= 0:
        return None
    return max(
        period_utilisation(
            b.get(t, 0.0),
            r.get(t, 0.0),
            rb.get(t, 0.0),
            capacity=capacity,
            period=period,
            read_consumers=read_consumers,
        )
        for t in periods
    )


def _reads(series: Mapping[str, Mapping[int, float]] | None, capacity: float | None) -> dict[str, float | None]:
    """The last hour's read peak (of the effective capacity's shared read bytes) and worst iterator age."""
    if series is None:
        return {}
    read, ages = series.get(READ_BYTES, {}), series.get(ITERATOR_AGE, {})
    peak = max(read.values()) / read_bytes_capacity(capacity, 60) if read and capacity else None
    return {"read_peak_1h": peak, "max_iterator_age_s": max(ages.values()) / 1000 if ages else None}


def mode_note(policy: str, mode: StreamMode | None, lock: LockState | None, now: float) -> str:
    """Why the stream is in its mode, in a line: the config's capacity_mode, and our last switch if any."""
    last = max(lock.mode_switches, default=None) if lock else None
    # `now` is whole seconds (fleet_status) and the switch's time is not: a switch this second is 0 s old, not -0.4
    switched = f"; switched {_age(max(0.0, now - last))} ago" if last is not None else ""
    if mode is None:
        return ""
    if policy == ModePolicy.PROVISIONED.value:
        if mode is StreamMode.ON_DEMAND:
            return "on-demand, but capacity_mode is provisioned: not autoscaled (set capacity_mode, or switch it)"
        return ""
    if policy == ModePolicy.ON_DEMAND.value:
        if mode is StreamMode.PROVISIONED:
            return "capacity_mode on-demand: the hourly capacity-mode run switches it"
        return "capacity_mode on-demand" + switched
    return f"capacity_mode auto: {mode.value} by the evidence (`plan capacity-mode` shows it){switched}"


def _age(seconds: float) -> str:
    return f"{seconds / 86_400:.1f} d" if seconds >= 86_400 else f"{seconds / 3600:.0f} h"


def fleet_status(
    config: AutoscalerConfig,
    *,
    kinesis: KinesisPort,
    metrics: MetricsPort,
    alarms: AlarmsPort,
    cooldown: CooldownPort | None,
    clock: Clock,
) -> list[StreamStatus]:
    """`cooldown` None (no table found for the deployment) or unreadable: every stream is still listed, with its
    lock and cooldowns unknown (`lock_known` False)."""
    now = int(clock.now())
    summaries = kinesis.describe_all()
    names = [s.name for s in config.streams]
    hour_end = -(-now // 60) * 60
    day_end = -(-now // 300) * 300
    hour = metrics.fleet_series(names, WRITE_METRICS, start=hour_end - 3600, end=hour_end, period_seconds=60)
    readers = [s.name for s in config.streams if s.read_side]
    read_hour = (
        metrics.fleet_series(
            readers, (READ_BYTES, ITERATOR_AGE), start=hour_end - 3600, end=hour_end, period_seconds=60
        )
        if readers
        else {}
    )
    day = metrics.fleet_series(names, WRITE_METRICS, start=day_end - 86_400, end=day_end, period_seconds=300)
    read_day = (
        metrics.fleet_series(readers, (READ_BYTES,), start=day_end - 86_400, end=day_end, period_seconds=300)
        if readers
        else {}
    )
    wanted = [alarm_name(config.alarm_name_prefix, s.name, k) for s in config.streams for k in alarm_kinds(s.read_side)]
    found = alarms.get_alarms(wanted)
    rows = []
    for s in config.streams:
        consumers = s.read_consumers if s.read_side else 0
        desc = summaries.get(s.name)
        problem = None
        shards: int | None = None
        capacity: float | None = None
        if desc is None:
            problem = "stream does not exist: run create-streams"
        else:
            try:
                layout = kinesis.list_open_shards(s.name)
                shards, capacity = len(layout), effective_capacity(layout)
            except AutoscalerError as exc:
                problem = str(exc)
        alarm_rows: dict[str, dict[str, Any]] = {}
        match = True
        for kind in alarm_kinds(s.read_side) if desc is None or desc.mode.value == "PROVISIONED" else ():
            name = alarm_name(config.alarm_name_prefix, s.name, kind)
            info = found.get(name)
            if info is None:
                alarm_rows[name] = {"state": "MISSING", "threshold": None, "matches": False}
                match = False
                continue
            want = stream_threshold(s, kind, shards or 0, info.period_seconds)
            ok = shards is not None and math.isclose(want, info.threshold, rel_tol=1e-6, abs_tol=1e-6)
            match = match and ok
            alarm_rows[name] = {"state": info.state, "threshold": info.threshold, "matches": ok}
        lock: LockState | None = None
        lock_known = cooldown is not None
        if cooldown is not None:
            try:
                lock = cooldown.read(s.name)
            except LockUnavailable:
                lock_known = False
        up = lock.cooldown_until.get(Direction.UP, 0.0) if lock else 0.0
        down = lock.cooldown_until.get(Direction.DOWN, 0.0) if lock else 0.0
        rows.append(
            StreamStatus(
                stream=s.name,
                mode=desc.mode.value if desc else "-",
                status=desc.status if desc else "-",
                open_shards=shards,
                min_shards=s.min_shards,
                desired_shards=s.desired_shards,
                max_shards=s.max_shards,
                peak_1h=peak(hour.get(s.name, {}), capacity, 60, read_hour.get(s.name), consumers)
                if capacity
                else None,
                peak_24h=peak(day.get(s.name, {}), capacity, 300, read_day.get(s.name), consumers)
                if capacity
                else None,
                alarms=alarm_rows,
                alarms_match=match,
                cooldown_up_s=max(0, int(up - now)),
                cooldown_down_s=max(0, int(down - now)),
                locked=bool(lock and lock.owner and lock.lease_until >= now),
                last_action=lock.last_action if lock else None,
                problem=problem,
                capacity_mode=s.capacity_mode,
                mode_note=mode_note(s.capacity_mode, desc.mode if desc else None, lock, now),
                effective_capacity=round(capacity, 2) if capacity is not None else None,
                lock_known=lock_known,
                read_side=s.read_side,
                **_reads(read_hour.get(s.name), capacity),
            )
        )
    return rows
