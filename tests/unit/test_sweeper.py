"""The re-arm sweep (app/sweeper.py) on the doubles: which alarms in ALARM it sets back to OK, and which it leaves."""

from __future__ import annotations

import pytest

from autoscaler.app.sweeper import SWEEP_REASON, AlarmSweeper
from autoscaler.config import parse_config
from autoscaler.core.errors import AwsCallFailed, LockUnavailable
from autoscaler.core.model import Direction, StreamMode
from tests.conftest import World, make_config, new_world

pytestmark = pytest.mark.unit

BYTES = "kinesis-autoscaler/orders/incoming-bytes"
THROTTLE = "kinesis-autoscaler/orders/write-throttled"


def sweeper(world: World) -> AlarmSweeper:
    return AlarmSweeper(
        config=world.config, kinesis=world.kinesis, alarms=world.alarms, cooldown=world.cooldown, clock=world.clock
    )


@pytest.fixture
def world() -> World:
    w = new_world()
    w.add_stream(shards=4)
    for name in w.alarms.alarms:
        w.alarms.set_state(name, "OK", "evaluated")
    return w


def states(world: World) -> dict[str, str]:
    return {n: a.state for n, a in world.alarms.alarms.items()}


def test_nothing_in_alarm_means_no_row_and_no_write(world: World) -> None:
    before = world.alarms.version
    assert sweeper(world).sweep() == ()
    assert world.alarms.version == before


def test_an_alarm_in_alarm_on_a_stream_without_a_lock_item_is_re_armed(world: World) -> None:
    world.alarms.set_state(BYTES, "ALARM", "2 of 2 datapoints breaching")
    (row,) = sweeper(world).sweep()
    assert (row.stream, row.alarmed, row.rearmed, row.error) == ("orders", (BYTES,), True, False)
    assert row.why == "no run holds the lock"
    assert states(world)[BYTES] == "OK"
    assert world.alarms.alarms[BYTES].state_reason == f"kinesis-autoscaler: re-armed: {SWEEP_REASON}"
    assert world.alarms.set_ok_calls == 1  # only the alarm in ALARM: the others were OK already


def test_a_dead_runs_lapsed_lease_is_no_hold(world: World) -> None:
    """Lease to t+600; swept at t+601: the lock item still names the dead owner, 1 s past its lease."""
    now = world.clock.now()
    world.cooldown.acquire("orders", owner="dead", now=now, lease_until=now + 600, blocked_by=())
    world.alarms.set_state(BYTES, "ALARM", "fired")
    world.alarms.set_state(THROTTLE, "ALARM", "fired")
    world.clock.advance(601)
    (row,) = sweeper(world).sweep()
    assert row.rearmed and row.alarmed == tuple(sorted((BYTES, THROTTLE)))
    assert row.why == "the lock of dead lapsed 1 s ago"
    assert states(world)[BYTES] == states(world)[THROTTLE] == "OK"


def test_a_live_run_keeps_its_alarms_until_its_finish_resets_them(world: World) -> None:
    now = world.clock.now()
    world.cooldown.acquire("orders", owner="live", now=now, lease_until=now + 600, blocked_by=())
    world.alarms.set_state(BYTES, "ALARM", "fired")
    world.clock.advance(600)  # the lease's last second: still held (lease_until >= now, as the lock's rule)
    before = world.alarms.version
    (row,) = sweeper(world).sweep()
    assert (row.rearmed, row.error) == (False, False) and row.why.startswith("held by live for 0 s more")
    assert world.alarms.version == before and states(world)[BYTES] == "ALARM"


def test_a_stream_in_cooldown_is_re_armed_so_the_first_firing_after_the_cooldown_acts(world: World) -> None:
    now = world.clock.now()
    world.cooldown.acquire("orders", owner="r", now=now, lease_until=now + 60, blocked_by=())
    world.cooldown.release("orders", owner="r", cooldowns={Direction.UP: now + 300}, action="up 4->8", now=now)
    world.alarms.set_state(BYTES, "ALARM", "fired")
    (row,) = sweeper(world).sweep()
    assert row.rearmed and states(world)[BYTES] == "OK"


def test_a_disabled_stream_is_not_managed_so_not_swept() -> None:
    world = new_world(make_config(enabled=False))
    world.add_stream(shards=4)
    world.alarms.set_state(BYTES, "ALARM", "fired")
    assert sweeper(world).sweep() == ()
    assert states(world)[BYTES] == "ALARM"


