"""A run killed at any point of a scale-up, end to end on the simulated clock (issue 12 §1).

The replay (simulator/replay.py) plays CloudWatch's alarm evaluation (notifications only on a transition into
ALARM), Lambda's retries of a failed event (after 1 min, then 2 min, then the failure queue), the scale-up's
schedule (the re-arm sweep, every ALARM_SWEEP_SECONDS) and the real services. Nothing delivers an alarm by hand.

The trace: 1.1 shards of writes for an hour (2 shards, 55%), then 4.8 shards for 10 hours. Uninterrupted, the alarm
fires ~3 min after the step and one run takes the stream 2 → 4 → 8 → 10 by UpdateShardCount (4.8 × headroom 2 =
9.6 → 10), with no write refused after. Each crash below leaves the lock to its dead owner until the lease lapses
(the invocation's deadline + 60 s); the stream must reach the same 10 shards, and stop refusing writes, within

    RECOVERY_BOUND = sweep period 300 s + one alarm evaluation 60 s + the run itself ≤ 540 s = 900 s

after the lease lapses — whether or not the refusals in between managed to re-arm the alarm.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import pytest

from autoscaler.config import parse_config
from autoscaler.core.defaults import ALARM_SWEEP_SECONDS
from autoscaler.core.errors import AwsCallFailed
from autoscaler.simulator.ledger import PolicyRun
from autoscaler.simulator.replay import AutoscalerReplay, Kill, ReplayOptions
from autoscaler.simulator.trace import SHARD_BYTES_PER_MINUTE, Trace

pytestmark = pytest.mark.unit

CONFIG = parse_config("streams:\n  - {name: s, min_shards: 1, max_shards: 64, desired_shards: 2}\n")
STEP_MINUTE = 60
MINUTES = 660
LOADS = [1.1] * STEP_MINUTE + [4.8] * (MINUTES - STEP_MINUTE)
TARGET = 10  # ⌈4.8 × 2⌉
RUN_SECONDS = 540  # an uninterrupted run from its alarm: three UpdateShardCount (120 s each) and their waits
RECOVERY_BOUND = ALARM_SWEEP_SECONDS + 60 + RUN_SECONDS
SHORT_LAMBDA = 200.0  # a function timeout short enough that the run hands over before its target


def loads(step: int = STEP_MINUTE) -> list[float]:
    return [1.1] * step + [4.8] * (MINUTES - step)


def trace(step: int = STEP_MINUTE) -> Trace:
    b = [x * SHARD_BYTES_PER_MINUTE for x in loads(step)]
    return Trace("step-to-4.8", 1_700_000_000 // 86_400 * 86_400, b, [x / 1024 for x in b], 60)


class Crash(NamedTuple):
    kills: tuple[Kill, ...] = ()
    lost_continuations: int = 0
    lambda_timeout_seconds: float = 900.0


CRASHES = {
    "before the first reshard": Crash(kills=(Kill("reshard", 1),)),
    "between two reshards": Crash(kills=(Kill("reshard", 2),)),
    "while handing over": Crash(kills=(Kill("continue_later", 1),), lambda_timeout_seconds=SHORT_LAMBDA),
    "the hand-over lost": Crash(lost_continuations=1, lambda_timeout_seconds=SHORT_LAMBDA),
}


class Outcome(NamedTuple):
    replay: AutoscalerReplay
    run: PolicyRun
    lapse_minute: float  # minutes from the trace's start when the dead run's lease lapsed

    def first_minute_at_target(self) -> int | None:
        shards = self.run.ledger.shards
        return next((m for m in range(len(shards)) if shards[m] >= TARGET), None)

    def refused_after(self, minute: int) -> float:
        return sum(self.run.ledger.refused_bytes[minute:])


def replay(crash: Crash, *, sweep: bool = True, rearm_fails: bool = False, step: int = STEP_MINUTE) -> Outcome:
    """The trace with `crash`; with `rearm_fails`, every SetAlarmState before the lease lapses is refused (a
    throttled or denied call), so no refusal in between re-arms the alarm: only the sweep is left."""
    logging.getLogger("autoscaler").setLevel(logging.CRITICAL)  # thousands of invocations; restored by caplog
    opts = ReplayOptions(
        kills=crash.kills,
        lost_continuations=crash.lost_continuations,
        lambda_timeout_seconds=crash.lambda_timeout_seconds,
        sweep_every_seconds=ALARM_SWEEP_SECONDS if sweep else None,
    )
    tr = trace(step)
    r = AutoscalerReplay(tr, loads(step), CONFIG, "s", opts)
    if rearm_fails:
        set_ok = r.alarms.set_ok
        lapse: list[float] = []

        def refused_until_the_lease_lapses(names: Any, reason: str) -> None:
            if not r.deaths:
                return set_ok(names, reason)  # before the crash: the first run's own alarm handling
            if not lapse:
                lapse.append(r.deaths[0].lease_until or 0.0)
            if r.clock.now() <= lapse[0]:
                raise AwsCallFailed("SetAlarmState failed (Throttling)")
            return set_ok(names, reason)

        r.alarms.set_ok = refused_until_the_lease_lapses  # type: ignore[method-assign]
    run = r.run()
    assert r.deaths, "the crash never happened: the scenario no longer reaches its kill point"
    lease = r.deaths[0].lease_until
    assert lease is not None, "the dead run held no lock"
    return Outcome(r, run, (lease - tr.start) / 60)


def test_uninterrupted_the_run_reaches_its_target_a_few_minutes_after_the_step(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = AutoscalerReplay(trace(), LOADS, CONFIG, "s", ReplayOptions())
    run = r.run()
    shards = run.ledger.shards
    reached = next(m for m in range(len(shards)) if shards[m] >= TARGET)
    assert shards[-1] == TARGET and STEP_MINUTE < reached <= STEP_MINUTE + RUN_SECONDS / 60 + 3, reached
    assert sum(run.ledger.refused_bytes[reached:]) == 0
    assert r.deaths == []


# The step at minutes 60..64 puts the lease's lapse at every phase of the 5-minute sweep, the worst (a lapse just
# after a sweep) included.
@pytest.mark.parametrize("step", range(STEP_MINUTE, STEP_MINUTE + ALARM_SWEEP_SECONDS // 60))
@pytest.mark.parametrize("rearm_fails", [False, True], ids=["as deployed", "every re-arm refused until the lapse"])
@pytest.mark.parametrize("name", list(CRASHES))
def test_a_crash_anywhere_reaches_the_target_within_the_bound_after_the_lease_lapses(
    name: str, rearm_fails: bool, step: int, caplog: pytest.LogCaptureFixture
) -> None:
    got = replay(CRASHES[name], rearm_fails=rearm_fails, step=step)
    reached = got.first_minute_at_target()
    assert reached is not None, f"{name}: never reached {TARGET} shards ({got.run.activity.notes})"
    after_lapse = reached * 60 - got.lapse_minute * 60
    assert after_lapse <= RECOVERY_BOUND, (
        f"{name}: {TARGET} shards {after_lapse:.0f} s after the lease lapsed (bound {RECOVERY_BOUND} s); "
        f"{got.run.activity.notes}"
    )
    assert got.refused_after(reached) == 0, f"{name}: writes still refused after reaching {TARGET}"
    assert max(got.run.ledger.shards) <= CONFIG.streams[0].max_shards
    if rearm_fails:  # the alarm was left in ALARM with nothing to notify: the sweep is what re-armed it
        assert any(n.startswith("sweep re-armed") for n in got.run.activity.notes), got.run.activity.notes


@pytest.mark.parametrize(
    ("name", "stuck_at"),
    [
        ("before the first reshard", 2),
        ("between two reshards", 4),
        ("while handing over", 8),
        ("the hand-over lost", 8),
    ],
)
def test_without_the_sweep_a_crash_whose_re_arms_failed_leaves_the_stream_short_for_hours(
    name: str, stuck_at: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The defect the sweep fixes (issue 12 §1): with every re-arm in the lease refused and no sweep, no
    notification ever comes again. The stream keeps the count the crash left it at to the trace's end, 9 h later:
    on 2 or 4 shards refusing writes all along (4.8 shards of demand); on 8 without the headroom of 10."""
    got = replay(CRASHES[name], sweep=False, rearm_fails=True)
    shards = got.run.ledger.shards
    # from 3 min after the crash on: an UpdateShardCount the dead run made before it died completes within 120 s
    settled = int((got.replay.deaths[0].at - got.replay.trace.start) // 60) + 3
    assert set(shards[settled:]) == {stuck_at}, got.run.activity.notes
    assert (got.refused_after(len(LOADS) - 60) > 0) == (stuck_at < 4.8)
