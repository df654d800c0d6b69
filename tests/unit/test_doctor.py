"""doctor's checks, one broken invariant at a time (pure: check_stream on hand-built reads)."""

from __future__ import annotations

import pytest

from autoscaler.app.doctor import Severity, check_stream
from autoscaler.app.ports import AlarmInfo, LockState
from autoscaler.core.capacity import AlarmKind, alarm_name, alarm_threshold
from autoscaler.core.model import Shard, StreamDescription, StreamMode
from autoscaler.core.scale_up import uniform_shards
from tests.conftest import make_config

pytestmark = pytest.mark.unit
CFG = make_config()  # orders: min 2, max 64, desired 4, threshold 0.8
S = CFG.streams[0]
PREFIX = CFG.alarm_name_prefix
NOW = 1_800_000_000.0
ACTIVE = StreamDescription("orders", "ACTIVE", StreamMode.PROVISIONED)


def alarms_for(n: int) -> dict[str, AlarmInfo]:
    return {
        alarm_name(PREFIX, "orders", k): AlarmInfo(
            alarm_name(PREFIX, "orders", k), alarm_threshold(k, n, 60, 0.8), 60, "OK"
        )
        for k in AlarmKind
    }


def findings(**kw: object) -> list[tuple[Severity, str]]:
    args: dict[str, object] = {
        "desc": ACTIVE,
        "shards": uniform_shards(4),
        "alarms": alarms_for(4),
        "lock": None,
        "now": NOW,
        **kw,
    }
    return [(f.severity, f.check) for f in check_stream(S, PREFIX, **args)]  # type: ignore[arg-type]


def test_a_healthy_stream_has_no_findings() -> None:
    assert findings() == []


@pytest.mark.parametrize(
    ("case", "kw", "want"),
    [
        ("missing stream", {"desc": None}, [(Severity.ERROR, "exists")]),
        (
            "on-demand",
            {"desc": ACTIVE._replace(mode=StreamMode.ON_DEMAND)},
            [(Severity.WARNING, "mode")],
        ),
        # 1 open shard, min_shards 2 (alarms set for 1: they match)
        ("below min", {"shards": uniform_shards(1), "alarms": alarms_for(1)}, [(Severity.ERROR, "bounds")]),
        ("above max", {"shards": uniform_shards(65), "alarms": alarms_for(65)}, [(Severity.ERROR, "bounds")]),
        # a gap: the last shard ends one key short of 2^128 − 1
        (
            "hash space not tiled",
            {"shards": [*uniform_shards(4)[:3], uniform_shards(4)[3]._replace(end=2**128 - 2)]},
            [(Severity.ERROR, "hash-space")],
        ),
        # 4 shards, thresholds for 2: bytes and records alarms stand for 2.0 shards
        ("alarms for another count", {"alarms": alarms_for(2)}, [(Severity.WARNING, "alarms")] * 2),
        (
            "an alarm deleted by hand",
            {"alarms": {k: v for k, v in alarms_for(4).items() if not k.endswith("write-throttled")}},
            [(Severity.ERROR, "alarms")],
        ),
        (
            "a lock past its lease",
            {"lock": LockState("orders", owner="crashed", lease_until=NOW - 120)},
            [(Severity.WARNING, "lock")],
        ),
        (
            "a run in progress",
            {"lock": LockState("orders", owner="live", lease_until=NOW + 300)},
            [(Severity.INFO, "lock")],
        ),
        ("updating", {"desc": ACTIVE._replace(status="UPDATING")}, [(Severity.INFO, "status")]),
        # 4 shards: one half and three eighths… here: [1/2, 1/4, 1/8, 1/8] carries 2.0 of 4 (< 75%)
        (
            "uneven layout",
            {
                "shards": [
                    Shard("a", 0, 2**127 - 1),
                    Shard("b", 2**127, 2**127 + 2**126 - 1),
                    Shard("c", 2**127 + 2**126, 2**127 + 2**126 + 2**125 - 1),
                    Shard("d", 2**127 + 2**126 + 2**125, 2**128 - 1),
                ]
            },
            [(Severity.INFO, "layout")],
        ),
    ],
)
def test_each_broken_invariant_is_reported_with_its_severity(
    case: str, kw: dict[str, object], want: list[tuple[Severity, str]]
) -> None:
    assert findings(**kw) == want, case


@pytest.mark.parametrize(
    ("capacity_mode", "mode", "want", "says"),
    [
        # provisioned (the default) and found on-demand: nobody manages it
        ("provisioned", StreamMode.ON_DEMAND, [(Severity.WARNING, "mode")], "capacity_mode is provisioned"),
        # kept on-demand by the config or by the evidence: as designed, and no shard or alarm check applies
        ("on-demand", StreamMode.ON_DEMAND, [(Severity.INFO, "mode")], "as capacity_mode on-demand keeps it"),
        ("auto", StreamMode.ON_DEMAND, [(Severity.INFO, "mode")], "as capacity_mode auto keeps it"),
        # on-demand by config, still provisioned: the hourly run switches it; the provisioned checks still apply
        ("on-demand", StreamMode.PROVISIONED, [(Severity.INFO, "mode")], "the hourly capacity-mode run switches it"),
        ("auto", StreamMode.PROVISIONED, [], ""),
    ],
)
def test_the_mode_is_judged_against_the_configured_capacity_mode(
    capacity_mode: str, mode: StreamMode, want: list[tuple[Severity, str]], says: str
) -> None:
    cfg = make_config(capacity_mode=capacity_mode).streams[0]
    got = check_stream(
        cfg, PREFIX, desc=ACTIVE._replace(mode=mode), shards=uniform_shards(4), alarms=alarms_for(4), lock=None, now=NOW
    )
    assert [(f.severity, f.check) for f in got] == want
    assert all(says in f.message for f in got)


def test_every_finding_that_needs_action_says_what_to_do() -> None:
    for kw in ({"desc": None}, {"alarms": alarms_for(2)}, {"shards": uniform_shards(1), "alarms": alarms_for(1)}):
        for f in check_stream(
            S,
            PREFIX,
            **{"desc": ACTIVE, "shards": uniform_shards(4), "alarms": alarms_for(4), "lock": None, "now": NOW, **kw},
        ):  # type: ignore[arg-type]
            assert f.fix, f


@pytest.mark.parametrize(
    ("policy", "mode", "switches", "note"),
    [
        ("provisioned", StreamMode.PROVISIONED, (), ""),
        ("provisioned", StreamMode.ON_DEMAND, (), "on-demand, but capacity_mode is provisioned: not autoscaled"),
        ("on-demand", StreamMode.PROVISIONED, (), "capacity_mode on-demand: the hourly capacity-mode run switches it"),
        # status reads `now` in whole seconds: a switch 0.4 s "later" is 0 h ago, never -0
        ("on-demand", StreamMode.ON_DEMAND, (NOW + 0.4,), "capacity_mode on-demand; switched 0 h ago"),
        ("auto", StreamMode.ON_DEMAND, (NOW - 30 * 3600,), "switched 1.2 d ago"),
    ],
)
def test_status_says_why_a_stream_is_in_its_mode(
    policy: str, mode: StreamMode, switches: tuple[float, ...], note: str
) -> None:
    from autoscaler.app.status import mode_note

    lock = LockState("orders", mode_switches=switches) if switches else None
    got = mode_note(policy, mode, lock, NOW)
    assert (note in got) if note else got == ""
