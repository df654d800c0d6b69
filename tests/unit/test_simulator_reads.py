"""The simulator's read side (issue 15), with its arithmetic: polling consumers reading every record on a shared
2 MiB/s per shard (simulator/reads.py), the baselines given the same readers, the replay publishing the GetRecords
metrics and the real services reacting to them through the read alarms, and the figures and table columns."""

from __future__ import annotations

import math

import pytest

from autoscaler.adapters.fakes.clock import SimClock
from autoscaler.adapters.fakes.cloudwatch import FakeAlarms, FakeMetrics
from autoscaler.core.capacity import AlarmKind, AlarmSpec
from autoscaler.core.limits import ITERATOR_AGE, READ_BYTES, READ_CALLS, READ_THROTTLED
from autoscaler.simulator import baselines
from autoscaler.simulator.alarm_eval import AlarmEvaluator
from autoscaler.simulator.ledger import Ledger
from autoscaler.simulator.reads import (
    SHARD_READ_BYTES_PER_MINUTE,
    Pause,
    ReadModel,
    ReadRun,
    read_loads,
    read_shards_of,
    reads_of,
    share_out,
)
from autoscaler.simulator.replay import AutoscalerReplay, ReplayOptions
from autoscaler.simulator.report import COLUMNS, READ_COLUMNS, columns, markdown
from autoscaler.simulator.simulate import SimSettings, simulate
from autoscaler.simulator.synthetic import GENERATORS, READ_GENERATORS, read_bound
from autoscaler.simulator.trace import Trace
from autoscaler.simulator.traffic import uniform_layout
from tests.conftest import make_config

pytestmark = pytest.mark.unit
MiB = 1_048_576
R1 = 120 * MiB  # one shard's shared reads in a minute: 2 MiB/s × 60
T0 = 1_700_000_000 // 3600 * 3600


def trace_mib(per_minute: list[float], record_bytes: int = 2048) -> Trace:
    """A trace of MiB written per minute (2 KiB records: bytes lead the write load)."""
    b = [x * MiB for x in per_minute]
    return Trace("t", T0, b, [x / record_bytes for x in b])


# -- the model, one minute at a time ------------------------------------------------------------------------------


def test_fair_share_meets_small_asks_first() -> None:
    # 60 to share among asks of 10, 10 and 100: 60 / 3 = 20 each would overpay the small ones; they get their 10,
    # the big one the remaining 40. Enough capacity: every ask exactly.
    assert share_out([10.0, 100.0, 10.0], 60.0) == [10.0, 40.0, 10.0]
    assert share_out([10.0, 20.0], 1e9) == [10.0, 20.0]


def test_consumers_within_the_shared_limit_are_served_at_once() -> None:
    # 3 consumers × 30 MiB written = 90 MiB asked of 1 shard's 120 MiB: all served, 3 × 1 shard × 60 polls = 180 calls
    run = ReadRun(ReadModel(3), 1)
    got = run.step(0, 30 * MiB, 1.0, 1)
    assert (got.bytes_read, got.calls, got.throttled_calls, got.iterator_age_ms) == (90 * MiB, 180.0, 0.0, 0.0)
    assert run.figures(60)["read_throttled_bytes_fraction"] == 0.0


def test_overloaded_reads_are_refused_then_read_late() -> None:
    # minute 0: 3 × 50 = 150 MiB asked of 120: 40 MiB each, 10 MiB each refused (30 of 150 = 20% of the bytes, so
    # 20% of the 180 calls = 36 refused). Each consumer's last byte read sits at 40 of the minute's 50 MiB, written
    # at 48 s: 12 s behind at the minute's end.
    run = ReadRun(ReadModel(3), 2)
    first = run.step(0, 50 * MiB, 1.0, 1)
    assert first.bytes_read == 120 * MiB
    assert (first.calls, first.throttled_calls) == (144.0, 36.0)
    assert first.iterator_age_ms == pytest.approx(12_000.0)
    # minute 1, nothing written: the 30 MiB left are asked again and served; nothing is late a second time, and the
    # age at the minute's start is still 12 s (60 s - 48 s)
    second = run.step(1, 0.0, 1.0, 1)
    assert (second.bytes_read, second.throttled_calls) == (30 * MiB, 0.0)
    assert second.iterator_age_ms == pytest.approx(12_000.0)
    f = run.figures(60)
    # every byte counted once: 30 MiB late of the 150 MiB the three consumers read
    assert f["read_throttled_bytes_fraction"] == pytest.approx(0.2)
    assert f["read_throttled_calls_fraction"] == pytest.approx(36 / 360)
    assert (f["read_throttled_minutes"], f["max_iterator_age_seconds"], f["minutes_readers_behind"]) == (1, 12.0, 0)


