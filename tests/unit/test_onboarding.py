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
        alarm("kinesis-autoscaler/gone/incoming-bytes", "gone"),
        alarm("kinesis-autoscaler-gone-incoming-bytes", "gone"),  # an earlier version's name, ours as well
        # not ours: another deployment whose prefix extends ours ("kinesis-autoscaler-eu" + stream "orders"
        # reads as prefix "kinesis-autoscaler" + stream "eu-orders"), notifying its own topic
        alarm("kinesis-autoscaler-eu-orders-incoming-bytes", "orders", topic="arn:aws:sns:us-east-1:1:other"),
        alarm("kinesis-autoscaler-eu-orders-incoming-records", "eu-orders", topic="arn:aws:sns:us-east-1:1:other"),
        # names that only look like ours
        alarm("kinesis-autoscaler-gone-latency", "gone"),
        alarm("kinesis-autoscaler/gone/latency", "gone"),
        alarm("kinesis-autoscaler/gone/incoming-bytes/x", "gone"),
    ]
    both = ("kinesis-autoscaler-gone-incoming-bytes", "kinesis-autoscaler/gone/incoming-bytes")
    kept = plan_onboarding(CFG, {"s": in_sync()}, TOPIC, existing_alarms=existing)
    assert kept.orphaned_alarms == both and kept.orphan_actions == ()
    removed = plan_onboarding(CFG, {"s": in_sync()}, TOPIC, existing_alarms=existing, remove_orphaned_alarms=True)
    assert [a.value for a in removed.orphan_actions] == list(both)


def test_nested_prefixes_never_name_one_alarm_twice() -> None:
    """Issue 12 section 7: prefix "a" + stream "staging-orders" and prefix "a-staging" + stream "orders" gave one
    name, a-staging-orders-incoming-bytes, so deployment A retuned B's alarm. "/" is in no prefix or stream name."""
    from autoscaler.core.capacity import AlarmKind, alarm_name, kind_of_alarm, parse_alarm_name

    a = alarm_name("a", "staging-orders", AlarmKind.INCOMING_BYTES)
    b = alarm_name("a-staging", "orders", AlarmKind.INCOMING_BYTES)
    assert (a, b) == ("a/staging-orders/incoming-bytes", "a-staging/orders/incoming-bytes")
    assert parse_alarm_name("a", a) == ("staging-orders", AlarmKind.INCOMING_BYTES)
    assert parse_alarm_name("a", b) is None and kind_of_alarm("a", "staging-orders", b) is None
    assert parse_alarm_name("a-staging", a) is None


def test_create_streams_renames_its_old_alarms_and_leaves_another_deployments() -> None:
    """The alarms of a stream under the old <prefix>-<stream>-<kind> names: the new ones are put first, then the
    old ones deleted, in that order in the stream's plan — only those with the stream's dimension and our topic."""
    paging = "arn:aws:sns:us-east-1:123456789012:pager"  # an action an operator added to the old alarm: kept
    old = {
        f"kinesis-autoscaler-s-{k}": ExistingAlarm(
            f"kinesis-autoscaler-s-{k}", 1.0, 60, 2, 2, "x", (TOPIC, paging), "s"
        )
        for k in ("incoming-bytes", "incoming-records")
    }
    # prefix "kinesis-autoscaler-s" + a stream named "write-throttled"... or another deployment's: other topic
    theirs = ExistingAlarm("kinesis-autoscaler-s-write-throttled", 1.0, 60, 1, 1, "x", ("arn:other",), "s")
    seen = in_sync(alarms={})
    plan = plan_onboarding(CFG, {"s": seen}, TOPIC, existing_alarms=[*old.values(), theirs])
    (sp,) = plan.streams
    kinds = [a.kind for a in sp.actions]
    assert kinds == [ActionKind.PUT_ALARM] * 3 + [ActionKind.RETIRE_ALARM] * 2, sp.actions
    assert [a.value for a in sp.actions if a.kind is ActionKind.RETIRE_ALARM] == sorted(old)
    assert sp.actions[-1].detail == (
        "delete kinesis-autoscaler-s-incoming-records (renamed kinesis-autoscaler/s/incoming-records)"
    )
    assert [a.keep_actions for a in sp.actions[:3]] == [(paging,), (paging,), ()]
    assert plan.orphaned_alarms == ()
    # once renamed, nothing more to do
    done = plan_onboarding(CFG, {"s": in_sync()}, TOPIC, existing_alarms=[theirs])
    assert not done.changes


def test_new_shards_count_only_streams_to_create() -> None:
    assert plan_onboarding(CFG, {"s": ObservedStream("s", False)}, TOPIC).new_shards == 2
    assert plan_onboarding(CFG, {"s": in_sync()}, TOPIC).new_shards == 0
