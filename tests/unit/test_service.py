"""The scale-up use case on the in-package doubles: UPDATING takes time, ResourceInUse, quotas, continuations."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from autoscaler.app.ports import Direction
from autoscaler.app.scale_up import Outcome, ScaleUpRequest, ScaleUpResult
from autoscaler.core.capacity import AlarmKind, alarm_name
from autoscaler.core.errors import AwsCallFailed, LockUnavailable, StreamBusy, ThrottledError, UpdateShardCountLimit
from autoscaler.core.model import StreamMode, TriggerKind
from autoscaler.core.scale_up import tiles_key_space
from autoscaler.events import Continuation, HandOver
from tests.conftest import MiB, World, make_config

pytestmark = pytest.mark.unit

ALARM = ScaleUpRequest("orders", TriggerKind.UTILISATION, alarm_shards=4.0, source="test")


def alarm(shards: int) -> ScaleUpRequest:
    """The utilisation alarm as set for `shards` open shards."""
    return ALARM._replace(alarm_shards=float(shards))


def two_shards_to_four(world: World) -> ScaleUpRequest:
    """2 even shards at 80%: 1.6 shards of load × 2 = 3.2 → 4. Capacity 4 on evenly spread keys means no shard
    wider than ¼: each half × 4 = 2 pieces, 2 splits ≈ 60 s < one UpdateShardCount 2 → 4 ≈ 90 s: 2 splits."""
    world.add_stream(shards=2)
    world.traffic(0.8, 2)
    return alarm(2)


def one_shard_to_four(world: World) -> ScaleUpRequest:
    """1 shard at 160%: 1.6 × 2 = 3.2 → 4. The whole space × 4 = 4 pieces: 3 splits (the shard, then both halves)
    ≈ 90 s < two UpdateShardCount calls 1 → 2 → 4 ≈ 180 s: 3 splits (min_shards 1 for a 1-shard stream)."""
    world.config = make_config(min_shards=1)
    world.add_stream(shards=1)
    world.traffic(1.6, 1)
    return alarm(1)


def bytes_threshold(world: World) -> float:
    return world.alarms.alarms[alarm_name("kinesis-autoscaler", "orders", AlarmKind.INCOMING_BYTES)].spec.threshold


def assert_invariants(world: World, result: ScaleUpResult, stream: str = "orders") -> None:
    """After any run: shards tile the key space, count within [min, max], lock not held, alarms match the count."""
    shards = world.kinesis.open_shards(stream)
    assert tiles_key_space(shards)
    cfg = world.config.stream(stream)
    assert cfg is not None
    assert len(shards) <= cfg.max_shards
    lock = world.cooldown.read(stream)
    if result.outcome is not Outcome.CONTINUED:
        assert lock is None or lock.owner is None, "the lock must be released unless work was handed over"
    if result.outcome is Outcome.SCALED:
        assert bytes_threshold(world) == pytest.approx(0.8 * len(shards) * 1_048_576 * 60)
        assert {a.state for a in world.alarms.alarms.values()} == {"OK"}


def test_splits_reach_the_target_waiting_for_active_between(world: World) -> None:
    request = one_shard_to_four(world)  # 1 → 4 by 3 splits (90 s < 180 s of UpdateShardCount)
    result = world.service().scale_up(request, world.budget())
    assert result.outcome is Outcome.SCALED, result.detail
    assert (result.before, result.after) == (1, 4)
    assert world.kinesis.reshard_calls() == ["split_shard"] * 3
    assert world.clock.slept == pytest.approx(3 * 30)  # each split waited out its 30 s of UPDATING
    # four quarters: the layout carries the 4 it was sized for, not only the count
    assert {s.width for s in world.kinesis.open_shards("orders")} == {2**126}
    assert_invariants(world, result)
    lock = world.cooldown.read("orders")
    assert lock is not None and lock.cooldown_until[Direction.UP] == pytest.approx(world.clock.now() + 300)


def test_update_shard_count_when_faster_and_recorded(world: World) -> None:
    world.add_stream(shards=4)
    world.traffic(1.0, 4)  # 4 shards of load × 2 = 8: 4 splits = 120 s > 90 s → one UpdateShardCount
    result = world.service().scale_up(ALARM, world.budget())
    assert world.kinesis.reshard_calls() == ["update_shard_count"]
    assert result.after == 8
    lock = world.cooldown.read("orders")
    assert lock is not None and len(lock.update_shard_count_calls) == 1
    assert_invariants(world, result)


def test_update_shard_count_chain_doubles_waiting_for_active_between(world: World) -> None:
    world.add_stream(shards=4)
    # 250% of 4 = 10 shards of load × 2 = 20: 16 splits × 30 s = 480 s > 3 calls (4 → 8 → 16 → 20) × 90 s = 270 s
    world.traffic(2.5, 4)
    result = world.service().scale_up(ALARM, world.budget())
    assert (result.outcome, result.before, result.after) == (Outcome.SCALED, 4, 20), result.detail
    assert result.ops_done == (
        "update_shard_count 4 -> 8 (UNIFORM_SCALING)",
        "update_shard_count 8 -> 16 (UNIFORM_SCALING)",
        "update_shard_count 16 -> 20 (UNIFORM_SCALING)",
    )
    assert world.kinesis.reshard_calls() == ["update_shard_count"] * 3  # the doubles refuse any call beyond 2×
    assert world.clock.slept == pytest.approx(3 * 90)  # each call waited out its 90 s of UPDATING
    lock = world.cooldown.read("orders")
    assert lock is not None and len(lock.update_shard_count_calls) == 3  # each call is logged against the quota
    assert_invariants(world, result)


def test_chain_is_cut_to_the_calls_left_in_24h(world: World) -> None:
    world.add_stream(shards=4)
    now = world.clock.now()
    world.cooldown.acquire("orders", owner="earlier", now=now, lease_until=now + 60, blocked_by=())
    for hours_ago in range(8, 0, -1):  # 8 of the 10 calls already used in the last 24 h
        world.cooldown.note_update_shard_count("orders", owner="earlier", at=now - hours_ago * 3600)
    world.cooldown.release("orders", owner="earlier", now=now, cooldowns={}, action=None)
    # 2.5 × 4 × 2 = 20 wanted, but 2 calls left reach 4 × 2² = 16: 2 × 90 = 180 s < 16 splits × 30 = 480 s
    world.traffic(2.5, 4)
    result = world.service().scale_up(ALARM, world.budget())
    assert (result.outcome, result.after) == (Outcome.SCALED, 16), result.detail
    assert world.kinesis.reshard_calls() == ["update_shard_count"] * 2
    assert result.plan is not None and "2 calls left in 24 h reach 16" in result.plan.method_message
    assert_invariants(world, result)


def test_throttled_stream_is_sized_from_accepted_plus_refused(world: World) -> None:
    world.add_stream(shards=4)
    now = world.clock.now()
    for i in range(1, 6):
        # records-bound: 4 × 1,000 × 60 = 240,000 records a minute accepted (100%, at 100 B), as many refused
        world.metrics.put("orders", "IncomingBytes", now - 60 * i, 240_000 * 100.0)
        world.metrics.put("orders", "IncomingRecords", now - 60 * i, 240_000.0)
        world.metrics.put("orders", "WriteProvisionedThroughputExceeded", now - 60 * i, 240_000.0)
    throttle = ScaleUpRequest("orders", TriggerKind.THROTTLE, source="test")
    result = world.service().scale_up(throttle, world.budget())
    # demand 1.0 + 240,000 / 240,000 = 2.0 of 4 = 8 shards of load × 2 = 16 (the accepted peak alone would say 8):
    # 12 splits × 30 s = 360 s > 4 → 8 → 16 = 180 s
    assert result.plan is not None and result.plan.utilisation is not None
    assert result.plan.utilisation.demand == pytest.approx(2.0)
    assert (result.outcome, result.after) == (Outcome.SCALED, 16), result.detail
    assert world.kinesis.reshard_calls() == ["update_shard_count"] * 2
    assert_invariants(world, result)


def test_the_same_throttle_notification_after_the_cooldown_adds_nothing_without_refused_writes(world: World) -> None:
    """Issue 12 section 5: the throttle notification is delivered again after the scale-up cooldown (Lambda may
    deliver an async event twice, minutes apart). At 30% load with no refused write in the lookback it split again
    each time (4 -> 5 -> 6 -> 7); now it adds nothing, and a real new throttling still scales."""
    world.add_stream(shards=4)
    now = world.clock.now()
    for i in range(1, 6):  # 30% of 4 shards' bytes, a hot shard refusing 500 records a minute
        world.metrics.put("orders", "IncomingBytes", now - 60 * i, 0.3 * 4 * MiB * 60)
        world.metrics.put("orders", "IncomingRecords", now - 60 * i, 1_000.0)
        world.metrics.put("orders", "WriteProvisionedThroughputExceeded", now - 60 * i, 500.0)
    throttle = ScaleUpRequest(
        "orders", TriggerKind.THROTTLE, source=alarm_name("kinesis-autoscaler", "orders", AlarmKind.WRITE_THROTTLED)
    )
    first = world.service().scale_up(throttle, world.budget())
    assert (first.outcome, first.after) == (Outcome.SCALED, 5), first.detail  # 1.2 × 2 = 2.4 fits: one hot split
    world.clock.advance(600)  # past the 300 s cooldown; the last 5 minutes: 30% of 5 shards, nothing refused
    now = world.clock.now()
    for i in range(1, 6):
        world.metrics.put("orders", "IncomingBytes", now - 60 * i, 0.3 * 5 * MiB * 60)
        world.metrics.put("orders", "IncomingRecords", now - 60 * i, 1_000.0)
        world.metrics.put("orders", "WriteProvisionedThroughputExceeded", now - 60 * i, 0.0)
    calls = list(world.kinesis.calls)
    again = world.service().scale_up(throttle, world.budget())
    assert again.outcome is Outcome.NOOP and again.plan is not None, again.detail
    assert again.plan.reason.value == "no_evidence"
    assert world.kinesis.calls == calls and world.kinesis.open_count("orders") == 5


def test_second_alarm_in_cooldown_is_skipped_without_aws_writes(world: World) -> None:
    world.add_stream(shards=4)
    world.traffic(1.2, 4)
    svc = world.service()
    svc.scale_up(ALARM, world.budget())
    calls, puts = list(world.kinesis.calls), world.alarms.puts
    again = svc.scale_up(ALARM, world.budget())
    assert again.outcome is Outcome.SKIPPED and "cooldown" in again.detail
    assert world.kinesis.calls == calls and world.alarms.puts == puts


def test_lock_held_by_a_live_run_skips(world: World) -> None:
    world.add_stream(shards=4)
    now = world.clock.now()
    world.cooldown.acquire("orders", owner="other", now=now, lease_until=now + 900, blocked_by=())
    result = world.service().scale_up(ALARM, world.budget())
    assert result.outcome is Outcome.SKIPPED and "locked by another run" in result.detail
    assert world.kinesis.calls == []


def test_an_alarm_refused_because_the_lock_is_held_is_re_armed(world: World) -> None:
    """The holder may be dead: an alarm left in ALARM would never notify again (CloudWatch acts on transitions only),
    and the stream would stay unscaled after the dead run's lease lapsed. The refused alarm is set back to OK, so it
    fires again while the breach lasts; a continuation refused the same way (a late copy) re-arms nothing."""
    world.add_stream(shards=4)
    name = alarm_name("kinesis-autoscaler", "orders", AlarmKind.INCOMING_BYTES)
    world.alarms.set_state(name, "ALARM", "breaching")
    now = world.clock.now()
    world.cooldown.acquire("orders", owner="dead-run", now=now, lease_until=now + 1_080, blocked_by=())
    request = ScaleUpRequest("orders", TriggerKind.UTILISATION, alarm_shards=4.0, source=name)
    result = world.service().scale_up(request, world.budget())
    assert (result.outcome, result.skip_reason) == (Outcome.SKIPPED, "lock-held")
    assert world.alarms.alarms[name].state == "OK" and "re-armed" in result.detail
    assert world.kinesis.calls == []
    world.alarms.set_state(name, "ALARM", "breaching")
    late = Continuation(Direction.UP, 1, (HandOver("orders", 8, "gone", 4),))
    world.service().scale_up(ScaleUpRequest("orders", TriggerKind.OPERATOR, continuation=late), world.budget())
    assert world.alarms.alarms[name].state == "ALARM"


def test_an_operators_alarm_for_the_stream_is_re_armed_too_and_no_other_alarm_is(world: World) -> None:
    """An alarm an operator added for the stream, named <prefix>/<stream>/<anything> (README), is re-armed like
    the autoscaler's own; a name for another stream or outside the prefix is never touched."""
    world.add_stream(shards=4)
    spec = next(iter(world.alarms.alarms.values())).spec  # one of the stream's own, renamed below
    names = ("kinesis-autoscaler/orders/write-utilisation", "kinesis-autoscaler/payments/x", "other/orders/x")
    world.alarms.ensure_alarms([spec._replace(name=n) for n in names], ["arn:aws:sns:us-east-1:123456789012:t"])
    now = world.clock.now()
    world.cooldown.acquire("orders", owner="dead-run", now=now, lease_until=now + 1_080, blocked_by=())
    for name in names:
        world.alarms.set_state(name, "ALARM", "breaching")
        request = ScaleUpRequest("orders", TriggerKind.UTILISATION, source=name)
        result = world.service().scale_up(request, world.budget())
        assert result.skip_reason == "lock-held"
    assert {n: world.alarms.alarms[n].state for n in names} == dict(zip(names, ("OK", "ALARM", "ALARM"), strict=True))