def test_a_paused_consumer_catches_up_with_the_spare_capacity() -> None:
    # 2 consumers, 1 shard (120 MiB a minute), 40 MiB written each minute; the lagging one stops in minutes 1 and 2
    run = ReadRun(ReadModel(2, (Pause(1, 2),)), 5)
    run.step(0, 40 * MiB, 1.0, 1)
    paused = run.step(1, 40 * MiB, 1.0, 1)
    # while paused it makes no call: one consumer's 60 calls, its age alone (0)
    assert (paused.calls, paused.iterator_age_ms) == (60.0, 0.0)
    run.step(2, 40 * MiB, 1.0, 1)
    # minute 3: it asks its 80 MiB backlog + 40 new = 120, the other 40: 160 of 120. The other gets its 40, the
    # lagging one the remaining 80: 40 MiB refused, asked for the first time now (late). 40 of 160 refused: 30 of
    # the 120 calls. Its age at the minute's start: its position (40 MiB) was written at 60 s, it is 180 s now: 120 s.
    resumed = run.step(3, 40 * MiB, 1.0, 1)
    assert (resumed.bytes_read, resumed.throttled_calls) == (120 * MiB, 30.0)
    assert resumed.iterator_age_ms == pytest.approx(120_000.0)
    # at its end it is 40 MiB behind: position 120 MiB, written at 180 s, at 240 s: 60 s, within the 60 s bound
    assert run.lagging_ages_ms[3] == pytest.approx(60_000.0)
    run.step(4, 40 * MiB, 1.0, 1)  # 80 + 40 asked: exactly the shard's 120, caught up
    f = run.figures(60)
    # 40 MiB late of the 2 × 5 × 40 = 400 MiB read; caught up (≤ 60 s) in the minute it resumed
    assert f["read_throttled_bytes_fraction"] == pytest.approx(0.1)
    assert (f["max_iterator_age_seconds"], f["minutes_readers_behind"], f["read_catch_up_minutes"]) == (120.0, 1, 1)


def test_a_consumer_asks_at_most_ten_mib_a_call() -> None:
    # one consumer, 1 shard, 700 MiB behind when it resumes: it polls once a second, ≤ 10 MiB a call, so it asks at
    # most 600 MiB a minute (5 × the shard's 120); 120 served, 480 refused: all asked for the first time (late)
    run = ReadRun(ReadModel(1, (Pause(0, 1),)), 3)
    run.step(0, 700 * MiB, 1.0, 1)
    back = run.step(1, 0.0, 1.0, 1)
    assert (back.asked, back.bytes_read) == (600 * MiB, 120 * MiB)
    assert run.late[1] == 480 * MiB
    # minute 2: 580 MiB left, all asked; 480 of them asked before, 100 for the first time, and the 120 served go to
    # the oldest: the 100 new ones are refused (late), the rest were late already
    run.step(2, 0.0, 1.0, 1)
    assert run.late[2] == 100 * MiB


def test_more_than_five_polling_consumers_exceed_the_calls_limit() -> None:
    # 6 consumers poll 1 shard once a second: 360 calls a minute against 5/s × 60 = 300, so 60 refused though every
    # byte is served (each successful call returns everything available)
    got = ReadRun(ReadModel(6), 1).step(0, 10 * MiB, 1.0, 1)
    assert (got.bytes_read, got.calls, got.throttled_calls) == (60 * MiB, 300.0, 60.0)


def test_the_model_is_validated() -> None:
    with pytest.raises(ValueError, match=r"within 1\.\.50"):
        ReadModel(0).validate()
    with pytest.raises(ValueError, match="after the trace's 10 minutes"):
        ReadModel(2, (Pause(10, 5),)).validate(10)


# -- the policies' read capacity -----------------------------------------------------------------------------------


