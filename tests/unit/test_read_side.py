"""The read side (issue 15), with its arithmetic: read demand and its verdict, the scale-up sized for readers, the
scale-down's guard, the read alarms, and the screening of read-side alarms. A shard serves 2 MiB/s and 5 GetRecords
calls a second to all its polling consumers together (docs/read-side-facts.md)."""

from __future__ import annotations

import pytest

from autoscaler.app.alarm_sync import stream_alarm_specs, sync_alarms
from autoscaler.app.scale_down import StreamOutcome
from autoscaler.app.scale_up import Outcome, ScaleUpRequest
from autoscaler.config import parse_config
from autoscaler.core.capacity import AlarmKind, alarm_name
from autoscaler.core.limits import MAX_HASH_KEY
from autoscaler.core.model import MetricSeries, ReadMetrics, Shard, TriggerKind
from autoscaler.core.read_side import ReadVerdict, lag_growing, read_demand
from autoscaler.core.scale_down import ScaleDownInput, decide_scale_down
from autoscaler.core.scale_up import PlanInput, plan_scale_up
from tests.conftest import World

pytestmark = pytest.mark.unit
MiB = 1_048_576
READ_CAP_4 = 4 * 2 * MiB * 60  # 4 shards' shared read capacity in a one-minute period: 503,316,480 bytes


def series(*values: float, period: int = 60) -> MetricSeries:
    return MetricSeries(period, tuple(values))


def reads(
    bytes_read: tuple[float, ...] = (),
    calls: tuple[float, ...] = (),
    throttled: tuple[float, ...] = (),
    ages_s: tuple[float, ...] = (),
) -> ReadMetrics:
    return ReadMetrics(series(*bytes_read), series(*calls), series(*throttled), series(*(a * 1000 for a in ages_s)))


def even(n: int) -> tuple[Shard, ...]:
    width = (MAX_HASH_KEY + 1) // n
    return tuple(
        Shard(f"shardId-{i}", i * width, MAX_HASH_KEY if i == n - 1 else (i + 1) * width - 1) for i in range(n)
    )


# -- demand and verdict -----------------------------------------------------------------------------------------------


def test_refused_calls_add_what_they_would_have_read() -> None:
    # 452,984,832 bytes read = 0.9 of 4 shards; 600 calls (50% of 4 × 5/s × 60 = 1,200) → 754,975 bytes a call; 200
    # refused calls would have read 200 × 754,975 = 150,994,944 more = 0.3 → demand 1.2, read-bound
    d = read_demand(reads((0.9 * READ_CAP_4,), (600,), (200,)), None, 4, consumers=1, max_age_ms=60_000, threshold=0.8)
    assert d is not None
    assert (round(d.peak, 4), round(d.demand, 4), d.verdict) == (0.9, 1.2, ReadVerdict.READ_BOUND)


def test_with_the_calls_saturated_refusals_are_retries_not_more_bytes() -> None:
    # calls at 1,200 / 1,200 = 100% with 1,200 refused and bytes at 45%: the refusals retry the same data. Bytes far
    # below the limit: the calls' limit, reported (adding 1,200 × 188,744 bytes would have read 0.9, "read-bound")
    d = read_demand(
        reads((0.45 * READ_CAP_4,), (1200,), (1200,)), None, 4, consumers=1, max_age_ms=60_000, threshold=0.8
    )
    assert d is not None and (round(d.demand, 4), d.verdict) == (0.45, ReadVerdict.CALLS_BOUND)


