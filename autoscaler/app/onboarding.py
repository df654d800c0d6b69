"""create-streams, decided: what to create or change so AWS matches streams.yaml. Pure: observed state in, actions
out, so a dry run prints exactly what a real run does.

Rules: a missing stream is created in its capacity_mode (provisioned: desired_shards; on-demand and auto: on-demand,
see `create_mode`) with its encryption and retention, and gets its alarms for its open count (an on-demand stream as
well: the capacity-mode job retunes them when it switches the stream, and never creates them). An existing stream is
never resharded (that is the autoscaler's job): a count other than desired_shards is reported. Nor is it switched
between modes (the fleet function's hourly capacity-mode job does that, within AWS's two switches a day): a mode
other than its capacity_mode allows is reported. An on-demand stream whose capacity_mode is provisioned is reported
and left alone. Retention, encryption, shard-level metrics and alarms are brought to the config (an on-demand stream's
too when its capacity_mode is on-demand or auto). Removing a stream from the config never deletes it;
its alarms are reported as orphaned and deleted only when asked. Alarms an earlier version named
<prefix>-<stream>-<kind> (ambiguous across nested prefixes) are renamed: the new <prefix>/<stream>/<kind> alarm is
put, then the old one deleted — only where it is provably this deployment's (see `is_ours`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from autoscaler.app.alarm_sync import stream_alarm_specs
from autoscaler.config import AutoscalerConfig, StreamConfig
from autoscaler.core.capacity import (
    READ_KINDS,
    AlarmKind,
    AlarmSpec,
    alarm_name,
    legacy_alarm_name,
    parse_alarm_name,
)
from autoscaler.core.capacity_mode import MARGIN, ModePolicy
from autoscaler.core.limits import INCOMING_BYTES, INCOMING_RECORDS, WRITE_THROTTLED
from autoscaler.core.model import StreamMode

SHARD_LEVEL_METRICS = (INCOMING_BYTES, INCOMING_RECORDS, WRITE_THROTTLED)


class ExistingAlarm(NamedTuple):
    name: str
    threshold: float
    period_seconds: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: str
    actions: tuple[str, ...]
    stream_dimension: str | None = None  # the alarm's StreamName dimension


class ObservedStream(NamedTuple):
    """What AWS says of a configured stream (exists False: nothing else is meaningful)."""

    name: str
    exists: bool
    mode: StreamMode = StreamMode.PROVISIONED
    open_shards: int = 0
    retention_hours: int = 24
    encrypted_with: str | None = None  # the KMS key id, None when not encrypted
    shard_level_metrics: frozenset[str] = frozenset()
    alarms: Mapping[str, ExistingAlarm] = {}


class ActionKind(enum.StrEnum):
    CREATE_STREAM = "create stream"
    SET_RETENTION = "set retention"
    START_ENCRYPTION = "start encryption"
    ENABLE_SHARD_METRICS = "enable shard-level metrics"
    PUT_ALARM = "put alarm"
    RETIRE_ALARM = "delete old-named alarm"  # after its replacement was put (same stream's plan, later action)
    DELETE_ALARM = "delete orphaned alarm"
    DROP_READ_ALARM = "delete read-side alarm"  # the stream's read_side is off: its read alarms go


class Action(NamedTuple):
    kind: ActionKind
    stream: str
    detail: str
    alarm: AlarmSpec | None = None
    value: int | str | tuple[str, ...] | None = None
    keep_actions: tuple[str, ...] = ()  # other actions an updated alarm already had: kept


class StreamPlan(NamedTuple):
    stream: str
    actions: tuple[Action, ...]
    notes: tuple[str, ...]  # reported, not acted on (count differs from desired, mode differs, …)

    @property
    def changes(self) -> bool:
        return bool(self.actions)


class OnboardingPlan(NamedTuple):
    streams: tuple[StreamPlan, ...]
    orphaned_alarms: tuple[str, ...]
    orphan_actions: tuple[Action, ...]
    new_shards: int  # shards the provisioned creations add to the account (its ShardLimit)
    new_on_demand: int = 0  # on-demand streams the creations add to the account (its OnDemandStreamCountLimit)

    @property
    def changes(self) -> bool:
        return any(p.changes for p in self.streams) or bool(self.orphan_actions)


def _wanted_alarms(cfg: AutoscalerConfig, stream: StreamConfig, shards: int) -> list[AlarmSpec]:
    return stream_alarm_specs(cfg.alarm_name_prefix, stream, shards)


def _alarm_matches(have: ExistingAlarm, want: AlarmSpec, topic_arn: str) -> bool:
    return (
        abs(have.threshold - want.threshold) <= 1e-6 * max(1.0, want.threshold)
        and have.period_seconds == want.period_seconds
        and have.evaluation_periods == want.evaluation_periods
        and have.datapoints_to_alarm == want.datapoints_to_alarm
        and have.comparison == want.comparison
        and topic_arn in have.actions
    )


def create_mode(stream: StreamConfig) -> StreamMode:
    """The mode a missing stream is created in. capacity_mode auto starts on-demand, the safe side: with no history
    the autoscaler cannot know the stream's traffic (on-demand takes up to twice its previous peak; a guessed shard
    count throttles), and the hourly capacity-mode job moves it to provisioned once its own history shows provisioned
    cheaper by MARGIN (core/capacity_mode.py)."""
    provisioned = ModePolicy(stream.capacity_mode) is ModePolicy.PROVISIONED
    return StreamMode.PROVISIONED if provisioned else StreamMode.ON_DEMAND


def _left_alone(stream: StreamConfig, seen: ObservedStream) -> bool:
    """An on-demand stream whose capacity_mode is provisioned: not the autoscaler's (nothing acted on, reported)."""
    return (
        seen.exists and seen.mode is StreamMode.ON_DEMAND and ModePolicy(stream.capacity_mode) is ModePolicy.PROVISIONED
    )


