"""`kinesis-autoscaler doctor`: the invariants the autoscaler keeps, checked on live streams, each drift reported with
what to do about it. Read-only.

Per managed stream: it exists and is provisioned; its OPEN shards tile the hash key space; the count is within
[min_shards, max_shards]; the layout is even enough to carry its count (uneven on purpose only after hot-shard
splits); no lock is left held past its lease; the three alarms exist and their thresholds match the open count.
The checks themselves (`check_stream`) are pure: the reads are done by `diagnose`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from autoscaler.app.alarm_sync import stream_threshold
from autoscaler.app.ports import AlarmInfo, AlarmsPort, Clock, CooldownPort, KinesisPort, LockState, MetricsPort
from autoscaler.config import AutoscalerConfig, StreamConfig
from autoscaler.core.capacity import SCALED_KINDS, THROTTLE_KINDS, alarm_kinds, alarm_name
from autoscaler.core.capacity_mode import ModePolicy
from autoscaler.core.errors import AutoscalerError
from autoscaler.core.limits import ITERATOR_AGE, READ_THROTTLED
from autoscaler.core.model import Shard, StreamDescription, StreamMode
from autoscaler.core.scale_down import effective_capacity
from autoscaler.core.scale_up import tiles_key_space

UNEVEN = 0.75  # a layout carrying < 75% of its count (even keys) is worth a look


class Severity(enum.StrEnum):
    ERROR = "error"  # an invariant is broken: act
    WARNING = "warning"  # drift the autoscaler will not fix by itself, or not soon
    INFO = "info"  # worth knowing, nothing to do


class Finding(NamedTuple):
    stream: str
    severity: Severity
    check: str
    message: str
    fix: str = ""


def check_stream(
    cfg: StreamConfig,
    prefix: str,
    *,
    desc: StreamDescription | None,
    shards: Sequence[Shard] | None,
    alarms: Mapping[str, AlarmInfo],
    lock: LockState | None,
    now: float,
) -> list[Finding]:
    """Every finding for one stream (empty: healthy). Pure."""
    name = cfg.name
    out: list[Finding] = []

    def add(severity: Severity, check: str, message: str, fix: str = "") -> None:
        out.append(Finding(name, severity, check, message, fix))

    if desc is None:
        add(Severity.ERROR, "exists", "the stream does not exist", "run `kinesis-autoscaler create-streams`")
        return out
    policy = ModePolicy(cfg.capacity_mode)
    if desc.mode is StreamMode.ON_DEMAND:
        if policy is ModePolicy.PROVISIONED:
            add(
                Severity.WARNING,
                "mode",
                "the stream is ON_DEMAND but its capacity_mode is provisioned: the autoscaler leaves it alone",
                "set capacity_mode: auto (or on-demand) for it, or switch it to PROVISIONED",
            )
        else:
            add(Severity.INFO, "mode", f"ON_DEMAND, as capacity_mode {policy.value} keeps it")
        return out
    if policy is ModePolicy.ON_DEMAND:
        add(
            Severity.INFO,
            "mode",
            "PROVISIONED, but capacity_mode is on-demand: the hourly capacity-mode run switches it (two switches a "
            "day at most)",
            "nothing to do; `kinesis-autoscaler capacity-mode --stream " + name + "` switches it now",
        )
    if desc.status != "ACTIVE":
        add(Severity.INFO, "status", f"the stream is {desc.status}")
    if shards is not None:
        n = len(shards)
        if not tiles_key_space(shards):
            add(
                Severity.ERROR,
                "hash-space",
                f"the {n} OPEN shards do not tile 0 … 2^128−1 (a gap or an overlap)",
                "re-run: if it persists, ListShards is returning an inconsistent view; contact AWS support",
            )
        if n < cfg.min_shards:
            add(
                Severity.ERROR,
                "bounds",
                f"{n} open shards, below min_shards {cfg.min_shards}",
                "the next alarm restores the floor; to do it now: `kinesis-autoscaler scale-up --stream " + name + "`",
            )
        if n > cfg.max_shards:
            add(
                Severity.ERROR,
                "bounds",
                f"{n} open shards, above max_shards {cfg.max_shards} (resharded outside the autoscaler?)",
                "raise max_shards in the config, or merge by hand; the autoscaler never goes above it",
            )
        capacity = effective_capacity(shards)
        if n and capacity < UNEVEN * n:
            add(
                Severity.INFO,
                "layout",
                f"uneven layout: {n} shards carry {capacity:.1f} shards of evenly spread writes (hot-shard splits "
                "leave this on purpose)",
                "if the keys are not skewed, an UpdateShardCount to the same count evens it out",
            )
    if lock is not None and lock.owner is not None:
        if lock.lease_until < now:
            add(
                Severity.WARNING,
                "lock",
                f"a lock left by a run that ended without releasing it (lease expired {now - lock.lease_until:.0f} s "
                "ago)",
                "nothing to do: the next run takes it over; a crash or timeout left it",
            )
        else:
            add(Severity.INFO, "lock", f"a run holds the lock for {lock.lease_until - now:.0f} s more")
    for kind in alarm_kinds(cfg.read_side):
        alarm = alarm_name(prefix, name, kind)
        info = alarms.get(alarm)
        if info is None:
            add(Severity.ERROR, "alarms", f"alarm {alarm} is missing", "run `kinesis-autoscaler create-streams`")
            continue
        if shards is None or kind in THROTTLE_KINDS:
            continue
        want = stream_threshold(cfg, kind, len(shards), info.period_seconds)
        if kind not in SCALED_KINDS:  # the iterator age: the config's bound, whatever the count
            if not math.isclose(want, info.threshold, rel_tol=1e-6, abs_tol=1e-6):
                add(
                    Severity.WARNING,
                    "alarms",
                    f"alarm {alarm} fires above {info.threshold / 1000:g} s, max_iterator_age_seconds is "
                    f"{want / 1000:g}",
                    "run `kinesis-autoscaler create-streams` (it re-puts the alarm for the config)",
                )
            continue
        if not math.isclose(want, info.threshold, rel_tol=1e-6, abs_tol=1e-6):
            stood_for = info.threshold / stream_threshold(cfg, kind, 1, info.period_seconds)
            add(
                Severity.WARNING,
                "alarms",
                f"alarm {alarm} is set for {stood_for:.1f} shards, {len(shards)} are open",
                "run `kinesis-autoscaler create-streams` (it re-puts thresholds for the open count)",
            )
    return out


def diagnose(
    config: AutoscalerConfig,
    *,
    kinesis: KinesisPort,
    alarms: AlarmsPort,
    cooldown: CooldownPort,
    clock: Clock,
    names: Sequence[str] | None = None,
    metrics: MetricsPort | None = None,
) -> list[Finding]:
    """Read each managed stream (or the named ones) and check it. A stream that cannot be read is a finding. With
    `metrics`, the read-side streams' last hour too: readers throttled or behind (read_findings)."""
    wanted = [s for s in config.streams if names is None or s.name in names]
    summaries = kinesis.describe_all()
    found = alarms.get_alarms(
        [alarm_name(config.alarm_name_prefix, s.name, k) for s in wanted for k in alarm_kinds(s.read_side)]
    )
    now = clock.now()
    out: list[Finding] = []
    for cfg in wanted:
        desc = summaries.get(cfg.name)
        shards: list[Shard] | None = None
        lock: LockState | None = None
        try:
            if desc is not None and desc.mode is StreamMode.PROVISIONED:
                shards = kinesis.list_open_shards(cfg.name)
            lock = cooldown.read(cfg.name)
        except AutoscalerError as exc:
            out.append(Finding(cfg.name, Severity.ERROR, "read", f"cannot read it: {exc}", "check permissions"))
            continue
        out += check_stream(cfg, config.alarm_name_prefix, desc=desc, shards=shards, alarms=found, lock=lock, now=now)
    readers = [c for c in wanted if c.read_side]
    if metrics is not None and readers:
        end = int(now) // 60 * 60
        try:
            got = metrics.fleet_series(
                [c.name for c in readers], READ_DOCTOR_METRICS, start=end - 3600, end=end, period_seconds=60
            )
        except AutoscalerError as exc:
            return [*out, Finding("-", Severity.WARNING, "readers", f"cannot read the read metrics: {exc}", "retry")]
        for c in readers:
            out += read_findings(c, got.get(c.name, {}))
    return out