@pytest.mark.parametrize(
    ("bytes_fraction", "calls", "refused", "verdict"),
    [
        (0.125, 300, 3, ReadVerdict.BURSTS),  # 3 calls refused at 12.5%: sub-minute bursts, never a shard per alarm
        (0.0, 0, 5, ReadVerdict.BURSTS),  # refusals and no successful call at all: no bytes to size from
        (float("nan"), 300, float("inf"), ReadVerdict.NONE),  # a corrupt reply is no evidence, never a target
    ],
)
def test_refusals_far_below_the_limit_are_reported_not_resharded(
    bytes_fraction: float, calls: float, refused: float, verdict: ReadVerdict
) -> None:
    d = read_demand(
        reads((bytes_fraction * READ_CAP_4,), (calls,), (refused,)),
        None,
        4,
        consumers=1,
        max_age_ms=60_000,
        threshold=0.8,
    )
    assert d is not None and d.verdict is verdict
    assert plan(TriggerKind.READ, reads((bytes_fraction * READ_CAP_4,), (calls,), (refused,))).target == 4


def test_declared_consumers_read_every_record() -> None:
    # writes at 0.8 MiB/s per shard on 4 shards, 3 polling consumers: 3 × 0.8 × 4 MiB/s = 9.6 MiB/s of the shared
    # 8 MiB/s = 1.2, though nothing was measured yet (read_side just switched on)
    written = series(0.8 * 4 * MiB * 60)
    d = read_demand(None, written, 4, consumers=3, max_age_ms=60_000, threshold=0.8)
    assert d is not None and round(d.declared, 4) == 1.2 and d.verdict is ReadVerdict.READ_BOUND
    assert "3 declared consumer(s)" in d.message


def test_throttled_on_calls_with_bytes_far_below_is_not_fixed_by_shards() -> None:
    # 1,440 calls a minute on 4 shards = 1,440 / 1,200 = 1.2 of the 5 calls/s, bytes at 0.1: 6 consumers polling
    d = read_demand(reads((0.1 * READ_CAP_4,), (1440,), (200,)), None, 4, consumers=1, max_age_ms=60_000, threshold=0.8)
    assert d is not None and d.verdict is ReadVerdict.CALLS_BOUND and "enhanced fan-out" in d.message


@pytest.mark.parametrize(
    ("bytes_fraction", "verdict"),
    [(0.9, ReadVerdict.READ_BOUND), (0.2, ReadVerdict.CONSUMER_LAG)],
)
def test_growing_lag_is_the_streams_only_near_the_read_limit(bytes_fraction: float, verdict: ReadVerdict) -> None:
    # ages 40 s → 70 s → 130 s, bound 60 s: growing. Near the limit (0.9 ≥ 0.8): shards; at 0.2: the consumer
    m = reads((bytes_fraction * READ_CAP_4,) * 3, (600,) * 3, (0, 0, 0), (40, 70, 130))
    d = read_demand(m, None, 4, consumers=1, max_age_ms=60_000, threshold=0.8)
    assert d is not None and d.lag_growing and d.verdict is verdict and d.max_age_ms == 130_000


@pytest.mark.parametrize(
    ("ages_s", "growing"),
    [((40, 70, 130), True), ((130, 70, 140), False), ((20, 30, 50), False), ((70, 130), False), ((61, 62, 63), True)],
)
def test_lag_growing_needs_three_rising_ages_ending_above_the_bound(ages_s: tuple[int, ...], growing: bool) -> None:
    assert lag_growing([a * 1000 for a in ages_s], 60_000) is growing


# -- the scale-up -----------------------------------------------------------------------------------------------------


def plan(trigger: TriggerKind, m: ReadMetrics | None, written_fraction: float = 0.0, consumers: int = 1):  # type: ignore[no-untyped-def]
    from autoscaler.core.model import StreamMetrics

    writes = StreamMetrics(series(written_fraction * 4 * MiB * 60), series(10.0)) if written_fraction else None
    return plan_scale_up(
        PlanInput(
            stream="orders",
            shards=even(4),
            min_shards=1,
            max_shards=64,
            trigger=trigger,
            metrics=writes,
            read_metrics=m,
            read_consumers=consumers,
            max_iterator_age_ms=60_000,
            read_threshold=0.8,
        )
    )