def test_crashed_runs_lease_expires(world: World) -> None:
    world.add_stream(shards=4)
    world.traffic(1.0, 4, minutes=30)
    now = world.clock.now()
    world.cooldown.acquire("orders", owner="crashed", now=now, lease_until=now + 960, blocked_by=())
    world.clock.advance(961)
    result = world.service().scale_up(ALARM, world.budget())
    assert result.outcome is Outcome.SCALED, result.detail


def test_concurrent_runs_on_the_doubles_act_once(world: World) -> None:
    world.add_stream(shards=4)
    world.traffic(1.0, 4)  # → 8 by one UpdateShardCount
    svc = world.service()
    results: list[ScaleUpResult] = []
    barrier = threading.Barrier(20)

    def run() -> None:
        barrier.wait()
        results.append(svc.scale_up(ALARM, world.budget()))

    threads = [threading.Thread(target=run) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.outcome.value for r in results).count("scaled") == 1
    assert world.kinesis.reshard_calls() == ["update_shard_count"]


def test_short_time_hands_over_and_the_continuation_finishes(world: World) -> None:
    request = one_shard_to_four(world)  # 1 → 4 by 3 splits of 30 s each
    svc = world.service()
    # 100 s left: the first split runs and is waited out (70 s left); the second runs, but only 70 − 60 s safety =
    # 10 s may be spent waiting for it: still UPDATING, hand over with the same owner
    first = svc.scale_up(request, world.budget(100))
    assert first.outcome is Outcome.CONTINUED, first.detail
    assert world.kinesis.reshard_calls() == ["split_shard"] * 2
    (cont,) = world.continuation.pop_all()
    assert (cont.handovers[0].target, cont.handovers[0].origin_count, cont.hop) == (4, 1, 1)
    lock = world.cooldown.read("orders")
    assert lock is not None and lock.owner == cont.handovers[0].owner, "the lock stays with the chain"
    assert svc.scale_up(request, world.budget()).outcome is Outcome.SKIPPED  # a new alarm meanwhile does nothing
    second = svc.scale_up(ScaleUpRequest("orders", TriggerKind.OPERATOR, continuation=cont), world.budget())
    assert second.outcome is Outcome.SCALED, second.detail
    # shares ¼, ¼, ½ left: the continuation towards 4 splits only the half (½ × 4 = 2 pieces)
    assert world.kinesis.reshard_calls() == ["split_shard"] * 3
    assert world.kinesis.open_count("orders") == 4
    assert_invariants(world, second)