def test_the_lock_unreadable_leaves_the_alarm_for_the_next_sweep(world: World) -> None:
    """With the table down a live run cannot be told from a dead one: no guess, no write, an error row."""
    world.alarms.set_state(BYTES, "ALARM", "fired")
    world.cooldown.unavailable = LockUnavailable("DynamoDB: ServiceUnavailable")
    (row,) = sweeper(world).sweep()
    assert (row.rearmed, row.error) == (False, True) and "ServiceUnavailable" in row.why
    assert states(world)[BYTES] == "ALARM"
    world.cooldown.unavailable = None
    (again,) = sweeper(world).sweep()
    assert again.rearmed and states(world)[BYTES] == "OK"


def test_a_refused_re_arm_is_an_error_row(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.alarms.set_state(BYTES, "ALARM", "fired")

    def denied(names: object, reason: str) -> None:
        raise AwsCallFailed("SetAlarmState failed (AccessDenied)")

    monkeypatch.setattr(world.alarms, "set_ok", denied)
    (row,) = sweeper(world).sweep()
    assert (row.rearmed, row.error) == (False, True) and "AccessDenied" in row.why


def test_describe_alarms_failing_fails_the_sweep(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(prefix: object) -> None:
        raise AwsCallFailed("DescribeAlarms failed (Throttling)")

    monkeypatch.setattr(world.alarms, "alarmed", down)
    with pytest.raises(AwsCallFailed, match="Throttling"):
        sweeper(world).sweep()


def operator_alarm(world: World, name: str) -> None:
    spec = next(iter(world.alarms.alarms.values())).spec._replace(name=name)
    world.alarms.ensure_alarms([spec], ["arn:aws:sns:us-east-1:123456789012:alarms"])
    world.alarms.set_state(name, "ALARM", "fired")


def test_an_operators_alarm_for_the_stream_is_re_armed_and_nothing_outside_the_config_is(world: World) -> None:
    """Any alarm named <prefix>/<stream>/… of an enabled stream of the config; a stream outside the config, or a
    prefix that merely extends ours, is never touched (review of issue 12)."""
    ours = "kinesis-autoscaler/orders/write-utilisation"
    for name in (ours, "kinesis-autoscaler/payments/incoming-bytes", "kinesis-autoscaler-eu/orders/incoming-bytes"):
        operator_alarm(world, name)
    (row,) = sweeper(world).sweep()
    assert (row.stream, row.alarmed, row.rearmed) == ("orders", (ours,), True)
    assert states(world)["kinesis-autoscaler/payments/incoming-bytes"] == "ALARM"
    assert states(world)["kinesis-autoscaler-eu/orders/incoming-bytes"] == "ALARM"


def test_an_on_demand_or_vanished_stream_is_not_re_armed_so_it_cannot_cycle(world: World) -> None:
    """The scale-up lets such a stream go without touching its alarms: re-armed, the alarm would fire, be let go and
    be re-armed every sweep, for ever (review of issue 12)."""
    world.alarms.set_state(BYTES, "ALARM", "fired")
    world.kinesis.set_mode("orders", StreamMode.ON_DEMAND)
    before = world.alarms.version
    (row,) = sweeper(world).sweep()
    assert (row.rearmed, row.error, row.why) == (False, False, "ON_DEMAND: not resharded by the autoscaler")
    world.kinesis.delete_stream("orders")
    (gone,) = sweeper(world).sweep()
    assert (gone.rearmed, gone.error, gone.why) == (False, False, "the stream is gone: nothing to scale")
    assert world.alarms.version == before


def test_one_streams_unexpected_error_does_not_lose_the_other_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review of issue 12: botocore's EndpointConnectionError is neither AutoscalerError nor OSError. Three streams
    in ALARM, the lock read of "b" failing so: "a" and "c" are re-armed, "b" is an error row."""
    streams = "".join(f"  - {{name: {n}, min_shards: 1, max_shards: 8, desired_shards: 2}}\n" for n in "abc")
    world = new_world(parse_config("streams:\n" + streams))
    for name in "abc":
        world.add_stream(name, shards=2)
        world.alarms.set_state(f"kinesis-autoscaler/{name}/incoming-bytes", "ALARM", "fired")
    read = world.cooldown.read

    def flaky(stream: str) -> object:
        if stream == "b":
            raise RuntimeError("Could not connect to the endpoint URL")
        return read(stream)

    monkeypatch.setattr(world.cooldown, "read", flaky)
    rows = {r.stream: r for r in sweeper(world).sweep()}
    assert (rows["a"].rearmed, rows["c"].rearmed) == (True, True)
    assert (rows["b"].rearmed, rows["b"].error) == (False, True) and "Could not connect" in rows["b"].why