def test_read_throttling_is_sized_from_read_demand() -> None:
    # demand 1.2 (above) × 4 shards × headroom 2 = 9.6 → 10 shards
    p = plan(TriggerKind.READ, reads((0.9 * READ_CAP_4,), (600,), (200,)))
    assert (p.reason.value, p.target) == ("read_demand", 10)
    assert "read throttling: 200 GetRecords calls refused" in p.decision


def test_calls_bound_and_consumer_lag_are_reported_not_resharded() -> None:
    calls = plan(TriggerKind.READ, reads((0.1 * READ_CAP_4,), (1440,), (200,)))
    lag = plan(TriggerKind.READ, reads((0.2 * READ_CAP_4,) * 3, (600,) * 3, (0, 0, 0), (40, 70, 130)))
    assert (calls.reason.value, calls.target, calls.ops) == ("read_calls", 4, ())
    assert (lag.reason.value, lag.target, lag.ops) == ("consumer_lag", 4, ())
    assert "the consumer is slow" in lag.decision


def test_a_write_alarm_on_a_stream_whose_readers_need_more_takes_the_larger_need() -> None:
    # writes at 0.8: ⌈0.8 × 4 × 2⌉ = 7 for the writers; 3 consumers read 1.2 of the read capacity: ⌈1.2 × 4 × 2⌉ =
    # 10 for the readers
    p = plan(TriggerKind.UTILISATION, None, written_fraction=0.8, consumers=3)
    assert (p.reason.value, p.target) == ("read_demand", 10)
    alone = plan(TriggerKind.UTILISATION, None, written_fraction=0.8, consumers=0)  # read side off
    assert (alone.reason.value, alone.target) == ("scaled_for_peak", 7)


# -- the scale-down guard ---------------------------------------------------------------------------------------------


def quiet(**read: object) -> ScaleDownInput:
    """4 even shards, a day of 5-minute writes at 20% of their 4 MiB/s."""
    start, end = 0, 86_400
    written = {t: 0.2 * 4 * MiB * 300 for t in range(start, end, 300)}
    return ScaleDownInput(
        stream="orders",
        shards=even(4),
        min_shards=1,
        scale_down_threshold=0.5,
        scale_up_threshold=0.8,
        window_start=start,
        window_end=end,
        period_seconds=300,
        incoming_bytes=written,
        incoming_records={t: 10.0 for t in written},
        **read,  # type: ignore[arg-type]
    )


def test_the_guard_keeps_a_stream_whose_readers_were_throttled_or_behind() -> None:
    assert decide_scale_down(quiet()).target == 2  # write side alone: 0.2 × 4 / 0.5 = 1.6 → 2
    throttled = decide_scale_down(quiet(read_consumers=1, read_throttled=12.0))
    behind = decide_scale_down(quiet(read_consumers=1, max_iterator_age_ms=95_000.0, iterator_age_bound_ms=60_000.0))
    assert (throttled.reason.value, throttled.target) == ("read_throttled", 4)
    assert (behind.reason.value, behind.target) == ("readers_behind", 4)
    assert "95 s" in behind.message


def test_the_readers_load_sizes_the_merge() -> None:
    # 3 consumers of writes at 20%: 3 × 0.2 / 2 = 30% of the read capacity → 0.3 × 4 / 0.5 = 2.4 → 3, not 2
    d = decide_scale_down(quiet(read_consumers=3, max_iterator_age_ms=1_000.0))
    assert (d.reason.value, d.target, round(d.peak or 0, 4)) == ("merge", 3, 0.3)


# -- alarms -----------------------------------------------------------------------------------------------------------