def test_duplicate_or_late_continuation_does_no_harm(world: World) -> None:
    world.add_stream(shards=4)
    world.traffic(1.0, 4)
    svc = world.service()
    svc.scale_up(ALARM, world.budget())
    calls = list(world.kinesis.calls)
    late = Continuation(
        Direction.UP, 1, (HandOver("orders", target=14, owner="stale-or-forged-owner", origin_count=7),)
    )
    result = svc.scale_up(ScaleUpRequest("orders", TriggerKind.OPERATOR, continuation=late), world.budget())
    assert world.kinesis.calls == calls, "a continuation whose run no longer holds the lock reshards nothing"
    assert result.outcome is Outcome.SKIPPED and "no longer holds the lock" in result.detail


def test_a_continuation_delivered_twice_runs_once(world: World) -> None:
    request = one_shard_to_four(world)  # → 4 by 3 splits: 100 s is enough for two
    svc = world.service()
    assert svc.scale_up(request, world.budget(100)).outcome is Outcome.CONTINUED
    (cont,) = world.continuation.pop_all()
    request = ScaleUpRequest("orders", TriggerKind.OPERATOR, continuation=cont)
    first = svc.scale_up(request, world.budget())
    second = svc.scale_up(request, world.budget())  # Lambda may deliver an async event twice
    assert (first.outcome, second.outcome) == (Outcome.SCALED, Outcome.SKIPPED)
    assert world.kinesis.open_count("orders") == 4
    assert world.kinesis.reshard_calls() == ["split_shard"] * 3