def _create(stream: StreamConfig) -> Action:
    if create_mode(stream) is StreamMode.PROVISIONED:
        detail = f"{stream.desired_shards} shards, provisioned"
        return Action(ActionKind.CREATE_STREAM, stream.name, detail, value=stream.desired_shards)
    if ModePolicy(stream.capacity_mode) is ModePolicy.AUTO:
        detail = (
            "on-demand (capacity_mode auto: no history to judge by, so the safe side; the hourly capacity-mode job "
            f"moves it to provisioned once its history shows provisioned cheaper by {MARGIN:.0%})"
        )
    else:
        detail = "on-demand (capacity_mode on-demand; AWS sets its shard count)"
    return Action(ActionKind.CREATE_STREAM, stream.name, detail, value=StreamMode.ON_DEMAND.value)


def plan_stream(cfg: AutoscalerConfig, stream: StreamConfig, seen: ObservedStream, topic_arn: str) -> StreamPlan:
    actions: list[Action] = []
    notes: list[str] = []
    policy = ModePolicy(stream.capacity_mode)
    on_demand_start = False  # alarms of a stream created on-demand: for the count AWS gives it
    if not seen.exists:
        actions.append(_create(stream))
        # An on-demand stream's count is AWS's choice: desired_shards stands in for it here, and the alarm put
        # retunes each threshold to the open count read just before it (Provisioning.apply).
        on_demand_start = create_mode(stream) is StreamMode.ON_DEMAND
        shards = stream.desired_shards
        retention, key, metrics = 24, None, frozenset[str]()
        alarms: Mapping[str, ExistingAlarm] = {}
    else:
        if _left_alone(stream, seen):
            return StreamPlan(
                stream.name,
                (),
                (
                    "on-demand mode, but capacity_mode is provisioned: left alone and not switched (nor does the "
                    "autoscaler switch it; set capacity_mode: auto or on-demand, or switch it with UpdateStreamMode)",
                ),
            )
        if seen.mode is StreamMode.PROVISIONED and policy is ModePolicy.ON_DEMAND:
            notes.append(
                "provisioned mode, but capacity_mode is on-demand: not switched here (the hourly capacity-mode job "
                "switches it, within AWS's two switches a day)"
            )
        shards = seen.open_shards
        if seen.mode is StreamMode.PROVISIONED and shards != stream.desired_shards:
            notes.append(
                f"{shards} open shards, desired_shards is {stream.desired_shards}: not resharded "
                f"(the autoscaler keeps it within [{stream.min_shards}, {stream.max_shards}])"
            )
        if seen.mode is StreamMode.PROVISIONED and not stream.min_shards <= shards <= stream.max_shards:
            notes.append(
                f"{shards} open shards is outside [min_shards, max_shards] = "
                f"[{stream.min_shards}, {stream.max_shards}]: check the config"
            )
        retention, key, metrics, alarms = (
            seen.retention_hours,
            seen.encrypted_with,
            seen.shard_level_metrics,
            seen.alarms,
        )
    if retention != stream.retention_hours:
        actions.append(
            Action(
                ActionKind.SET_RETENTION,
                stream.name,
                f"{retention} h -> {stream.retention_hours} h",
                value=stream.retention_hours,
            )
        )
    if stream.encrypt and key is None:
        actions.append(
            Action(ActionKind.START_ENCRYPTION, stream.name, f"KMS {stream.kms_key_id}", value=stream.kms_key_id)
        )
    elif stream.encrypt and key != stream.kms_key_id:
        notes.append(f"encrypted with {key}, config says {stream.kms_key_id}: left as it is (change it by hand)")
    elif not stream.encrypt and key is not None:
        notes.append(f"encrypted with {key} but encrypt: false: encryption is never turned off by this script")
    missing = tuple(m for m in SHARD_LEVEL_METRICS if m not in metrics)
    if stream.shard_level_metrics and missing:
        actions.append(Action(ActionKind.ENABLE_SHARD_METRICS, stream.name, ", ".join(missing), value=missing))
    # An existing on-demand stream's count is AWS's to move: its alarms are put when missing or not wired to the
    # topic, not retuned to each count AWS passes through (the capacity-mode job retunes them when it switches it).
    on_demand_now = seen.exists and seen.mode is StreamMode.ON_DEMAND
    for spec in _wanted_alarms(cfg, stream, shards):
        have = alarms.get(spec.name)
        if have is None or not (topic_arn in have.actions if on_demand_now else _alarm_matches(have, spec, topic_arn)):
            what = "create" if have is None else "update"
            actions.append(
                Action(
                    ActionKind.PUT_ALARM,
                    stream.name,
                    f"{what} {spec.name} ({spec.metric_name} {spec.comparison} {spec.threshold:,.0f}"
                    + (", for the open count AWS starts it with)" if on_demand_start else ")"),
                    alarm=spec,
                    value=shards,  # the count the threshold is for: re-checked just before the put
                    keep_actions=tuple(a for a in (have.actions if have else ()) if a != topic_arn),
                )
            )
    # read_side turned off: its read alarms would keep firing, each notification refused (read-side-off)
    for kind in () if stream.read_side else READ_KINDS:
        name = alarm_name(cfg.alarm_name_prefix, stream.name, kind)
        if name in alarms and is_ours(alarms[name], stream.name, topic_arn):
            actions.append(
                Action(ActionKind.DROP_READ_ALARM, stream.name, f"delete {name} (read_side is off)", value=name)
            )
    return StreamPlan(stream.name, tuple(actions), tuple(notes))