def test_read_side_streams_get_three_read_alarms_retuned_with_the_count(world: World) -> None:
    world.config = parse_config(
        "streams:\n  - {name: orders, min_shards: 1, max_shards: 64, desired_shards: 4, read_side: true,"
        " max_iterator_age_seconds: 120}\n"
    )
    cfg = world.config.stream("orders")
    assert cfg is not None
    specs = {s.kind: s for s in stream_alarm_specs("kinesis-autoscaler", cfg, 4)}
    assert set(specs) == set(AlarmKind)
    # bytes read at 80% of 4 × 2 MiB/s × 60 s = 402,653,184; any refused read; the age above 120 s, 3 minutes running
    assert specs[AlarmKind.READ_BYTES].threshold == pytest.approx(0.8 * READ_CAP_4)
    assert (specs[AlarmKind.READ_THROTTLED].threshold, specs[AlarmKind.READ_THROTTLED].comparison) == (
        0.0,
        "GreaterThanThreshold",
    )
    age = specs[AlarmKind.ITERATOR_AGE]
    assert (age.threshold, age.period_seconds, age.evaluation_periods, age.metric_name) == (
        120_000.0,
        60,
        3,
        "GetRecords.IteratorAgeMilliseconds",
    )
    world.add_stream("orders", 4)
    sync_alarms(world.alarms, "kinesis-autoscaler", cfg, 8, force_ok=True)
    by = world.alarms.alarms
    assert by[alarm_name("kinesis-autoscaler", "orders", AlarmKind.READ_BYTES)].spec.threshold == pytest.approx(
        0.8 * 2 * READ_CAP_4
    )
    assert by[alarm_name("kinesis-autoscaler", "orders", AlarmKind.ITERATOR_AGE)].spec.threshold == 120_000.0
    plain = parse_config("streams:\n  - {name: o, min_shards: 1, max_shards: 8, desired_shards: 1}\n").stream("o")
    assert plain is not None and len(stream_alarm_specs("p", plain, 1)) == 3  # the read side is off by default


# -- the service on the doubles ---------------------------------------------------------------------------------------


def test_a_read_alarm_scales_a_read_side_stream_and_is_refused_for_others(world: World) -> None:
    world.config = parse_config(
        "streams:\n"
        "  - {name: orders, min_shards: 1, max_shards: 64, desired_shards: 4, read_side: true}\n"
        "  - {name: plain, min_shards: 1, max_shards: 64, desired_shards: 4}\n"
    )
    world.add_stream("orders", 4)
    world.add_stream("plain", 4)
    now = world.clock.now()
    for stream in ("orders", "plain"):
        for i in range(1, 4):
            world.metrics.put(stream, "IncomingBytes", now - 60 * i, 0.3 * 4 * MiB * 60)
            world.metrics.put(stream, "IncomingRecords", now - 60 * i, 100.0)
            world.metrics.put(stream, "GetRecords.Bytes", now - 60 * i, 0.9 * READ_CAP_4)
            world.metrics.put(stream, "GetRecords.Success", now - 60 * i, 600.0)
            world.metrics.put(stream, "ReadProvisionedThroughputExceeded", now - 60 * i, 200.0)
    svc = world.service()
    done = svc.scale_up(ScaleUpRequest("orders", TriggerKind.READ, source="test"), world.budget())
    # demand 0.9 + 200 × 754,975 / 503,316,480 = 1.2 → ⌈1.2 × 4 × 2⌉ = 10
    assert (done.outcome, done.after, done.plan.reason.value if done.plan else None) == (
        Outcome.SCALED,
        10,
        "read_demand",
    )
    plain = svc.scale_up(ScaleUpRequest("plain", TriggerKind.READ, source="test"), world.budget())
    assert plain.outcome is Outcome.NOOP and plain.plan is not None and plain.plan.reason.value == "no_evidence"
    assert len(world.kinesis.open_shards("plain")) == 4