def test_a_continuation_for_a_stream_disabled_since_the_hand_over_stops_and_cleans_up(world: World) -> None:
    request = one_shard_to_four(world)  # → 4 by 3 splits: 100 s is enough for two, then it hands over at 3 shards
    svc = world.service()
    assert svc.scale_up(request, world.budget(100)).outcome is Outcome.CONTINUED
    (cont,) = world.continuation.pop_all()  # handed over with the second split still UPDATING
    world.config = make_config(min_shards=1, enabled=False)  # a redeploy with enabled: false
    calls = world.kinesis.reshard_calls()
    result = world.service().scale_up(ScaleUpRequest("orders", TriggerKind.OPERATOR, continuation=cont), world.budget())
    assert result.outcome is Outcome.SKIPPED and result.skip_reason == "disabled", result.detail
    assert (result.before, result.after) == (1, 3)
    assert "stopped at 3 shards (from 1, target was 4)" in result.detail and "lock released" in result.detail
    assert world.kinesis.reshard_calls() == calls, "no split after the stream was disabled"
    lock = world.cooldown.read("orders")
    assert lock is not None and lock.owner is None, "released now, not when the lease lapses"
    # the alarms carry the 3 open shards (0.8 × 3 MiB/s × 60 s), not the 1 the chain started from
    assert bytes_threshold(world) == pytest.approx(0.8 * 3 * 1_048_576 * 60)
    assert {a.state for a in world.alarms.alarms.values()} == {"OK"}
    again = world.service().scale_up(ScaleUpRequest("orders", TriggerKind.OPERATOR, continuation=cont), world.budget())
    assert again.outcome is Outcome.SKIPPED and "already moved on" in again.detail  # a duplicate delivery


