"""create-streams decisions: observed state in, actions out (what a dry run prints is what a run does)."""

from __future__ import annotations

import pytest

from autoscaler.app.onboarding import ActionKind, ExistingAlarm, ObservedStream, plan_onboarding
from autoscaler.config import AutoscalerConfig, parse_config
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


def cfg_of(mode: str, desired: int = 2) -> AutoscalerConfig:
    return parse_config(
        f"streams:\n  - {{name: s, min_shards: 1, max_shards: 8, desired_shards: {desired}, retention_hours: 48, "
        f"shard_level_metrics: true, capacity_mode: {mode}}}\n"
    )


@pytest.mark.parametrize(
    ("mode", "value", "detail"),
    [
        ("provisioned", 2, "2 shards, provisioned"),  # CreateStream(ShardCount=desired_shards=2, PROVISIONED)
        ("on-demand", "ON_DEMAND", "on-demand (capacity_mode on-demand; AWS sets its shard count)"),
        ("auto", "ON_DEMAND", "on-demand (capacity_mode auto: no history to judge by, so the safe side;"),
    ],
)
def test_a_missing_stream_is_created_in_its_capacity_mode(mode: str, value: object, detail: str) -> None:
    plan = plan_onboarding(cfg_of(mode), {"s": ObservedStream("s", False)}, TOPIC)
    (sp,) = plan.streams
    create, *rest = sp.actions
    assert (create.kind, create.value) == (ActionKind.CREATE_STREAM, value)
    assert create.detail.startswith(detail), create.detail
    # the rest as for any new stream: retention, encryption, metrics, and the three alarms (on-demand too)
    assert [a.kind for a in rest] == [
        ActionKind.SET_RETENTION,
        ActionKind.START_ENCRYPTION,
        ActionKind.ENABLE_SHARD_METRICS,
    ] + [ActionKind.PUT_ALARM] * 3
    assert sp.notes == ()


def test_auto_says_why_it_starts_on_demand() -> None:
    (sp,) = plan_onboarding(cfg_of("auto"), {"s": ObservedStream("s", False)}, TOPIC).streams
    assert sp.actions[0].detail.endswith(
        "the hourly capacity-mode job moves it to provisioned once its history shows provisioned cheaper by 20%)"
    )
    assert all("for the open count AWS starts it with)" in a.detail for a in sp.actions[-3:])


def test_only_provisioned_creations_add_shards_and_on_demand_ones_add_streams() -> None:
    cfg = parse_config(
        "streams:\n"
        "  - {name: p, min_shards: 1, max_shards: 8, desired_shards: 2}\n"
        "  - {name: od, min_shards: 1, max_shards: 8, desired_shards: 3, capacity_mode: on-demand}\n"
        "  - {name: au, min_shards: 1, max_shards: 8, desired_shards: 5, capacity_mode: auto}\n"
        "  - {name: there, min_shards: 1, max_shards: 8, desired_shards: 7}\n"
    )
    seen = {n: ObservedStream(n, n == "there", open_shards=7) for n in ("p", "od", "au", "there")}
    plan = plan_onboarding(cfg, seen, TOPIC)
    assert plan.new_shards == 2  # p's 2; od's 3 and au's 5 are AWS's to set; "there" exists
    assert plan.new_on_demand == 2  # od and au


@pytest.mark.parametrize(
    ("mode", "seen", "kinds", "note"),
    [
        # the config's mode differs from the stream's: reported, never switched here
        (
            "provisioned",
            in_sync(mode=StreamMode.ON_DEMAND, retention_hours=24, alarms={}),
            [],
            "on-demand mode, but capacity_mode is provisioned: left alone and not switched",
        ),
        (
            "on-demand",
            in_sync(),
            [],
            "provisioned mode, but capacity_mode is on-demand: not switched here (the hourly capacity-mode job",
        ),
        ("on-demand", in_sync(retention_hours=24), [ActionKind.SET_RETENTION], "capacity_mode is on-demand"),
        # auto: either mode is the autoscaler's choice, nothing to report
        ("auto", in_sync(), [], None),
        ("auto", in_sync(mode=StreamMode.ON_DEMAND), [], None),
        # on-demand streams the config lets be on-demand: settings brought to the config, alarms put if missing or
        # not wired to the topic, but not retuned to AWS's count, and no count notes (AWS sets the count)
        ("on-demand", in_sync(mode=StreamMode.ON_DEMAND, open_shards=20, alarms=alarms_for(4)), [], None),
        ("auto", in_sync(mode=StreamMode.ON_DEMAND, retention_hours=24), [ActionKind.SET_RETENTION], None),
        ("auto", in_sync(mode=StreamMode.ON_DEMAND, alarms={}), [ActionKind.PUT_ALARM] * 3, None),
        (
            "on-demand",
            in_sync(mode=StreamMode.ON_DEMAND, alarms=alarms_for(4, topic="arn:other")),
            [ActionKind.PUT_ALARM] * 3,
            None,
        ),
    ],
)
def test_existing_stream_modes(mode: str, seen: ObservedStream, kinds: list[ActionKind], note: str | None) -> None:
    (sp,) = plan_onboarding(cfg_of(mode), {"s": seen}, TOPIC).streams
    assert [a.kind for a in sp.actions] == kinds
    if note:
        assert any(note in n for n in sp.notes), sp.notes
    else:
        assert sp.notes == ()


@pytest.mark.parametrize("mode", ["on-demand", "auto"])
def test_a_created_on_demand_stream_needs_nothing_on_the_second_run(mode: str) -> None:
    """After the first run: on-demand with AWS's count (4), the settings, and alarms put for that count."""
    after = in_sync(mode=StreamMode.ON_DEMAND, open_shards=4, alarms=alarms_for(4))
    assert not plan_onboarding(cfg_of(mode), {"s": after}, TOPIC).changes