READ_DOCTOR_METRICS = (READ_THROTTLED, ITERATOR_AGE)


def read_findings(cfg: StreamConfig, series: Mapping[str, Mapping[int, float]]) -> list[Finding]:
    """A read-side stream's readers over the last hour: refused reads, or the worst reader beyond
    max_iterator_age_seconds. Warnings: they stop every scale-down, and say where to look."""
    out = []
    refused = sum(series.get(READ_THROTTLED, {}).values())
    ages = series.get(ITERATOR_AGE, {})
    worst = max(ages.values()) / 1000 if ages else None
    if refused > 0:
        out.append(
            Finding(
                cfg.name,
                Severity.WARNING,
                "readers",
                f"{refused:.0f} GetRecords calls throttled in the last hour",
                "`plan scale-up` shows whether reads are at the shared limit (more shards) or the calls are (fewer "
                "polling consumers, or enhanced fan-out); scale-downs wait meanwhile",
            )
        )
    if worst is not None and worst > cfg.max_iterator_age_seconds:
        out.append(
            Finding(
                cfg.name,
                Severity.WARNING,
                "readers",
                f"readers behind: iterator age reached {worst:.0f} s in the last hour (max_iterator_age_seconds "
                f"{cfg.max_iterator_age_seconds})",
                "if `status` shows reads near the limit, the stream needs shards (`scale --to N`); if not, the "
                "consumer is slow; scale-downs wait meanwhile",
            )
        )
    return out