def test_cooldown_skip_rearms_the_triggering_alarm(world: World) -> None:
    world.add_stream(shards=4)
    world.traffic(1.0, 4)  # 4 shards of load × 2 = 8
    svc = world.service()
    assert svc.scale_up(ALARM, world.budget()).after == 8
    name = alarm_name("kinesis-autoscaler", "orders", AlarmKind.INCOMING_BYTES)
    world.alarms.alarms[name] = replace(world.alarms.alarms[name], state="ALARM")  # re-fired within the cooldown
    world.clock.advance(120)
    refire = ScaleUpRequest("orders", TriggerKind.UTILISATION, alarm_shards=8.0, source=name)
    skipped = svc.scale_up(refire, world.budget())
    assert skipped.outcome is Outcome.SKIPPED and "re-armed" in skipped.detail
    assert world.alarms.alarms[name].state == "OK", "back in OK, the alarm fires again while the breach lasts"
    world.clock.advance(200)  # cooldown over; CloudWatch re-fires
    world.traffic(1.0, 8)  # the breach went on growing: 100% of the 8 shards × 2 = 16
    again = svc.scale_up(refire, world.budget())
    assert (again.outcome, again.after) == (Outcome.SCALED, 16)


def test_failed_hand_over_finishes_what_was_done(world: World) -> None:
    request = one_shard_to_four(world)  # → 4 by 3 splits: 100 s fit two of them (3 shards), then the hand-over fails

    class Broken:
        def continue_later(self, request: Continuation) -> None:
            raise AwsCallFailed("Invoke failed (AccessDeniedException)")

    world.continuation = Broken()  # type: ignore[assignment]
    result = world.service().scale_up(request, world.budget(100))
    assert result.outcome is Outcome.FAILED and "hand-over failed" in result.detail
    assert result.after == 3
    assert_invariants(world, result)
    lock = world.cooldown.read("orders")
    assert lock is not None and Direction.UP in lock.cooldown_until


def test_unexpected_error_after_a_split_still_retunes_and_cools_down(world: World) -> None:
    request = two_shards_to_four(world)  # → 4 by 2 splits; the second fails
    calls = {"n": 0}

    def fail_second_split(op: str, stream: str) -> None:
        if op == "split_shard":
            calls["n"] += 1
            if calls["n"] == 2:
                raise AwsCallFailed("SplitShard failed with AccessDeniedException")

    world.kinesis.on_call = fail_second_split
    with pytest.raises(AwsCallFailed):
        world.service().scale_up(request, world.budget())
    assert world.kinesis.open_count("orders") == 3
    assert bytes_threshold(world) == pytest.approx(0.8 * 3 * 1_048_576 * 60)
    lock = world.cooldown.read("orders")
    assert lock is not None and lock.owner is None and Direction.UP in lock.cooldown_until


def test_hop_limit_stops_the_chain(world: World) -> None:
    world.add_stream(shards=4)
    world.kinesis.split_seconds = 10_000  # UPDATING outlasts every invocation
    world.traffic(1.0, 4)
    cont = Continuation(Direction.UP, 8, (HandOver("orders", target=7, owner="o", origin_count=4),))
    world.cooldown.acquire(
        "orders", owner="o", now=world.clock.now(), lease_until=world.clock.now() + 10, blocked_by=()
    )
    world.kinesis.split_shard("orders", "shardId-000000000000", 2**125)  # stream now UPDATING
    result = world.service().scale_up(ScaleUpRequest("orders", TriggerKind.OPERATOR, continuation=cont), world.budget())
    assert result.outcome is Outcome.FAILED and "hop limit" in result.detail
    assert world.continuation.requests == []
    assert_invariants(world, result)


def test_stream_updating_beyond_the_budget_hands_over(world: World) -> None:
    world.add_stream(shards=4)
    world.kinesis.split_seconds = 2_000
    world.kinesis.split_shard("orders", "shardId-000000000000", 2**125)  # someone else's split: UPDATING 2,000 s
    world.traffic(1.0, 5)
    result = world.service().scale_up(ALARM, world.budget())
    assert result.outcome is Outcome.FAILED, "an alarm (no target yet) gives up and frees the lock"
    assert world.cooldown.read("orders") is not None and world.cooldown.read("orders").owner is None  # type: ignore[union-attr]


def test_update_shard_count_refused_falls_back_to_splits(world: World) -> None:
    world.add_stream(shards=4)
    world.traffic(1.0, 4)  # → 8 planned as one UpdateShardCount (120 s of splits > 90 s)
    world.kinesis.inject("update_shard_count", UpdateShardCountLimit("LimitExceededException"))
    result = world.service().scale_up(ALARM, world.budget())
    assert world.kinesis.reshard_calls() == ["split_shard"] * 4
    assert result.after == 8
    assert_invariants(world, result)


