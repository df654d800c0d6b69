"""The commands that act on streams, and their plans: scale-up, scale-down, scale (an operator's target),
capacity-mode; `plan …` and every --dry-run predict the run read-only, with the run's reason codes.

Exit codes (cli/common.py): a refused action (cooldown, lock held, disabled, on-demand) exits 4, and so do its
--dry-run and its plan: they exit as the run would. The fleet commands (scale-down, capacity-mode without --stream)
refuse streams every run by design (a cooldown): only failures change their exit code then.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from autoscaler.cli import aws
from autoscaler.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    View,
    _run,
    command,
    current,
    emit,
    fail,
)
from autoscaler.config import AutoscalerConfig

StreamOpt = Annotated[str, typer.Option("--stream", "-s", help="a stream listed in the config")]
StreamsOpt = Annotated[list[str] | None, typer.Option("--stream", "-s", help="only these streams (repeatable)")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="predict the run, change nothing")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="list every operation")]

# skip_reason / reason codes that mean "refused": the action may not happen now, nothing is wrong with the input
REFUSED = frozenset({"cooldown", "lock-held", "disabled", "on-demand", "on_demand", "time-short", "unmanaged"})
BAD_INPUT = frozenset({"not-found", "not_found"})


def exit_code(outcome: str, reason: str | None) -> int:
    """One rule for every result row: failed → 1, skipped for a refusal → 4, for a missing stream → 2, else 0."""
    if outcome == "failed":
        return EXIT_FAILED
    if outcome == "skipped":
        if reason in BAD_INPUT:
            return EXIT_BAD_INPUT
        if reason == "lock-unavailable":
            return EXIT_FAILED
        return EXIT_REFUSED
    return EXIT_OK


def worst(codes: Sequence[int]) -> int:
    """Several streams: a failure outranks bad input, which outranks a refusal."""
    for code in (EXIT_FAILED, EXIT_BAD_INPUT, EXIT_REFUSED):
        if code in codes:
            return code
    return EXIT_OK


def _finish(payload: dict[str, Any], view: View, code: int) -> None:
    emit({**payload, "exit_code": code}, view)
    if code:
        raise typer.Exit(code)


# -- one stream: scale-up and scale -----------------------------------------------------------------------------------


def _up_row(result: Any) -> dict[str, Any]:
    fields: dict[str, Any] = result.log_fields()
    plan = result.plan
    fields["peak_utilisation"] = round(plan.utilisation.peak, 4) if plan and plan.utilisation else None
    fields["mean_utilisation"] = round(plan.utilisation.mean, 4) if plan and plan.utilisation else None
    return fields


def _up_view(title: str, f: dict[str, Any], *, planned: bool) -> View:
    if not planned:
        utilisation = "not read: refused before planning"
    elif f["peak_utilisation"] is None:
        utilisation = "no datapoints in the lookback"
    else:
        utilisation = f"{f['peak_utilisation']:.0%} / {f['mean_utilisation']:.0%}"
    rows: list[Sequence[object]] = [
        ("outcome", f["outcome"] + (f" ({f['skip_reason']})" if f["skip_reason"] else "")),
        ("shards", f"{f['current']} -> {f['target']}" if planned else "-"),
        ("reason", f"{f['reason']}: {f['decision']}" if planned else "-"),
        ("method", f"{f['method']}: {f['method_reason']}" if planned and f["method"] else "-"),
        ("peak / mean utilisation", utilisation),
        ("operations", "\n".join(op["description"] for op in f["operations"]) or "none"),
        ("detail", f["detail"]),
    ]
    return View(title, ("field", "value"), rows)


def _scale_up_result(cfg: AutoscalerConfig, request: Any, dry_run: bool) -> None:
    from autoscaler.app.scale_up import ScaleUpService

    svc = ScaleUpService(**aws.ports(cfg))
    if dry_run:
        result = _run(lambda: svc.dry_run(request))
    else:
        from autoscaler.adapters.runtime import FixedBudget

        result = _run(lambda: svc.scale_up(request, FixedBudget(aws.CLI_BUDGET_SECONDS)))
        _notify_up(result)
    row = _up_row(result)
    title = f"{current().command} {result.stream}" + (" (dry run: nothing changed)" if dry_run else "")
    code = exit_code(row["outcome"], row["skip_reason"])
    _finish({"dry_run": dry_run, "streams": [row]}, _up_view(title, row, planned=result.plan is not None), code)


def _notify_up(result: Any) -> None:
    from autoscaler.adapters.aws.notify import up_notice
    from autoscaler.app.scale_up import Outcome

    if result.outcome is not Outcome.SCALED or result.plan is None:
        return
    notifier = aws.notifier()
    if notifier is not None:
        p = result.plan
        notifier.notify(
            *up_notice(
                result.stream,
                result.before,
                result.after,
                reason=p.decision,
                seconds=0,
                readers=p.for_readers,
                note=" (operator, from the CLI)",
            )
        )


def plan_scale_up(stream: StreamOpt) -> None:
    """Read the stream, its metrics and its lock; print the scale-up decision, its reason and the operations, or why
    the run would be skipped now. Changes nothing."""
    from autoscaler.app.scale_up import ScaleUpRequest
    from autoscaler.core.model import TriggerKind

    cfg = aws.load()
    aws.check_stream(cfg, stream)
    _scale_up_result(cfg, ScaleUpRequest(stream, TriggerKind.OPERATOR, source="cli"), dry_run=True)


def scale_up(stream: StreamOpt, dry_run: DryRunOpt = False) -> None:
    """Scale a stream up now, as if its alarm fired: sized from its metrics, under the same cooldown lock. For an
    explicit count use `scale --to N`."""
    from autoscaler.app.scale_up import ScaleUpRequest
    from autoscaler.core.model import TriggerKind

    cfg = aws.load()
    aws.check_stream(cfg, stream)
    _scale_up_result(cfg, ScaleUpRequest(stream, TriggerKind.OPERATOR, source="cli"), dry_run)


def scale(
    stream: StreamOpt,
    to: Annotated[int, typer.Option("--to", help="the shard count to reach, from min_shards to max_shards")],
    reason: Annotated[str, typer.Option("--reason", help="why (logged and in the notification)")],
    dry_run: DryRunOpt = False,
) -> None:
    """Scale a stream to an explicit count now, for incidents: under its lock (a held lock refuses, exit 4; a
    cooldown does not, and is set after), within its bounds, notified like the autoscaler's own actions."""
    cfg = aws.load()
    aws.check_stream(cfg, stream)
    sc = cfg.stream(stream)
    assert sc is not None
    if not sc.min_shards <= to <= sc.max_shards:
        fail(
            EXIT_BAD_INPUT,
            "out-of-bounds",
            f"--to {to} is outside {stream}'s [min_shards, max_shards] = [{sc.min_shards}, {sc.max_shards}] in "
            f"{cfg.source}; change the bounds there first if the incident needs it",
        )
    if not reason.strip():
        fail(EXIT_BAD_INPUT, "no-reason", "--reason must say why (it is logged and sent with the notification)")
    if not sc.enabled:
        fail(EXIT_REFUSED, "disabled", f"{stream} has enabled: false in {cfg.source}: the autoscaler leaves it alone")
    ports = aws.ports(cfg)
    from autoscaler.core.model import StreamMode

    if _run(lambda: ports["kinesis"].describe(stream)).mode is StreamMode.ON_DEMAND:  # either direction: AWS scales it
        fail(EXIT_REFUSED, "on-demand", f"{stream} is in ON_DEMAND mode: AWS scales it; switch it to PROVISIONED first")
    open_now = len(_run(lambda: ports["kinesis"].list_open_shards(stream)))
    if to > open_now:
        from autoscaler.app.scale_up import ScaleUpRequest
        from autoscaler.core.model import TriggerKind

        request = ScaleUpRequest(stream, TriggerKind.OPERATOR, source="cli", target=to, operator_reason=reason)
        _scale_up_result(cfg, request, dry_run)
        return
    if to == open_now:
        row = {
            "stream": stream,
            "outcome": "noop",
            "current": open_now,
            "target": to,
            "after": open_now,
            "ops": [],
            "ops_done": [],
            "operations": [],
            "reason": "operator",
            "decision": f"{open_now} open shards already",
            "detail": "nothing to do",
            "dry_run": dry_run,
            "skip_reason": None,
        }
        view = View(f"scale {stream}", ("field", "value"), [("outcome", "noop"), ("shards", f"{open_now} already")])
        _finish({"dry_run": dry_run, "streams": [row]}, view, EXIT_OK)
        return
    from autoscaler.app.scale_down import ScaleDownService

    svc = ScaleDownService(**ports)
    if dry_run:
        result = _run(lambda: svc.plan_to(stream, to, reason))
    else:
        from autoscaler.adapters.runtime import FixedBudget

        result = _run(lambda: svc.scale_to(stream, to, reason, FixedBudget(aws.CLI_BUDGET_SECONDS)))
        _notify_down([result])
    _fleet_out([result], dry_run=dry_run, title=f"scale {stream}", verbose=True, named=True)