def is_ours(alarm: ExistingAlarm, stream: str, topic_arn: str | None) -> bool:
    """An alarm this deployment made for `stream`: its StreamName dimension is the stream and it notifies our topic
    (with no topic known, as in status, the dimension must fit). What makes an old-style name safe to act on: prefix
    "ka" + stream "eu-orders" and prefix "ka-eu" + stream "orders" both gave "ka-eu-orders-…", but only one of the
    two deployments' topics is in its actions."""
    return alarm.stream_dimension == stream and (topic_arn is None or topic_arn in alarm.actions)


def _stream_of(prefix: str, name: str) -> str | None:
    """The stream an alarm of this prefix is for: one reading for <prefix>/<stream>/<kind>; for the old
    <prefix>-<stream>-<kind>, the reading the kind suffix leaves (checked against the dimension by `is_ours`)."""
    parsed = parse_alarm_name(prefix, name)
    if parsed is not None:
        return parsed[0]
    for kind in AlarmKind:
        head, tail = f"{prefix}-", f"-{kind.value}"
        if name.startswith(head) and name.endswith(tail) and len(name) > len(head) + len(tail):
            return name[len(head) : -len(tail)]
    return None


def is_orphan(prefix: str, alarm: ExistingAlarm, managed: set[str], topic_arn: str | None) -> bool:
    """An alarm this deployment made (either naming) for a stream no longer in its config."""
    stream = _stream_of(prefix, alarm.name)
    return stream is not None and stream not in managed and is_ours(alarm, stream, topic_arn)