def test_on_demand_reads_twice_its_write_capacity() -> None:
    # on-demand's 4 MiB/s floor of writes is 4 shard-equivalents: 2 × 4 MiB/s = 8 MiB/s of reads, which at 2 MiB/s a
    # shard is 4 shards' worth; 4 consumers × 2 MiB/s written = 8 MiB/s: all served
    led = baselines.on_demand(trace_mib([120.0] * 60), [2.0] * 60).ledger
    assert read_shards_of(led, 0) == (4.0, 4)
    assert reads_of(ReadModel(4), led).figures(60)["read_throttled_bytes_fraction"] == 0.0
    # 5 consumers ask 10 MiB/s of 8: 20% of the asked bytes refused each minute (the backlog grows: most are late)
    assert reads_of(ReadModel(5), led).figures(60)["read_throttled_bytes_fraction"] > 0.2


def test_provisioned_reads_are_two_mib_a_second_per_open_shard() -> None:
    led = Ledger(trace_mib([60.0]))
    led.serve(0, uniform_layout(3))
    assert read_shards_of(led, 0) == (3.0, 3)


def test_the_oracle_provisions_for_the_reads() -> None:
    # 3 consumers of 60 MiB a minute = 180 MiB of the shared 120 per shard: 1.5 shards of reads, against 1 of writes;
    # the lagging consumer resumes at minute 2 with 60 MiB behind: 240 MiB asked there = 2 shards
    need = read_loads(ReadModel(3, (Pause(1, 1),)), [60.0 * MiB] * 3)
    assert need == [1.5, 1.0, 2.0]
    sim = simulate(trace_mib([60.0] * 120), settings=SimSettings(read_consumers=3))
    oracle = sim.figures["oracle"]
    assert (oracle["max_shards"], oracle["read_throttled_bytes_fraction"]) == (2, 0.0)


def test_fixed_takes_awss_sizing_formula() -> None:
    # max(write load, consumers × bytes written / 2 MiB/s) at the peak: max(1.0, 3 × 60 / 120 = 1.5) → 2 shards
    sim = simulate(trace_mib([60.0] * 120), policies=("fixed",), settings=SimSettings(read_consumers=3))
    assert sim.figures["fixed"]["max_shards"] == 2
    assert sim.figures["fixed"]["read_throttled_bytes_fraction"] == 0.0


def test_polling_scales_on_bytes_read() -> None:
    # 2 shards, 72 MiB a minute written (60% of their 120: neither ×2 above 75% nor ÷2 below 25%); 3 consumers read
    # 216 MiB of the shared 240 = 90% > 75%: the tool's GET operation doubles the stream
    t = trace_mib([72.0] * 180)
    loads = t.loads()
    alone = baselines.polling(t, loads)
    reading = baselines.polling(t, loads, reads=ReadModel(3))
    assert (max(alone.ledger.shards), max(reading.ledger.shards)) == (2, 4)


# -- the replay: the real services react to the reads -----------------------------------------------------------------


def replay(read_side: bool, consumers: int = 3) -> AutoscalerReplay:
    # 6 hours at 84 MiB a minute (1.4 MiB/s, 2 KiB records): 2 shards, writes at 70% (below the 80% write alarm);
    # 3 consumers read 252 MiB of the shared 240: read-bound
    config = make_config(min_shards=1, desired_shards=2, read_side=read_side, read_consumers=consumers)
    t = trace_mib([84.0] * 360)
    sim = AutoscalerReplay(t, t.loads(), config, "orders", ReplayOptions(reads=ReadModel(consumers)))
    sim.run()
    return sim


def test_the_replay_publishes_the_getrecords_metrics() -> None:
    sim = replay(read_side=False)
    data = sim.metrics.data
    first = T0  # minute 0 on 2 shards: 240 MiB served, 12 of 252 refused: 360 × 12 / 252 ≈ 17.1 calls refused
    assert data[("orders", READ_BYTES, "")][first] == 240 * MiB
    assert data[("orders", READ_THROTTLED, "")][first] == pytest.approx(360 * 12 / 252)
    assert data[("orders", READ_CALLS, "")][first] == pytest.approx(360 - 360 * 12 / 252)
    assert data[("orders", ITERATOR_AGE, "")][first] > 0


def test_read_side_on_scales_for_the_readers_and_write_only_does_not() -> None:
    on, off = replay(read_side=True), replay(read_side=False)
    # write-only: no write alarm at 70%, nothing resharded, the readers fall further behind all along
    assert off.kinesis.reshard_calls("orders") == []
    assert not any(k.startswith("scale-up") for k in off.outcomes)
    # read side on: the read alarms fire (screened as the handler does: no "refused at the edge") and the real
    # planner sizes from the read demand
    assert "scale-up scaled" in on.outcomes and "scale-up refused at the edge" not in on.outcomes
    assert len(on.kinesis.open_shards("orders")) > 2
    assert on.reads is not None and off.reads is not None
    late_on = on.reads.figures(60)["read_throttled_bytes_fraction"]
    late_off = off.reads.figures(60)["read_throttled_bytes_fraction"]
    assert late_on < 0.05 < late_off