# -- the fleet: scale-down --------------------------------------------------------------------------------------------


def _notify_down(results: Sequence[Any]) -> None:
    from autoscaler.adapters.aws.notify import summary
    from autoscaler.app.scale_down import StreamOutcome

    merged = [r for r in results if r.outcome is StreamOutcome.MERGED and r.decision is not None]
    notifier = aws.notifier() if merged else None
    for r in merged if notifier else ():
        d = r.decision
        notifier.notify(  # type: ignore[union-attr]
            f"kinesis-autoscaler: {r.stream} scaled down {d.current} -> {r.after}",
            summary(r.stream, "down", d.current, r.after, reason=d.message, seconds=0) + " (from the CLI)",
        )


def _fleet_out(results: Sequence[Any], *, dry_run: bool, title: str, verbose: bool, named: bool) -> None:
    rows = [r.log_fields() for r in results]
    view = View(
        title + (" (dry run: nothing changed)" if dry_run else ""),
        ("stream", "outcome", "shards", "24 h peak", "24 h mean", "decision", "merges"),
    )
    for r in rows:
        peak = f"{r['peak_utilisation']:.0%}" if r["peak_utilisation"] is not None else "-"
        mean = f"{r['mean_utilisation']:.0%}" if r["mean_utilisation"] is not None else "-"
        shards = f"{r['current']} -> {r['after'] or r['target']}" if r["current"] else "-"
        ops = r["ops_done"] or r["ops"]
        merges = "\n".join(ops) if verbose else (f"{len(ops)}" if ops else "-")
        why = f"{r['reason']}: {r['decision'] or r['detail']}" if r["reason"] else r["detail"]
        if r["detail"] and r["decision"] and r["detail"] != r["decision"]:
            why += f" ({r['detail']})"
        view.rows.append((r["stream"], r["outcome"], shards, peak, mean, why, merges))
    view.notes.append(
        "24 h peak and mean: of the stream's effective capacity (an uneven layout fills at its widest shard), as the "
        "scale-down decides and `status` shows"
    )
    # the fleet's own run skips streams in cooldown every time: a refusal is an error only for streams named
    codes = [exit_code(r["outcome"], r["reason"]) for r in rows]
    code = worst(codes) if named else (EXIT_FAILED if EXIT_FAILED in codes else EXIT_OK)
    _finish({"dry_run": dry_run, "streams": rows}, view, code)


