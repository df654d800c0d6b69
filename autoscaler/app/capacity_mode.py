"""The capacity-mode use case (issue 13): decide each managed stream's mode and switch it, one action under its lock.

Runs in the fleet job's function on its own schedule (CapacityModeSchedule, hourly: the cadence the simulator's
figures were measured at, simulator/auto.py). Not on the alarm path: the evidence is a 30-day window, which one
burst moves by minutes, and the scale-up function must stay small and fast (it never imports the simulator).

Per stream, in one pass:
    capacity_mode provisioned → nothing read, nothing done (the run skips them; the plan says so)
    read: ListStreams once (mode, status), DescribeLimits once (the on-demand quota, only when a stream could go
          on-demand), the lock item (our recorded switches), the estimator (auto only: the history replayed)
    decide: core/capacity_mode.py decide_mode, with its reason
    act: acquire (no cooldown blocks a switch; a held lock does) → re-read the stream under the lock → renew the
         lease → UpdateStreamMode → record the switch → wait for ACTIVE → finish (alarms retuned to the open count and
         reset to OK, the action recorded, no cooldown) — lifecycle.py's StreamRun, as every use case.

The on-demand quota is reserved as the run goes: two streams never take the account's last on-demand slot.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from autoscaler.app.lifecycle import StreamUseCase
from autoscaler.app.ports import Budget, EstimatorPort
from autoscaler.config import StreamConfig
from autoscaler.core.capacity_mode import (
    ModeDecision,
    ModeEvidence,
    ModeInput,
    ModePolicy,
    decide_mode,
    favoured_mode,
)
from autoscaler.core.defaults import CONTINUATION_SAFETY_SECONDS
from autoscaler.core.errors import (
    AutoscalerError,
    CooldownActive,
    LockHeld,
    LockUnavailable,
    ModeSwitchRefused,
    StreamBusy,
    StreamNotFound,
    TraceError,
)
from autoscaler.core.model import Direction, OnDemandPricing, StreamDescription, StreamMode

log = logging.getLogger("autoscaler.capacity_mode")


class ModeOutcome(enum.StrEnum):
    SWITCHED = "switched"  # UpdateStreamMode accepted; alarms retuned; lock released
    KEPT = "kept"  # the decision was to stay (with its reason)
    SKIPPED = "skipped"  # not decided or not acted on: provisioned by config, disabled, not found, lock held, time
    FAILED = "failed"
    DRY_RUN = "dry_run"  # would switch


class ModeResult(NamedTuple):
    stream: str
    outcome: ModeOutcome
    decision: ModeDecision | None
    detail: str
    policy: str = ""  # the config's capacity_mode
    after: int | None = None  # open shards after a switch
    evidence: ModeEvidence | None = None  # the history replayed under each mode (auto, or a report of every stream)
    dry_run: bool = False  # a prediction (plan, --dry-run), whatever its outcome

    def log_fields(self) -> dict[str, Any]:
        d = self.decision
        return {
            "stream": self.stream,
            "outcome": self.outcome.value,
            "capacity_mode": self.policy or None,
            "current": d.current.value if d else None,
            "target": d.target.value if d else None,
            "reason": d.reason.value if d else None,
            "decision": d.message if d else None,
            "after": self.after,
            "detail": self.detail,
            **_evidence_fields(self.evidence),
            "dry_run": self.dry_run or self.outcome is ModeOutcome.DRY_RUN,
        }


def _evidence_fields(e: ModeEvidence | None) -> dict[str, Any]:
    if e is None:
        return {"evidence": None}
    return {
        "evidence": {
            "history_days": round(e.history_seconds / 86_400, 2),
            "provisioned": {
                "cost_usd": round(e.provisioned.cost_usd, 2),
                "throttled": e.provisioned.throttled_fraction,
            },
            "on_demand": {"cost_usd": round(e.on_demand.cost_usd, 2), "throttled": e.on_demand.throttled_fraction},
            "favoured": favoured_mode(e).value,
        }
    }


# Streams one hourly invocation can be counted on to decide: ~1.3 s of replay each on a 3 GHz core, and a 256 MB
# Lambda has about a seventh of a vCPU (1,769 MB = one), so ~9 s each and ~100 in 900 s.
STREAMS_PER_RUN = 100


def rotation(names: Sequence[str], now: float, step: int = STREAMS_PER_RUN) -> list[str]:
    """The streams in config order, started `step` further on each hour: with at least `step` decided per run,
    every stream is reached within ceil(n / step) hours. e.g. 250 streams: hour h starts at (h × 100) mod 250."""
    if not names:
        return []
    start = (int(now // 3600) * step) % len(names)
    return [*names[start:], *names[:start]]


class CapacityModeService(StreamUseCase):
    """Decide and switch the capacity mode of the streams whose config lets the autoscaler do it."""

    direction = Direction.MODE

    def __init__(self, *, estimator: EstimatorPort, **ports: Any) -> None:
        super().__init__(**ports)
        self.estimator = estimator
        self._pricing_read: OnDemandPricing | None = None

    def managed(self) -> tuple[str, ...]:
        """The streams the scheduled run looks at: enabled, with capacity_mode on-demand or auto."""
        return tuple(
            s.name for s in self.config.streams if s.enabled and s.capacity_mode != ModePolicy.PROVISIONED.value
        )

    # -- deciding (the plan, and the first half of a run) -------------------------------------------------------------

    def decide(
        self, names: Sequence[str], budget: Budget | None = None, *, evidence_for_all: bool = False
    ) -> list[ModeResult]:
        """Every named stream's decision, without acting: a switch is a DRY_RUN row. Reads only. With a budget, the
        streams not reached before time runs short are SKIPPED (the next run decides them). evidence_for_all: also
        replay the history of streams the config pins (provisioned, on-demand) and of disabled ones, to report which
        mode the evidence favours (the decision stays the config's)."""
        out: list[ModeResult] = []
        self._pricing_read = None  # the account's setting may have changed since the last run of this container

        def skip(name: str, why: str, policy: str = "") -> None:
            out.append(ModeResult(name, ModeOutcome.SKIPPED, None, why, policy))

        summaries: dict[str, StreamDescription] | None = None
        quota: list[int] | None = None  # [on-demand streams, limit], reserved as decisions go on-demand
        for name in names:
            cfg = self.config.stream(name)
            if cfg is None:
                skip(name, "not in the config: never touched")
                continue
            policy = ModePolicy(cfg.capacity_mode)
            why_not = (
                "enabled: false in the config"
                if not cfg.enabled
                else "capacity_mode: provisioned (never switched)"
                if policy is ModePolicy.PROVISIONED
                else None
            )
            if why_not is not None:
                evidence = self._report(cfg) if evidence_for_all else None
                out.append(ModeResult(name, ModeOutcome.SKIPPED, None, why_not, policy.value, evidence=evidence))
                continue
            if budget is not None and budget.remaining() < 2 * CONTINUATION_SAFETY_SECONDS:
                skip(name, "time short: the next run decides", policy.value)
                continue
            try:
                if summaries is None:
                    summaries = self.kinesis.describe_all()
                desc = summaries.get(name)
                if desc is None:
                    skip(name, "no such stream (ListStreams)", policy.value)
                    continue
                if quota is None and desc.mode is StreamMode.PROVISIONED:
                    quota = list(self.kinesis.on_demand_quota())
                out.append(self._decide_one(cfg, policy, desc, quota, evidence_for_all))
            except Exception as exc:  # one stream's trouble (history unreadable, table down) is its own row
                log.warning("capacity-mode decision failed", extra={"stream": name, "error": str(exc)})
                out.append(ModeResult(name, ModeOutcome.FAILED, None, f"{type(exc).__name__}: {exc}", policy.value))
        return out

    def _pricing(self) -> OnDemandPricing:
        """The account's on-demand pricing, read once per pass (DescribeAccountSettings). Unreadable: Standard,
        the dearer reading of on-demand — it can keep a stream provisioned that Advantage would have moved, never
        move one on a price the account does not pay."""
        if self._pricing_read is None:
            try:
                self._pricing_read = self.kinesis.on_demand_pricing()
            except Exception as exc:  # any failure to read it (an emulator without the call too): the safe reading
                log.warning("account settings unreadable: on-demand priced as Standard", extra={"error": str(exc)})
                self._pricing_read = OnDemandPricing.STANDARD
        return self._pricing_read

    def _report(self, cfg: StreamConfig) -> ModeEvidence | None:
        """The evidence for a report only: a stream without readable history has none (no error row for it)."""
        try:
            return self.estimator.estimate(cfg, self.clock.now(), self._pricing())
        except AutoscalerError as exc:
            log.info("no evidence for the report", extra={"stream": cfg.name, "error": str(exc)})
            return None

    def _decide_one(
        self,
        cfg: StreamConfig,
        policy: ModePolicy,
        desc: StreamDescription,
        quota: list[int] | None,
        evidence_for_all: bool = False,
    ) -> ModeResult:
        now = self.clock.now()
        try:
            state = self.cooldown.read(cfg.name)
        except LockUnavailable as exc:  # without our switch record, neither AWS's budget nor the dwell is known
            return ModeResult(cfg.name, ModeOutcome.FAILED, None, f"cannot read its switch record: {exc}", policy.value)
        evidence: ModeEvidence | None
        switches = state.mode_switches if state else ()
        # provisioned now, and our last switch put it there: the evidence says whether that move paid
        since = max(switches) if switches and desc.mode is StreamMode.PROVISIONED else None
        if policy is ModePolicy.AUTO:
            try:
                evidence = self.estimator.estimate(cfg, now, self._pricing(), since)
            except TraceError as exc:  # no datapoints at all (a new or idle stream): no evidence, not an error
                log.info("no history to judge by", extra={"stream": cfg.name, "error": str(exc)})
                evidence = None
        else:
            evidence = self._report(cfg) if evidence_for_all else None
        shards = None
        if desc.mode is StreamMode.ON_DEMAND and policy is ModePolicy.AUTO:
            shards = len(self.kinesis.list_open_shards(cfg.name))
        decision = decide_mode(
            ModeInput(
                cfg.name,
                desc.mode,
                evidence.provisioned if evidence else None,
                evidence.on_demand if evidence else None,
                evidence.history_seconds if evidence else 0.0,
                now,
                switches=switches,
                active=desc.status == "ACTIVE",
                on_demand_quota_free=quota is not None and quota[0] < quota[1],
                policy=policy,
                shards=shards,
                min_shards=cfg.min_shards,
                max_shards=cfg.max_shards,
                recent=evidence.recent if evidence else None,
            )
        )
        if not decision.switches:
            return ModeResult(cfg.name, ModeOutcome.KEPT, decision, decision.message, policy.value, evidence=evidence)
        if decision.target is StreamMode.ON_DEMAND and quota is not None:
            quota[0] += 1  # reserved: the next stream sees the slot taken
        return ModeResult(cfg.name, ModeOutcome.DRY_RUN, decision, decision.message, policy.value, evidence=evidence)

    def dry_run(self, names: Sequence[str] | None = None, *, evidence_for_all: bool = False) -> list[ModeResult]:
        """What `run` would do now, read-only: the decisions, and for each switch whether its lock would be free (a
        switch waits for no cooldown; a held lock or an unreadable table makes it wait for the next run)."""
        results = self.decide(names or self.config.names, evidence_for_all=evidence_for_all)
        return [self._predict(r) for r in results]

    def _predict(self, planned: ModeResult) -> ModeResult:
        if planned.outcome is not ModeOutcome.DRY_RUN:
            return planned._replace(dry_run=True)
        refused = self.would_refuse(planned.stream, ())
        if refused is None:
            return planned._replace(dry_run=True)
        return planned._replace(
            outcome=ModeOutcome.SKIPPED, detail=f"would be skipped: {refused}: the next run decides", dry_run=True
        )

    # -- the run ------------------------------------------------------------------------------------------------------

    def _warm(self, cfg: StreamConfig, planned: ModeResult) -> int | None:
        """Warm throughput for a switch to on-demand in an Advantage account: the history's one-minute peak write
        rate (MiB/s, rounded up), so the stream has what its history needed at once. None otherwise (Standard has no
        warm throughput; a configured on-demand stream has no history read)."""
        d, e = planned.decision, planned.evidence
        if d is None or d.target is not StreamMode.ON_DEMAND or e is None or not cfg.warm_on_switch:
            return None
        if self._pricing() is not OnDemandPricing.ADVANTAGE or e.peak_mibps <= 0:
            return None
        return max(1, math.ceil(e.peak_mibps))

    def run(self, budget: Budget, names: Sequence[str] | None = None) -> list[ModeResult]:
        """Decide, then switch each stream the decision moves. Never raises for one stream's trouble. The scheduled
        run (no names) starts at a different stream each hour (`rotation`), so a fleet larger than one invocation
        decides is covered in turn, never only its head."""
        results = self.decide(names or rotation(self.managed(), self.clock.now()), budget)
        return [self._switch_safely(r, budget) if r.outcome is ModeOutcome.DRY_RUN else r for r in results]

    def _switch_safely(self, planned: ModeResult, budget: Budget) -> ModeResult:
        try:
            return self._switch(planned, budget)
        except Exception as exc:  # one stream's trouble must not lose the others' switches
            log.exception("capacity-mode switch failed", extra={"stream": planned.stream})
            return planned._replace(outcome=ModeOutcome.FAILED, detail=f"{type(exc).__name__}: {exc}")

    def _switch(self, planned: ModeResult, budget: Budget) -> ModeResult:
        d = planned.decision
        cfg = self.config.stream(planned.stream)
        assert d is not None and cfg is not None
        run = self.start(cfg, budget)
        if run.time_short():
            return planned._replace(outcome=ModeOutcome.SKIPPED, detail="time short: the next run decides")
        try:
            run.acquire(())  # a mode switch waits for no cooldown; a run holding the lock makes it wait an hour
        except CooldownActive as exc:
            return planned._replace(outcome=ModeOutcome.SKIPPED, detail=f"{exc}: the next run decides")
        try:
            desc = self.kinesis.describe(cfg.name)  # under the lock: what the decision was made on may have moved
            if desc.mode is not d.current or desc.status != "ACTIVE":
                run.let_go()
                return planned._replace(
                    outcome=ModeOutcome.SKIPPED,
                    detail=f"changed since the decision ({desc.mode.value}, {desc.status}): the next run decides",
                )
            if d.target is StreamMode.PROVISIONED:  # on-demand may have grown it while earlier switches settled
                now_open = len(self.kinesis.list_open_shards(cfg.name))
                if not cfg.min_shards <= now_open <= cfg.max_shards:
                    run.let_go()
                    return planned._replace(
                        outcome=ModeOutcome.SKIPPED,
                        detail=f"{now_open} open shards now, outside [min_shards, max_shards] = "
                        f"[{cfg.min_shards}, {cfg.max_shards}]: kept on-demand",
                    )
            run.reassert()
            warm = self._warm(cfg, planned)
            try:
                warmed = self.kinesis.update_stream_mode(cfg.name, d.target, warm)
            except StreamBusy:
                # ResourceInUse: UPDATING since the re-read, or botocore's retry of our own call whose reply was
                # lost while AWS was already switching it. A switch AWS counts and we do not would let the next
                # decision spend a switch AWS has not got: when the stream shows the target or UPDATING, count it.
                after_call = self.kinesis.describe(cfg.name)
                if after_call.mode is d.target or after_call.status != "ACTIVE":
                    run.applied(f"capacity mode {d.current.value} -> {d.target.value} (uncertain)", mode_switch=True)
                raise
            if warm is not None and not warmed:
                log.warning("warm throughput refused; switched without it", extra={"stream": cfg.name, "mibps": warm})
            note = f" (warm throughput {warm} MiB/s)" if warmed else ""
            run.applied(f"capacity mode {d.current.value} -> {d.target.value}{note}", mode_switch=True)
            try:
                run.wait_until_active()
            except StreamBusy as exc:  # finish retunes for what is open; the switch itself is AWS's to complete
                log.warning("stream not ACTIVE after the switch", extra={"stream": cfg.name, "error": str(exc)})
            after = run.finish().after
        except ModeSwitchRefused as exc:  # a switch we did not record (the console, another tool) or the quota
            run.finish()
            return planned._replace(outcome=ModeOutcome.KEPT, detail=f"{exc}: kept {d.current.value}")
        except StreamBusy as exc:  # UPDATING at the call: counted above if it may have been our switch
            run.finish()
            counted = "; counted as a switch (it may have been ours)" if run.done else ""
            return planned._replace(outcome=ModeOutcome.SKIPPED, detail=f"{exc}{counted}: the next run decides")
        except LockHeld as exc:  # outlived its lease and another run took the lock: the stream is the holder's
            return planned._replace(outcome=ModeOutcome.FAILED, detail=f"{exc}; stopped, nothing switched")
        except StreamNotFound as exc:
            run.let_go()
            return planned._replace(outcome=ModeOutcome.FAILED, detail=f"stream vanished: {exc}")
        except BaseException:
            run.finish_after_error()
            raise
        return planned._replace(
            outcome=ModeOutcome.SWITCHED,
            detail=f"{d.current.value} -> {d.target.value}: {d.message}",
            after=after,
        )