def test_the_iterator_age_alarm_is_judged_on_its_maximum() -> None:
    # a 2-minute period of ages 30 s and 50 s: the Maximum is 50 s, under a 60 s threshold (their sum, 80 s, is not)
    clock = SimClock(float(T0 + 600))
    metrics, alarms = FakeMetrics(clock), FakeAlarms()
    spec = AlarmSpec(
        "p/orders/iterator-age",
        AlarmKind.ITERATOR_AGE,
        "orders",
        ITERATOR_AGE,
        60_000.0,
        120,
        1,
        1,
        "GreaterThanThreshold",
        "",
    )
    alarms.ensure_alarms([spec], [])
    metrics.put("orders", ITERATOR_AGE, T0 + 360, 30_000.0)
    metrics.put("orders", ITERATOR_AGE, T0 + 420, 50_000.0)
    assert AlarmEvaluator(alarms, metrics).evaluate(T0 + 480) == []
    assert alarms.alarms[spec.name].state == "OK"


# -- the simulation: which reads, which read side, the figures ------------------------------------------------------


def test_the_stream_config_declares_the_readers() -> None:
    # read_side: true with 3 consumers and no read option: the read model is the config's 3 consumers
    config = make_config(min_shards=1, desired_shards=1, read_side=True, read_consumers=3)
    sim = simulate(trace_mib([60.0] * 120), config=config, policies=("autoscaler",))
    assert sim.reads == ReadModel(3)
    assert sim.figures["autoscaler"]["read_side"] is True
    assert sim.as_json()["read_model"] == {"consumers": 3, "lagging_consumer": []}


def test_built_in_defaults_manage_the_reads_they_are_told_of_unless_asked_not_to() -> None:
    t = trace_mib([60.0] * 120)
    on = simulate(t, policies=("autoscaler",), settings=SimSettings(read_consumers=3))
    assert (on.stream.read_side, on.stream.read_consumers) == (True, 3)
    off = simulate(t, policies=("autoscaler",), settings=SimSettings(read_consumers=3, read_side=False))
    assert off.stream.read_side is False and off.figures["autoscaler"]["read_side"] is False


def test_a_lagging_consumer_needs_consumers() -> None:
    with pytest.raises(ValueError, match="--lagging-consumer needs polling consumers"):
        simulate(trace_mib([60.0] * 10), settings=SimSettings(lagging=(Pause(2, 3),)))


def test_without_reads_the_read_fields_are_null_and_the_table_unchanged() -> None:
    sim = simulate(trace_mib([60.0] * 120), policies=("autoscaler", "fixed"))
    assert sim.reads is None and sim.as_json()["read_model"] is None
    row = sim.figures["autoscaler"]
    assert row["read_throttled_bytes_fraction"] is None and row["max_iterator_age_seconds"] is None
    assert columns(sim.figures) == COLUMNS
    assert markdown(sim.figures).splitlines()[0] == "| " + " | ".join(COLUMNS) + " |"


def test_with_reads_the_table_shows_them_after_the_write_throttling() -> None:
    sim = simulate(trace_mib([60.0] * 120), policies=("autoscaler",), settings=SimSettings(read_consumers=3))
    cols = columns(sim.figures)
    at = cols.index("throttled records") + 1
    assert cols[at : at + len(READ_COLUMNS)] == READ_COLUMNS
    assert len(markdown(sim.figures).splitlines()[2].split("|")) == len(cols) + 2


def test_the_read_bound_trace_binds_on_reads_not_writes() -> None:
    s = read_bound()
    assert s.reads == ReadModel(3, (Pause(1440 + 600, 30),))
    # kept apart from GENERATORS, whose write-side figures the bench checks
    assert "read_bound" not in GENERATORS and "read_bound" in READ_GENERATORS
    peak = max(s.trace.loads())
    # writes peak near 4 MiB/s (5% noise); 3 consumers ask 3 × that of 2 MiB/s a shard: 1.5× the shards for reads
    assert 3.8 < peak < 5.0
    assert math.isclose(3 * max(s.trace.bytes) / SHARD_READ_BYTES_PER_MINUTE, 1.5 * peak, rel_tol=1e-9)