def test_resource_in_use_on_a_call_waits_and_retries(world: World) -> None:
    request = two_shards_to_four(world)  # → 4 by 2 splits
    world.kinesis.inject("split_shard", StreamBusy("ResourceInUseException"))
    result = world.service().scale_up(request, world.budget())
    assert result.outcome is Outcome.SCALED and result.after == 4
    assert world.kinesis.reshard_calls() == ["split_shard"] * 2  # the refused call was retried, not skipped
    assert world.continuation.requests == []


def test_resource_in_use_that_never_clears_stops_the_run(world: World) -> None:
    request = two_shards_to_four(world)  # → 4 by 2 splits
    world.kinesis.inject("split_shard", *[StreamBusy("ResourceInUseException")] * 10)
    result = world.service().scale_up(request, world.budget())
    assert result.outcome is Outcome.FAILED and "setbacks" in result.detail
    assert world.kinesis.open_count("orders") == 2
    assert_invariants(world, result)


def test_own_operation_outlasting_the_invocation_hands_over(world: World) -> None:
    request = two_shards_to_four(world)  # → 4 by 2 splits
    world.kinesis.split_seconds = 2_000  # our first split stays UPDATING longer than the invocation can wait
    result = world.service().scale_up(request, world.budget())
    assert result.outcome is Outcome.CONTINUED and len(result.ops_done) == 1
    assert world.kinesis.reshard_calls() == ["split_shard"]
    (cont,) = world.continuation.requests
    assert (cont.handovers[0].target, cont.hop) == (4, 1)


def test_throttled_after_retries_hands_over(world: World) -> None:
    request = two_shards_to_four(world)  # → 4 by 2 splits
    world.kinesis.inject("split_shard", ThrottledError("LimitExceededException (TPS)"))
    assert world.service().scale_up(request, world.budget()).outcome is Outcome.CONTINUED
    assert world.kinesis.reshard_calls() == []  # the first split was the throttled call
    (cont,) = world.continuation.requests
    assert (cont.handovers[0].target, cont.handovers[0].origin_count) == (4, 2)


def test_shard_quota_is_final_and_reported(world: World) -> None:
    world.kinesis.account_shard_limit = 3
    request = one_shard_to_four(world)  # wants 4 by 3 splits: two fit (3 shards), the third hits the quota
    result = world.service().scale_up(request, world.budget())
    assert result.outcome is Outcome.FAILED and "shard limit" in result.detail
    assert world.kinesis.reshard_calls() == ["split_shard"] * 2
    assert world.kinesis.open_count("orders") == 3
    assert bytes_threshold(world) == pytest.approx(0.8 * 3 * 1_048_576 * 60), "alarms follow what was reached"
    assert_invariants(world, result)


def test_update_shard_count_over_the_quota_falls_back_to_splits(world: World) -> None:
    world.kinesis.account_shard_limit = 10  # 4 open + 8 temporary shards of UpdateShardCount > 10; splits fit
    world.add_stream(shards=4)
    world.traffic(1.0, 4)  # → 8 planned as one UpdateShardCount
    result = world.service().scale_up(ALARM, world.budget())
    assert world.kinesis.reshard_calls() == ["split_shard"] * 4
    assert (result.outcome, result.after) == (Outcome.SCALED, 8)


def test_stream_deleted_mid_sequence(world: World) -> None:
    request = two_shards_to_four(world)  # → 4 by 2 splits; the stream is deleted before the second

    def delete_after_first_split(op: str, stream: str) -> None:
        if op == "split_shard" and world.kinesis.reshard_calls():
            world.kinesis.delete_stream(stream)

    world.kinesis.on_call = delete_after_first_split
    result = world.service().scale_up(request, world.budget())
    assert result.outcome is Outcome.FAILED and "vanished" in result.detail
    assert len(result.ops_done) == 1
    lock = world.cooldown.read("orders")
    assert lock is not None and lock.owner is None


@pytest.mark.parametrize(
    ("setup", "detail"),
    [
        (lambda w: w.kinesis.set_mode("orders", StreamMode.ON_DEMAND), "ON_DEMAND"),
        (lambda w: w.kinesis.delete_stream("orders"), "not found"),
    ],
)
def test_streams_we_must_not_touch_are_skipped(world: World, setup: object, detail: str) -> None:
    world.add_stream(shards=4)
    setup(world)  # type: ignore[operator]
    result = world.service().scale_up(ALARM, world.budget())
    assert result.outcome is Outcome.SKIPPED and detail in result.detail
    assert world.kinesis.calls == []