def test_the_scale_down_keeps_a_read_side_stream_whose_readers_are_behind(world: World) -> None:
    world.config = parse_config(
        "streams:\n  - {name: orders, min_shards: 1, max_shards: 64, desired_shards: 4, read_side: true}\n"
    )
    world.add_stream("orders", 4)
    now = int(world.clock.now()) // 60 * 60
    for i in range(1, 25 * 60 + 1):
        world.metrics.put("orders", "IncomingBytes", now - 60 * i, 0.1 * 4 * MiB * 60)
        world.metrics.put("orders", "IncomingRecords", now - 60 * i, 10.0)
    world.metrics.put("orders", "GetRecords.IteratorAgeMilliseconds", now - 3 * 3600, 400_000.0)
    svc = world.scale_down_service()
    (planned,) = svc.dry_run()
    (ran,) = svc.run(world.budget()).results
    assert (planned.outcome, planned.decision.reason.value if planned.decision else None) == (
        StreamOutcome.KEPT,
        "readers_behind",
    )
    assert ran.outcome is StreamOutcome.KEPT and len(world.kinesis.open_shards("orders")) == 4


# -- the operator's view ----------------------------------------------------------------------------------------------


def test_doctor_flags_readers_throttled_or_behind_and_status_shows_the_reads(world: World) -> None:
    from autoscaler.app.doctor import Severity, diagnose
    from autoscaler.app.status import fleet_status

    world.config = parse_config(
        "streams:\n"
        "  - {name: orders, min_shards: 1, max_shards: 64, desired_shards: 4, read_side: true}\n"
        "  - {name: plain, min_shards: 1, max_shards: 64, desired_shards: 4}\n"
    )
    world.add_stream("orders", 4)
    world.add_stream("plain", 4)
    now = int(world.clock.now()) // 60 * 60
    for stream in ("orders", "plain"):
        world.metrics.put(stream, "IncomingBytes", now - 120, 0.2 * 4 * MiB * 60)
        world.metrics.put(stream, "GetRecords.Bytes", now - 120, 0.45 * READ_CAP_4)
        world.metrics.put(stream, "ReadProvisionedThroughputExceeded", now - 120, 7.0)
        world.metrics.put(stream, "GetRecords.IteratorAgeMilliseconds", now - 120, 95_000.0)
    ports = {k: v for k, v in world.ports().items() if k in ("kinesis", "alarms", "cooldown", "clock")}
    findings = [f for f in diagnose(world.config, metrics=world.metrics, **ports) if f.check == "readers"]
    assert [(f.stream, f.severity) for f in findings] == [("orders", Severity.WARNING)] * 2  # "plain": read side off
    assert "7 GetRecords calls throttled" in findings[0].message and "95 s" in findings[1].message
    rows = {r.stream: r for r in fleet_status(world.config, metrics=world.metrics, **ports)}
    # 0.45 of 4 shards' read bytes in the busiest minute; the worst reader 95 s behind
    assert (round(rows["orders"].read_peak_1h or 0, 4), rows["orders"].max_iterator_age_s) == (0.45, 95.0)
    assert (rows["plain"].read_side, rows["plain"].read_peak_1h) == (False, None)
    # the 24 h peak as the scale-down judges it, over 5-minute periods: the minute's reads 0.45 / 5 = 0.09 of the read
    # capacity beat its writes 0.2 / 5 = 0.04 of the write capacity; the write-only stream shows its writes
    assert (round(rows["orders"].peak_24h or 0, 4), round(rows["plain"].peak_24h or 0, 4)) == (0.09, 0.04)