def renamed(
    cfg: AutoscalerConfig, stream: StreamConfig, plan: StreamPlan, existing: Mapping[str, ExistingAlarm], topic_arn: str
) -> StreamPlan:
    """The stream's plan with its alarms under the old <prefix>-<stream>-<kind> names renamed, where provably ours:
    each new alarm's put keeps the old one's other actions (a paging topic an operator added), and the old alarms
    are deleted after the puts. An old-named alarm of another deployment is left."""
    old = {
        kind: alarm
        for kind in AlarmKind
        if (alarm := existing.get(legacy_alarm_name(cfg.alarm_name_prefix, stream.name, kind))) is not None
        and is_ours(alarm, stream.name, topic_arn)
    }
    if not old:
        return plan
    actions = []
    for planned in plan.actions:
        was = old.get(planned.alarm.kind) if planned.kind is ActionKind.PUT_ALARM and planned.alarm else None
        if was is not None:
            kept = dict.fromkeys([*planned.keep_actions, *(a for a in was.actions if a != topic_arn)])
            actions.append(planned._replace(keep_actions=tuple(kept)))
        else:
            actions.append(planned)
    for kind, alarm in old.items():
        new = alarm_name(cfg.alarm_name_prefix, stream.name, kind)
        actions.append(
            Action(ActionKind.RETIRE_ALARM, stream.name, f"delete {alarm.name} (renamed {new})", value=alarm.name)
        )
    return plan._replace(actions=tuple(actions))


def plan_onboarding(
    cfg: AutoscalerConfig,
    observed: Mapping[str, ObservedStream],
    topic_arn: str,
    *,
    existing_alarms: Sequence[ExistingAlarm] = (),
    remove_orphaned_alarms: bool = False,
) -> OnboardingPlan:
    """The whole diff. `existing_alarms`: every alarm named with the prefix (to find orphans)."""
    by_name = {a.name: a for a in existing_alarms}
    plans = tuple(
        renamed(cfg, s, sp, by_name, topic_arn)
        if not _left_alone(s, observed[s.name])  # puts no alarms
        else sp
        for s in cfg.streams
        for sp in (plan_stream(cfg, s, observed[s.name], topic_arn),)
    )
    managed = set(cfg.names)
    orphans = tuple(sorted(a.name for a in existing_alarms if is_orphan(cfg.alarm_name_prefix, a, managed, topic_arn)))
    orphan_actions = (
        tuple(Action(ActionKind.DELETE_ALARM, "", f"delete {n}", value=n) for n in orphans)
        if remove_orphaned_alarms
        else ()
    )
    created = [s for s in cfg.streams if not observed[s.name].exists]
    new = sum(s.desired_shards for s in created if create_mode(s) is StreamMode.PROVISIONED)
    # on-demand streams count by stream, not shard (the quotas page gives on-demand mode no shard quota)
    new_on_demand = sum(1 for s in created if create_mode(s) is StreamMode.ON_DEMAND)
    return OnboardingPlan(plans, orphans, orphan_actions, new, new_on_demand)