def test_unknown_and_disabled_streams_do_not_touch_aws(world: World) -> None:
    world.config = make_config(enabled=False)
    world.add_stream(shards=4)
    svc = world.service()
    assert svc.scale_up(ALARM, world.budget()).outcome is Outcome.SKIPPED
    unknown = svc.scale_up(ScaleUpRequest("payments", TriggerKind.UTILISATION), world.budget())
    assert unknown.outcome is Outcome.SKIPPED
    assert world.kinesis.calls == [] and world.cooldown.acquired == 0


def test_at_max_is_a_noop(world: World) -> None:
    world.config = make_config(min_shards=1, max_shards=4, desired_shards=4)
    world.add_stream(shards=4)
    world.traffic(2.0, 4)
    result = world.service().scale_up(ALARM, world.budget())
    assert result.outcome is Outcome.NOOP and result.plan is not None and result.plan.reason.value == "at_max"
    assert world.kinesis.calls == []


def test_stale_alarm_retunes_alarms_but_does_not_reshard(world: World) -> None:
    world.add_stream(shards=4)
    world.kinesis.update_shard_count("orders", 8)  # scaled since, but the alarms were never retuned (a crash)
    world.clock.advance(120)
    world.traffic(0.3, 8)
    result = world.service().scale_up(ALARM, world.budget())  # alarm_shards=4, 8 open → stale
    assert result.outcome is Outcome.NOOP
    assert world.kinesis.reshard_calls() == ["update_shard_count"]
    assert bytes_threshold(world) == pytest.approx(0.8 * 8 * 1_048_576 * 60)


def test_metrics_failure_takes_the_fallback_step(world: World) -> None:
    world.add_stream(shards=4)
    world.metrics.fail_next.append(ThrottledError("GetMetricData throttled"))
    result = world.service().scale_up(ScaleUpRequest("orders", TriggerKind.UTILISATION), world.budget())
    assert result.plan is not None and result.plan.reason.value == "metrics_missing"
    assert result.after == 6  # ⌈4 × 1.5⌉


def test_lock_table_unavailable_fails_closed(world: World) -> None:
    world.add_stream(shards=4)
    world.traffic(1.2, 4)
    world.cooldown.unavailable = LockUnavailable("DynamoDB unavailable")
    with pytest.raises(LockUnavailable):
        world.service().scale_up(ALARM, world.budget())
    assert world.kinesis.calls == []


def test_missing_alarm_is_reported_not_fatal(world: World) -> None:
    world.add_stream(shards=4)
    del world.alarms.alarms[alarm_name("kinesis-autoscaler", "orders", AlarmKind.INCOMING_RECORDS)]
    world.traffic(1.2, 4)
    result = world.service().scale_up(ALARM, world.budget())
    assert result.outcome is Outcome.SCALED
    assert "incoming-records" not in result.detail


def test_dry_run_changes_nothing(world: World) -> None:
    world.add_stream(shards=4)
    world.traffic(1.0, 4)  # 4 × 2 = 8
    result = world.service().dry_run(ALARM)
    assert result.outcome is Outcome.DRY_RUN and result.plan is not None and result.plan.target == 8
    assert world.kinesis.calls == [] and world.cooldown.acquired == 0 and world.alarms.set_ok_calls == 0


def test_log_fields_carry_the_house_keys(world: World) -> None:
    world.add_stream(shards=4)
    world.traffic(1.0, 4)  # 4 × 2 = 8
    fields = world.service().scale_up(ALARM, world.budget()).log_fields()
    assert {"stream", "current", "target", "ops", "reason", "dry_run"} <= fields.keys()
    assert (fields["current"], fields["target"], fields["reason"]) == (4, 8, "scaled_for_peak")


def test_an_alarm_skipped_while_another_run_held_the_lock_is_reset_at_release(world: World) -> None:
    # 8 shards at 30%: 2.4 shards of load × 2 = 4.8 → 5 ≤ 8, and the bytes alarm was set for 4 shards: a late alarm,
    # a no-op. Meanwhile the throttle alarm went into ALARM and its delivery met the lock (skipped, not reset). The
    # no-op's release resets it, so a breach that lasts notifies again.
    world.add_stream(shards=8)
    world.traffic(0.3, 8)
    throttle = alarm_name("kinesis-autoscaler", "orders", AlarmKind.WRITE_THROTTLED)
    world.alarms.set_state(throttle, "ALARM", "fired while the lock was held")
    result = world.service().scale_up(alarm(4), world.budget())
    assert result.outcome is Outcome.NOOP, result.detail
    assert world.alarms.alarms[throttle].state == "OK"
    assert world.kinesis.reshard_calls() == []