def _down(stream: list[str] | None, dry_run: bool, verbose: bool) -> None:
    from autoscaler.app.scale_down import ScaleDownService

    cfg = aws.load()
    for name in stream or ():
        aws.check_stream(cfg, name)
    svc = ScaleDownService(**aws.ports(cfg))
    if dry_run:
        results = _run(lambda: svc.dry_run(stream or None))
    else:
        from autoscaler.adapters.runtime import FixedBudget

        results = list(_run(lambda: svc.run(FixedBudget(aws.CLI_BUDGET_SECONDS), names=stream or None)).results)
        _notify_down(results)
    _fleet_out(results, dry_run=dry_run, title=current().command, verbose=verbose, named=bool(stream))


def plan_scale_down(stream: StreamsOpt = None, verbose: VerboseOpt = False) -> None:
    """For each stream: the 24 h peak and mean utilisation, the scale-down decision and its reason, the merges, and
    whether the run would be skipped now (cooldown, lock, UpdateShardCount quota). Changes nothing."""
    _down(stream, True, verbose)


def scale_down(stream: StreamsOpt = None, dry_run: DryRunOpt = False, verbose: VerboseOpt = False) -> None:
    """Run the scheduled scale-down now (the same code path as the Lambda); --dry-run changes nothing."""
    _down(stream, dry_run, verbose)


# -- capacity modes ---------------------------------------------------------------------------------------------------