def test_a_reported_read_alarm_is_left_in_alarm_so_it_does_not_refire_every_minute(world: World) -> None:
    """Reset to OK, an iterator-age alarm whose cause is a slow consumer would fire again at its next minute, a lock
    and a read each time, for as long as the consumer lags; left in ALARM, the 5-minute sweep brings it back."""
    world.config = parse_config(
        "streams:\n  - {name: orders, min_shards: 1, max_shards: 64, desired_shards: 4, read_side: true}\n"
    )
    world.add_stream("orders", 4)
    age_alarm = alarm_name("kinesis-autoscaler", "orders", AlarmKind.ITERATOR_AGE)
    bytes_alarm = alarm_name("kinesis-autoscaler", "orders", AlarmKind.INCOMING_BYTES)
    world.alarms.set_state(age_alarm, "ALARM", "3 of 3 above 60 s")
    world.alarms.set_state(bytes_alarm, "ALARM", "left over")
    now = world.clock.now()
    for i, age_s in ((3, 64), (2, 122), (1, 181)):
        world.metrics.put("orders", "GetRecords.Bytes", now - 60 * i, 0.1 * READ_CAP_4)
        world.metrics.put("orders", "GetRecords.Success", now - 60 * i, 240.0)
        world.metrics.put("orders", "GetRecords.IteratorAgeMilliseconds", now - 60 * i, age_s * 1000.0)
    result = world.service().scale_up(ScaleUpRequest("orders", TriggerKind.READ, source=age_alarm), world.budget())
    assert result.outcome is Outcome.NOOP and result.plan is not None and result.plan.reason.value == "consumer_lag"
    assert world.alarms.alarms[age_alarm].state == "ALARM"  # left: the report stands
    assert world.alarms.alarms[bytes_alarm].state == "OK"  # any other alarm left in ALARM is re-armed as before
    # and nobody is left unattended: no run holds the stream, so the 5-minute sweep re-arms it; if the lag lasts it
    # fires again and is judged on fresh evidence
    from autoscaler.app.sweeper import AlarmSweeper

    sweep = AlarmSweeper(
        config=world.config, kinesis=world.kinesis, alarms=world.alarms, cooldown=world.cooldown, clock=world.clock
    )
    (row,) = sweep.sweep()
    assert (row.stream, row.alarmed, row.rearmed) == ("orders", (age_alarm,), True)
    assert world.alarms.alarms[age_alarm].state == "OK"


def test_doctor_warns_when_the_iterator_age_alarm_is_not_the_configs_bound(world: World) -> None:
    from autoscaler.app.doctor import diagnose

    world.config = parse_config(
        "streams:\n  - {name: orders, min_shards: 1, max_shards: 64, desired_shards: 4, read_side: true}\n"
    )
    world.add_stream("orders", 4)  # its alarms, the iterator age's at 60 s
    world.config = parse_config(
        "streams:\n  - {name: orders, min_shards: 1, max_shards: 64, desired_shards: 4, read_side: true,"
        " max_iterator_age_seconds: 300}\n"
    )
    ports = {k: v for k, v in world.ports().items() if k in ("kinesis", "alarms", "cooldown", "clock")}
    (finding,) = [f for f in diagnose(world.config, **ports) if f.check == "alarms"]
    assert "fires above 60 s, max_iterator_age_seconds is 300" in finding.message


@pytest.mark.parametrize(
    ("ages_s", "consumers", "verdict"),
    [
        # a reader resumed from 30 min back: its age jumped 1,798 s in a minute (one that reads nothing ages 60 s a
        # minute at most): it catches up, its refusals repeat one backlog: reported, not resharded
        ((2, 1800), 1, ReadVerdict.CATCHING_UP),
        ((1800, 1500), 1, ReadVerdict.CATCHING_UP),  # its age falling from above the bound: gaining
        ((20, 50), 1, ReadVerdict.READ_BOUND),  # no reader behind: the refusals are demand
        # 4 declared consumers of writes at 40%: 4 × 0.4 / 2 = 0.8 of the read capacity in steady demand: whatever
        # a reader catching up does, the stream is short of shards
        ((2, 1800), 4, ReadVerdict.READ_BOUND),
    ],
)
def test_refusals_while_a_reader_catches_up_are_one_backlog_not_lasting_demand(
    ages_s: tuple[int, ...], consumers: int, verdict: ReadVerdict
) -> None:
    m = reads((0.9 * READ_CAP_4,) * 2, (600,) * 2, (0, 200), ages_s)
    d = read_demand(m, series(0.4 * 4 * MiB * 60), 4, consumers=consumers, max_age_ms=60_000, threshold=0.8)
    assert d is not None and d.verdict is verdict, d