def test_an_interrupted_hot_shard_plan_goes_on_cutting_the_hot_shards(world: World) -> None:
    """Issue 12 section 2, the suite's own "hot and refusing" case on the service: 3.6 shards of demand, 78% of it on
    the lowest 5% of the keys, 4 even shards. Shard 0 (the hot quarter) demands 0.78 × 3.6 + 0.22 × 3.6 × 0.20 / 0.95
    = 2.97 shards: it accepts 1.0 and refuses 1.97; ⌈2.97 × 2⌉ = 6 pieces, doubled to 12 as it refuses, cut into 16:
    15 splits, 4 → 19, all inside the hot quarter. The second split is throttled, so the run hands over: the
    continuation must re-read the heat and keep cutting the hot range (before, it re-planned as a uniform rescale by
    UpdateShardCount: 4 pieces of 1/19 in the hot quarter)."""
    keys = 2**128
    hot_end = keys // 20  # the lowest 5% of the key space
    demand = 3.6 * MiB * 60  # bytes a minute

    def wanted(start: int, end: int) -> float:
        """A key range's demand in bytes a minute: 78% spread over the hot range, 22% over the rest."""
        hot = max(0, min(end + 1, hot_end) - start)
        cool = (end + 1 - start) - hot
        return demand * (0.78 * hot / hot_end + 0.22 * cool / (keys - hot_end))

    def accepted(stream: str, shard_id: str, t: int) -> float | None:
        shard = next((x for x in world.kinesis.open_shards(stream) if x.shard_id == shard_id), None)
        return None if shard is None else min(wanted(shard.start, shard.end), MiB * 60)

    world.add_stream(shards=4, shard_level_metrics=frozenset({"IncomingBytes"}))
    world.metrics.shard_source = accepted
    now = world.clock.now()
    layout = world.kinesis.open_shards("orders")
    took = sum(min(wanted(x.start, x.end), MiB * 60) for x in layout)
    refused = sum(max(0.0, wanted(x.start, x.end) - MiB * 60) for x in layout)
    for i in range(1, 6):  # 1 KB records: bytes lead
        world.metrics.put("orders", "IncomingBytes", now - 60 * i, took)
        world.metrics.put("orders", "IncomingRecords", now - 60 * i, took / 1024)
        world.metrics.put("orders", "WriteProvisionedThroughputExceeded", now - 60 * i, refused / 1024)
    splits = []

    def second_split_throttled(operation: str, stream: str) -> None:
        if operation == "split_shard":
            splits.append(stream)
            if len(splits) == 2:
                world.kinesis.inject("split_shard", ThrottledError("Rate exceeded for stream orders"))

    world.kinesis.on_call = second_split_throttled
    throttle = ScaleUpRequest(
        "orders", TriggerKind.THROTTLE, source=alarm_name("kinesis-autoscaler", "orders", AlarmKind.WRITE_THROTTLED)
    )
    first = world.service().scale_up(throttle, world.budget())
    assert first.outcome is Outcome.CONTINUED and first.plan is not None and first.plan.target == 19, first.detail
    (cont,) = world.continuation.pop_all()
    assert cont.handovers[0].method == "hot_shard"
    world.kinesis.on_call = None
    second = world.service().scale_up(
        ScaleUpRequest("orders", TriggerKind.OPERATOR, continuation=cont, source="continuation"), world.budget()
    )
    assert second.outcome is Outcome.SCALED, second.detail
    assert "update_shard_count" not in world.kinesis.reshard_calls("orders")
    hot_quarter = [x for x in world.kinesis.open_shards("orders") if x.end < keys // 4]
    assert len(hot_quarter) >= 16, f"{len(hot_quarter)} pieces in the hot quarter"
    assert world.kinesis.open_count("orders") == 19


def test_a_throttle_alarms_evidence_is_read_over_the_alarms_own_window() -> None:
    """A 5-minute alarm period × 2: the refused writes that fired it may be 8 minutes old, beyond the 5-minute
    lookback. The evidence is read over the alarm's window + 3 min (300 × 2 + 180 = 780 s), so it is found."""
    from tests.conftest import new_world

    world = new_world(make_config(alarm_period_seconds=300))
    world.add_stream(shards=4)
    now = world.clock.now()
    for age in (480, 420):  # refused writes 7-8 minutes ago; quiet since
        world.metrics.put("orders", "IncomingBytes", now - age, 0.3 * 4 * MiB * 60)
        world.metrics.put("orders", "IncomingRecords", now - age, 1_000.0)
        world.metrics.put("orders", "WriteProvisionedThroughputExceeded", now - age, 500.0)
    for age in (240, 180, 120, 60):
        world.metrics.put("orders", "IncomingBytes", now - age, 0.3 * 4 * MiB * 60)
        world.metrics.put("orders", "IncomingRecords", now - age, 1_000.0)
        world.metrics.put("orders", "WriteProvisionedThroughputExceeded", now - age, 0.0)
    throttle = ScaleUpRequest("orders", TriggerKind.THROTTLE, source="t")
    result = world.service().scale_up(throttle, world.budget())
    assert (result.outcome, result.after) == (Outcome.SCALED, 5), result.detail