def _mode_service(cfg: AutoscalerConfig) -> Any:
    """The capacity-mode use case with the Lambda's estimator: each stream's CloudWatch history replayed."""
    from autoscaler.adapters.aws.history import fetch_history
    from autoscaler.app.capacity_mode import CapacityModeService
    from autoscaler.simulator.estimator import HistoryEstimator

    ports = aws.ports(cfg)
    cloudwatch = ports["metrics"].client
    estimator = HistoryEstimator(
        lambda stream, days, now: fetch_history(cloudwatch, stream, days=days, now=now),
        alarm_name_prefix=cfg.alarm_name_prefix,
    )
    return CapacityModeService(estimator=estimator, **ports)


def _modes_out(results: Any, *, dry_run: bool, title: str, named: bool) -> None:
    rows = [r.log_fields() for r in results]
    view = View(
        title + (" (dry run: nothing changed)" if dry_run else ""),
        ("stream", "capacity_mode", "outcome", "mode", "provisioned (30 d)", "on-demand (30 d)", "decision"),
    )

    def figures(side: dict[str, Any] | None) -> str:
        return f"${side['cost_usd']:,.2f}, {side['throttled']:.3%} throttled" if side else "-"

    for r in rows:
        e = r["evidence"]
        mode = r["current"] or "-"
        if r["target"] and r["target"] != r["current"]:
            mode = f"{r['current']} -> {r['target']}"
        favoured = f" (evidence favours {e['favoured']}, {e['history_days']:g} days)" if e else ""
        why = f"{r['reason']}: {r['decision']}" if r["reason"] else r["detail"]
        if r["detail"].startswith("would be skipped"):
            why += f"; {r['detail']}"
        view.rows.append(
            (
                r["stream"],
                r["capacity_mode"] or "-",
                r["outcome"],
                mode,
                figures(e and e["provisioned"]),
                figures(e and e["on_demand"]),
                why + favoured,
            )
        )
    # a named stream the run would not switch now (held lock, disabled, time) is a refusal, as for the other commands
    codes = [
        EXIT_FAILED if r["outcome"] == "failed" else EXIT_REFUSED if named and r["outcome"] == "skipped" else EXIT_OK
        for r in rows
    ]
    _finish({"dry_run": dry_run, "streams": rows}, view, worst(codes))


def _notify_modes(results: Sequence[Any]) -> None:
    from autoscaler.app.capacity_mode import ModeOutcome

    switched = [r for r in results if r.outcome is ModeOutcome.SWITCHED and r.decision is not None]
    notifier = aws.notifier() if switched else None
    for r in switched if notifier else ():
        d = r.decision
        notifier.notify(  # type: ignore[union-attr]
            f"kinesis-autoscaler: {r.stream} capacity mode {d.current.value} -> {d.target.value}",
            f"{r.stream} switched from {d.current.value} to {d.target.value} ({r.after} open shards), from the "
            f"CLI: {d.message}",
        )


def plan_capacity_mode(stream: StreamsOpt = None) -> None:
    """For every stream: its last 30 days replayed under each mode (cost, throttled share), the mode the evidence
    favours, and what the hourly capacity-mode run would decide for its capacity_mode, with the reason."""
    cfg = aws.load()
    for name in stream or ():
        aws.check_stream(cfg, name)
    svc = _mode_service(cfg)
    results = _run(lambda: svc.dry_run(stream or None, evidence_for_all=True))
    _modes_out(results, dry_run=True, title="capacity-mode plan", named=bool(stream))


def capacity_mode(stream: StreamsOpt = None, dry_run: DryRunOpt = False) -> None:
    """Run the hourly capacity-mode decisions now (the same code path as the Lambda) and switch the streams they
    move; --dry-run changes nothing."""
    cfg = aws.load()
    for name in stream or ():
        aws.check_stream(cfg, name)
    svc = _mode_service(cfg)
    if dry_run:
        results = _run(lambda: svc.dry_run(stream or None))
    else:
        from autoscaler.adapters.runtime import FixedBudget

        results = _run(lambda: svc.run(FixedBudget(aws.CLI_BUDGET_SECONDS), names=stream or None))
        _notify_modes(results)
    _modes_out(results, dry_run=dry_run, title="capacity-mode", named=bool(stream))


def register(app: typer.Typer, plan_app: typer.Typer) -> None:
    command(plan_app, "scale-up", label="plan scale-up")(plan_scale_up)
    command(plan_app, "scale-down", label="plan scale-down")(plan_scale_down)
    command(plan_app, "capacity-mode", label="plan capacity-mode")(plan_capacity_mode)
    command(app, "scale-up")(scale_up)
    command(app, "scale-down")(scale_down)
    command(app, "scale")(scale)
    command(app, "capacity-mode")(capacity_mode)
