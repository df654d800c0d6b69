"""create-streams decisions: observed state in, actions out (what a dry run prints is what a run does)."""

from __future__ import annotations

import pytest

from autoscaler.app.onboarding import ActionKind, ExistingAlarm, ObservedStream, plan_onboarding
from autoscaler.config import parse_config
from autoscaler.core.capacity import alarm_specs
from autoscaler.core.model import StreamMode

pytestmark = pytest.mark.unit
TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms"
CFG = parse_config(
    "streams:\n  - {name: s, min_shards: 1, max_shards: 8, desired_shards: 2, retention_hours: 48, "
    "shard_level_metrics: true}\n"
)


def alarms_for(shards: int, topic: str = TOPIC) -> dict[str, ExistingAlarm]:
    specs = alarm_specs(
        "kinesis-autoscaler",
        "s",
        shards,
        scale_up_threshold=0.8,
        period_seconds=60,
        evaluation_periods=2,
        datapoints_to_alarm=2,
    )
    return {
        a.name: ExistingAlarm(
            a.name, a.threshold, a.period_seconds, a.evaluation_periods, a.datapoints_to_alarm, a.comparison, (topic,)
        )
        for a in specs
    }


def in_sync(**kw: object) -> ObservedStream:
    base = ObservedStream(
        "s",
        True,
        StreamMode.PROVISIONED,
        2,
        48,
        "alias/aws/kinesis",
        frozenset({"IncomingBytes", "IncomingRecords", "WriteProvisionedThroughputExceeded"}),
        alarms_for(2),
    )
    return base._replace(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "seen", "kinds", "note"),
    [
        (
            "missing stream",
            ObservedStream("s", False),
            [
                ActionKind.CREATE_STREAM,
                ActionKind.SET_RETENTION,
                ActionKind.START_ENCRYPTION,
                ActionKind.ENABLE_SHARD_METRICS,
            ]
            + [ActionKind.PUT_ALARM] * 3,
            None,
        ),
        ("in sync", in_sync(), [], None),
        (
            "count differs: reported, alarms follow the open count",
            in_sync(open_shards=5, alarms=alarms_for(5)),
            [],
            "5 open shards, desired_shards is 2: not resharded",
        ),
        ("alarm for an old count", in_sync(alarms=alarms_for(1)), [ActionKind.PUT_ALARM] * 2, None),
        ("alarm wired elsewhere", in_sync(alarms=alarms_for(2, topic="arn:other")), [ActionKind.PUT_ALARM] * 3, None),
        ("retention", in_sync(retention_hours=24), [ActionKind.SET_RETENTION], None),
        ("not encrypted", in_sync(encrypted_with=None), [ActionKind.START_ENCRYPTION], None),
        ("other key: reported", in_sync(encrypted_with="alias/mine"), [], "left as it is"),
        ("on-demand: left alone", in_sync(mode=StreamMode.ON_DEMAND, retention_hours=24), [], "on-demand mode"),
        ("outside bounds: reported", in_sync(open_shards=20, alarms=alarms_for(20)), [], "outside [min_shards"),
    ],
)
def test_plan(case: str, seen: ObservedStream, kinds: list[ActionKind], note: str | None) -> None:
    plan = plan_onboarding(CFG, {"s": seen}, TOPIC)
    (sp,) = plan.streams
    assert [a.kind for a in sp.actions] == kinds, case
    if note:
        assert any(note in n for n in sp.notes), f"{case}: {sp.notes}"
    assert plan.changes is bool(kinds)


def alarm(name: str, stream: str | None, topic: str = TOPIC) -> ExistingAlarm:
    return ExistingAlarm(name, 1.0, 60, 1, 1, "GreaterThanThreshold", (topic,), stream)


def test_orphans_are_reported_and_deleted_only_when_asked() -> None:
    existing = [
        *(a._replace(stream_dimension="s") for a in alarms_for(2).values()),
        alarm("kinesis-autoscaler-gone-incoming-bytes", "gone"),
        # not ours: another deployment whose prefix extends ours ("kinesis-autoscaler-eu" + stream "orders"
        # reads as prefix "kinesis-autoscaler" + stream "eu-orders"), notifying its own topic
        alarm("kinesis-autoscaler-eu-orders-incoming-bytes", "orders", topic="arn:aws:sns:us-east-1:1:other"),
        alarm("kinesis-autoscaler-eu-orders-incoming-records", "eu-orders", topic="arn:aws:sns:us-east-1:1:other"),
        # a name that only looks like ours
        alarm("kinesis-autoscaler-gone-latency", "gone"),
    ]
    kept = plan_onboarding(CFG, {"s": in_sync()}, TOPIC, existing_alarms=existing)
    assert kept.orphaned_alarms == ("kinesis-autoscaler-gone-incoming-bytes",) and kept.orphan_actions == ()
    removed = plan_onboarding(CFG, {"s": in_sync()}, TOPIC, existing_alarms=existing, remove_orphaned_alarms=True)
    assert [a.value for a in removed.orphan_actions] == ["kinesis-autoscaler-gone-incoming-bytes"]


def test_new_shards_count_only_streams_to_create() -> None:
    assert plan_onboarding(CFG, {"s": ObservedStream("s", False)}, TOPIC).new_shards == 2
    assert plan_onboarding(CFG, {"s": in_sync()}, TOPIC).new_shards == 0
