"""Operator CLI: plan, scale-up, scale-down, capacity-mode, status, doctor, create-streams, validate-config, simulate,
backtest.

The same service code path as the Lambda, on the standard AWS credential chain, region and AWS_ENDPOINT_URL.
Exit codes: 0 done, 1 the operation failed, 2 bad input (config, stream, arguments), 3 AWS unreachable/credentials.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from autoscaler.app.scale_up import Outcome, ScaleUpRequest, ScaleUpResult, ScaleUpService
from autoscaler.cli.common import _run, err, out
from autoscaler.cli.simulate import backtest_command, simulate_command
from autoscaler.config import CONFIG_ENV, DEFAULT_CONFIG_PATH, AutoscalerConfig, load_config
from autoscaler.core.errors import AutoscalerError, ConfigError
from autoscaler.core.model import TriggerKind
from autoscaler.events import Continuation

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Operate kinesis-autoscaler.")
plan_app = typer.Typer(no_args_is_help=True, help="Show what the autoscaler would do, changing nothing.")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"kinesis-autoscaler {version('kinesis-autoscaler')}")
        except PackageNotFoundError:  # run from a source tree that was never installed (`make venv` installs it)
            typer.echo("kinesis-autoscaler (not installed: version unknown)")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Operate kinesis-autoscaler."""


app.add_typer(plan_app, name="plan")

ConfigOpt = Annotated[
    str,
    typer.Option("--config", "-c", help="streams.yaml to use", envvar=CONFIG_ENV, show_default=True),
]
StreamOpt = Annotated[str, typer.Option("--stream", "-s", help="a stream listed in the config")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
TableOpt = Annotated[
    str,
    typer.Option(
        "--table", help="cooldown DynamoDB table (the stack's CooldownTableName output)", envvar="COOLDOWN_TABLE"
    ),
]
DEFAULT_TABLE = (
    "kinesis-autoscaler-cooldown"  # = autoscaler.adapters.aws.compose.DEFAULT_TABLE (not imported: botocore)
)
CLI_BUDGET_SECONDS = 900  # as a Lambda invocation: the lock's lease is this + 60 s, so a killed CLI frees the
# stream within ~16 min; work left over stops cleanly (alarms retuned, cooldown, release) and the operator re-runs


class _NoContinuation:
    """The CLI has no Lambda to hand work to: refusing makes the service stop cleanly (alarms retuned for what was
    done, cooldown set, lock released) and report what is left; the operator re-runs the command."""

    def continue_later(self, request: Continuation) -> None:
        towards = ", ".join(f"{h.stream} towards {h.target}" for h in request.handovers)
        raise AutoscalerError(
            "the CLI does not continue in the background; re-run to go on" + (f" ({towards})" if towards else "")
        )


def _load(config: str) -> AutoscalerConfig:
    try:
        return load_config(config)
    except ConfigError as exc:
        err.print(f"[red]config error:[/red] {exc}")
        raise typer.Exit(2) from None


def _ports(cfg: AutoscalerConfig, table: str) -> dict[str, Any]:
    """The adapters both use cases need, on clients from the standard AWS environment."""
    from botocore.exceptions import NoRegionError

    from autoscaler.adapters.aws.clients import build_clients
    from autoscaler.adapters.aws.compose import adapters
    from autoscaler.adapters.runtime import SystemClock

    try:
        clients = build_clients()
    except NoRegionError:
        err.print("[red]no AWS region:[/red] set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's region)")
        raise typer.Exit(3) from None
    return {**adapters(clients, SystemClock(), table=table), "config": cfg, "continuation": _NoContinuation()}


def _service(cfg: AutoscalerConfig, table: str) -> ScaleUpService:
    return ScaleUpService(**_ports(cfg, table))


def _check_stream(cfg: AutoscalerConfig, stream: str) -> None:
    if cfg.stream(stream) is None:
        known = ", ".join(cfg.names)
        err.print(f"[red]error:[/red] stream {stream!r} is not in {cfg.source} (managed: {known}); add it there first")
        raise typer.Exit(2)


def _print_result(result: ScaleUpResult, as_json: bool) -> None:
    fields = result.log_fields()
    plan = result.plan
    if plan is not None and plan.utilisation is not None:
        fields["peak_utilisation"] = round(plan.utilisation.peak, 4)
        fields["mean_utilisation"] = round(plan.utilisation.mean, 4)
    if as_json:
        out.print_json(json.dumps(fields))
        return
    table = Table(title=f"scale-up {result.stream}" + (" (dry run: nothing changed)" if result.dry_run else ""))
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = [
        ("outcome", result.outcome.value),
        ("shards", f"{fields['current']} -> {fields['target']}" if plan else "-"),
        ("reason", f"{fields['reason']}: {fields['decision']}" if plan else "-"),
        ("method", f"{fields['method']}: {fields['method_reason']}" if plan and plan.method else "-"),
        (
            "peak / mean utilisation",
            f"{fields.get('peak_utilisation', 0):.0%} / {fields.get('mean_utilisation', 0):.0%}"
            if "peak_utilisation" in fields
            else "no datapoints",
        ),
        ("operations", "\n".join(fields["ops"]) or "none"),
        ("detail", result.detail),
    ]
    for key, value in rows:
        table.add_row(key, str(value))
    out.print(table)


@plan_app.command("scale-up")
def plan_scale_up(
    stream: StreamOpt,
    config: ConfigOpt = str(DEFAULT_CONFIG_PATH),
    table: TableOpt = DEFAULT_TABLE,
    as_json: JsonOpt = False,
) -> None:
    """Read the stream and its metrics, print the scale-up decision, its reason and the operations."""
    cfg = _load(config)
    _check_stream(cfg, stream)
    svc = _service(cfg, table)
    result = _run(lambda: svc.dry_run(ScaleUpRequest(stream, TriggerKind.OPERATOR, source="cli")))
    _print_result(result, as_json)


@app.command("scale-up")
def scale_up(
    stream: StreamOpt,
    config: ConfigOpt = str(DEFAULT_CONFIG_PATH),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="plan only, change nothing")] = False,
    table: TableOpt = DEFAULT_TABLE,
    as_json: JsonOpt = False,
) -> None:
    """Scale a stream up now, as if its alarm fired (under the same cooldown lock). --dry-run changes nothing."""
    cfg = _load(config)
    _check_stream(cfg, stream)
    svc = _service(cfg, table)
    request = ScaleUpRequest(stream, TriggerKind.OPERATOR, source="cli")
    if dry_run:
        result = _run(lambda: svc.dry_run(request))
    else:
        from autoscaler.adapters.runtime import FixedBudget

        result = _run(lambda: svc.scale_up(request, FixedBudget(CLI_BUDGET_SECONDS)))
    _print_result(result, as_json)
    if result.outcome is Outcome.FAILED:
        raise typer.Exit(1)


def _down_service(cfg: AutoscalerConfig, table: str) -> Any:
    from autoscaler.app.scale_down import ScaleDownService

    return ScaleDownService(**_ports(cfg, table))


def _print_fleet(results: Any, as_json: bool, title: str, verbose: bool) -> None:
    rows = [r.log_fields() for r in results]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(title=title)
    for col in ("stream", "outcome", "shards", "24 h peak", "24 h mean", "decision", "merges"):
        table.add_column(col)
    for r in rows:
        peak = f"{r['peak_utilisation']:.0%}" if r["peak_utilisation"] is not None else "-"
        mean = f"{r['mean_utilisation']:.0%}" if r["mean_utilisation"] is not None else "-"
        shards = f"{r['current']} -> {r['after'] or r['target']}" if r["current"] else "-"
        ops = r["ops_done"] or r["ops"]
        merges = "\n".join(ops) if verbose else (f"{len(ops)}" if ops else "-")
        table.add_row(
            r["stream"], r["outcome"], shards, peak, mean, f"{r['reason']}: {r['decision'] or r['detail']}", merges
        )
    out.print(table)


@plan_app.command("scale-down")
def plan_scale_down(
    stream: Annotated[list[str] | None, typer.Option("--stream", "-s", help="only these streams (repeatable)")] = None,
    config: ConfigOpt = str(DEFAULT_CONFIG_PATH),
    table: TableOpt = DEFAULT_TABLE,
    as_json: JsonOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="list every merge")] = False,
) -> None:
    """For each stream: the 24 h peak and mean utilisation, the scale-down decision, its reason and the merges."""
    cfg = _load(config)
    for name in stream or ():
        _check_stream(cfg, name)
    svc = _down_service(cfg, table)
    results = _run(lambda: svc.dry_run(stream or None))
    _print_fleet(results, as_json, "scale-down plan (dry run: nothing changed)", verbose)


@app.command("scale-down")
def scale_down(
    stream: Annotated[list[str] | None, typer.Option("--stream", "-s", help="only these streams (repeatable)")] = None,
    config: ConfigOpt = str(DEFAULT_CONFIG_PATH),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="plan only, change nothing")] = False,
    table: TableOpt = DEFAULT_TABLE,
    as_json: JsonOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="list every merge")] = False,
) -> None:
    """Run the scheduled scale-down now (the same code path as the Lambda); --dry-run changes nothing."""
    cfg = _load(config)
    for name in stream or ():
        _check_stream(cfg, name)
    svc = _down_service(cfg, table)
    if dry_run:
        results = _run(lambda: svc.dry_run(stream or None))
        _print_fleet(results, as_json, "scale-down plan (dry run: nothing changed)", verbose)
        return
    from autoscaler.adapters.runtime import FixedBudget
    from autoscaler.app.scale_down import StreamOutcome

    run = _run(lambda: svc.run(FixedBudget(CLI_BUDGET_SECONDS), names=stream or None))
    _print_fleet(run.results, as_json, "scale-down", verbose)
    if any(r.outcome is StreamOutcome.FAILED for r in run.results):
        raise typer.Exit(1)


def _mode_service(cfg: AutoscalerConfig, table: str) -> Any:
    """The capacity-mode use case with the Lambda's estimator: each stream's CloudWatch history replayed."""
    from autoscaler.adapters.aws.history import fetch_history
    from autoscaler.app.capacity_mode import CapacityModeService
    from autoscaler.simulator.estimator import HistoryEstimator

    ports = _ports(cfg, table)
    cloudwatch = ports["metrics"].client
    estimator = HistoryEstimator(
        lambda stream, days, now: fetch_history(cloudwatch, stream, days=days, now=now),
        alarm_name_prefix=cfg.alarm_name_prefix,
    )
    return CapacityModeService(estimator=estimator, **ports)


def _print_modes(results: Any, as_json: bool, title: str) -> None:
    rows = [r.log_fields() for r in results]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    t = Table(title=title)
    for col in ("stream", "capacity_mode", "outcome", "mode", "provisioned (30 d)", "on-demand (30 d)", "decision"):
        t.add_column(col)

    def figures(side: dict[str, Any] | None) -> str:
        return f"${side['cost_usd']:,.2f}, {side['throttled']:.3%} throttled" if side else "-"

    for r in rows:
        e = r["evidence"]
        mode = r["current"] or "-"
        if r["target"] and r["target"] != r["current"]:
            mode = f"{r['current']} -> {r['target']}"
        favoured = f" (evidence favours {e['favoured']}, {e['history_days']:g} days)" if e else ""
        why = f"{r['reason']}: {r['decision']}" if r["reason"] else r["detail"]
        t.add_row(
            r["stream"],
            r["capacity_mode"] or "-",
            r["outcome"],
            mode,
            figures(e and e["provisioned"]),
            figures(e and e["on_demand"]),
            why + favoured,
        )
    out.print(t)


@plan_app.command("capacity-mode")
def plan_capacity_mode(
    stream: Annotated[list[str] | None, typer.Option("--stream", "-s", help="only these streams (repeatable)")] = None,
    config: ConfigOpt = str(DEFAULT_CONFIG_PATH),
    table: TableOpt = DEFAULT_TABLE,
    as_json: JsonOpt = False,
) -> None:
    """For every stream: its last 30 days replayed under each mode (cost, throttled share), the mode the evidence
    favours, and what the hourly capacity-mode run would decide for its capacity_mode, with the reason."""
    cfg = _load(config)
    for name in stream or ():
        _check_stream(cfg, name)
    svc = _mode_service(cfg, table)
    results = _run(lambda: svc.dry_run(stream or None, evidence_for_all=True))
    _print_modes(results, as_json, "capacity-mode plan (dry run: nothing changed)")


@app.command("capacity-mode")
def capacity_mode(
    stream: Annotated[list[str] | None, typer.Option("--stream", "-s", help="only these streams (repeatable)")] = None,
    config: ConfigOpt = str(DEFAULT_CONFIG_PATH),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="plan only, change nothing")] = False,
    table: TableOpt = DEFAULT_TABLE,
    as_json: JsonOpt = False,
) -> None:
    """Run the hourly capacity-mode decisions now (the same code path as the Lambda) and switch the streams they
    move; --dry-run changes nothing."""
    cfg = _load(config)
    for name in stream or ():
        _check_stream(cfg, name)
    svc = _mode_service(cfg, table)
    if dry_run:
        results = _run(lambda: svc.dry_run(stream or None))
        _print_modes(results, as_json, "capacity-mode plan (dry run: nothing changed)")
        return
    from autoscaler.adapters.runtime import FixedBudget
    from autoscaler.app.capacity_mode import ModeOutcome

    results = _run(lambda: svc.run(FixedBudget(CLI_BUDGET_SECONDS), names=stream or None))
    _print_modes(results, as_json, "capacity-mode")
    if any(r.outcome is ModeOutcome.FAILED for r in results):
        raise typer.Exit(1)


@app.command("status")
def status(
    config: ConfigOpt = str(DEFAULT_CONFIG_PATH),
    table: TableOpt = DEFAULT_TABLE,
    as_json: JsonOpt = False,
) -> None:
    """One row per managed stream: mode, shards vs bounds, peak utilisation (1 h, 24 h), alarms and whether they
    match the open count, cooldowns, last action; plus autoscaler alarms of streams not in the config."""
    from autoscaler.adapters.aws.provisioning import Provisioning
    from autoscaler.app.status import fleet_status

    cfg = _load(config)
    ports = _ports(cfg, table)
    rows = _run(
        lambda: fleet_status(
            cfg,
            kinesis=ports["kinesis"],
            metrics=ports["metrics"],
            alarms=ports["alarms"],
            cooldown=ports["cooldown"],
            clock=ports["clock"],
        )
    )
    prefixed = _run(
        lambda: Provisioning(ports["kinesis"].client, ports["alarms"].client, ports["clock"]).prefixed_alarms(
            cfg.alarm_name_prefix
        )
    )
    from autoscaler.app.onboarding import is_orphan

    orphans = sorted(a.name for a in prefixed.values() if is_orphan(cfg.alarm_name_prefix, a, set(cfg.names), None))
    if as_json:
        out.print_json(json.dumps({"streams": [r._asdict() for r in rows], "orphaned_alarms": orphans}))
        return
    t = Table(title=f"kinesis-autoscaler status ({cfg.source})")
    for col in (
        "stream",
        "mode",
        "shards (min/desired/max)",
        "peak 1 h (1-min)",
        "peak 24 h (5-min)",
        "alarms",
        "cooldown up/down",
        "last action",
    ):
        t.add_column(col)

    def pct(v: float | None) -> str:
        return f"{v:.0%}" if v is not None else "-"

    for r in rows:
        states = ", ".join(sorted({a["state"] for a in r.alarms.values()})) or "none (on-demand)"
        alarms_text = f"{states}; " + ("thresholds match" if r.alarms_match else "[red]thresholds do not match[/red]")
        t.add_row(
            r.stream,
            f"{r.mode} {r.status}" + (f"\n[dim]{r.mode_note}[/dim]" if r.mode_note else ""),
            f"{r.open_shards if r.open_shards is not None else '-'} ({r.min_shards}/{r.desired_shards}/{r.max_shards})",
            pct(r.peak_1h),
            pct(r.peak_24h),
            r.problem or alarms_text,
            f"{r.cooldown_up_s} s / {r.cooldown_down_s} s" + (" (locked)" if r.locked else ""),
            r.last_action or "-",
        )
    out.print(t)
    if orphans:
        out.print(
            f"alarms of streams not in the config: {', '.join(orphans)} (create-streams --remove-orphaned-alarms)"
        )


@app.command("doctor")
def doctor(
    config: ConfigOpt = str(DEFAULT_CONFIG_PATH),
    table: TableOpt = DEFAULT_TABLE,
    stream: Annotated[list[str] | None, typer.Option("--stream", "-s", help="only these streams")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the invariants on the live streams (hash space tiled, count within min_shards … max_shards, no stale lock,
    alarms present and matching the open count) and say what to do about any drift. Exit 1 when an invariant is
    broken."""
    from autoscaler.app.doctor import Severity, diagnose

    cfg = _load(config)
    for name in stream or []:
        _check_stream(cfg, name)
    ports = _ports(cfg, table)
    findings = _run(
        lambda: diagnose(
            cfg,
            kinesis=ports["kinesis"],
            alarms=ports["alarms"],
            cooldown=ports["cooldown"],
            clock=ports["clock"],
            names=stream or None,
        )
    )
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if as_json:
        out.print_json(json.dumps({"findings": [f._asdict() for f in findings], "healthy": not errors}))
    else:
        checked = len(stream) if stream else len(cfg.streams)
        if not findings:
            out.print(f"[green]{checked} stream(s) checked: every invariant holds[/green]")
        else:
            t = Table(title=f"kinesis-autoscaler doctor ({cfg.source})")
            for col in ("stream", "severity", "check", "finding", "what to do"):
                t.add_column(col)
            colour = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
            for f in findings:
                t.add_row(f.stream, f"[{colour[f.severity]}]{f.severity.value}[/]", f.check, f.message, f.fix)
            out.print(t)
    if errors:
        raise typer.Exit(1)


@app.command("create-streams")
def create_streams(
    config: ConfigOpt = str(DEFAULT_CONFIG_PATH),
    alarm_topic_arn: Annotated[
        str | None, typer.Option("--alarm-topic-arn", help="SNS topic the alarms notify (else: from --stack)")
    ] = None,
    stack: Annotated[
        str, typer.Option("--stack", help="deployed stack whose AlarmTopicArn output to use", envvar="STACK_NAME")
    ] = "kinesis-autoscaler",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the diff, change nothing")] = False,
    remove_orphaned_alarms: Annotated[
        bool, typer.Option("--remove-orphaned-alarms", help="delete alarms of streams no longer in the config")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create the config's missing streams and bring their settings and alarms to the config. Idempotent; never
    reshards or deletes a stream."""
    import botocore.session

    from autoscaler.adapters.aws.provisioning import Provisioning, topic_from_stack
    from autoscaler.adapters.runtime import SystemClock
    from autoscaler.app.onboarding import plan_onboarding

    cfg = _load(config)
    ports = _ports(cfg, DEFAULT_TABLE)  # checks the region
    kinesis_client = ports["kinesis"].client
    cloudwatch_client = ports["alarms"].client
    prov = Provisioning(kinesis_client, cloudwatch_client, SystemClock())

    def plan() -> Any:
        topic = alarm_topic_arn or topic_from_stack(
            botocore.session.get_session().create_client("cloudformation", region_name=kinesis_client.meta.region_name),
            stack,
        )
        observed = prov.observe(cfg)
        existing = list(prov.prefixed_alarms(cfg.alarm_name_prefix).values())
        return topic, plan_onboarding(
            cfg, observed, topic, existing_alarms=existing, remove_orphaned_alarms=remove_orphaned_alarms
        )

    topic, diff = _run(plan)
    if diff.new_shards:
        limit, open_now = _run(prov.shard_quota)
        if limit and open_now + diff.new_shards > limit:
            err.print(
                f"[red]shard quota:[/red] creating these streams adds {diff.new_shards} shards to the {open_now} open "
                f"in this account and region, over its ShardLimit of {limit}; request an increase in Service Quotas "
                f"or lower desired_shards. Nothing was changed."
            )
            raise typer.Exit(2)
    if diff.new_on_demand:
        od_count, od_limit = _run(prov.kinesis.on_demand_quota)
        if od_limit and od_count + diff.new_on_demand > od_limit:
            err.print(
                f"[red]on-demand stream quota:[/red] creating these streams adds {diff.new_on_demand} on-demand "
                f"streams to the {od_count} in this account and region, over its OnDemandStreamCountLimit of "
                f"{od_limit}; request an increase, or set capacity_mode: provisioned for some. Nothing was changed."
            )
            raise typer.Exit(2)
    rows = []
    failed = False
    for sp in diff.streams:
        done: list[str] = []
        error = ""
        for action in sp.actions:
            if dry_run:
                continue
            try:
                _run(lambda a=action: prov.apply(a, topic, lambda msg: err.print(f"[dim]{msg}[/dim]")))
                done.append(action.detail)
            except typer.Exit:
                error, failed = f"failed at: {action.detail}", True
                break
        status = (
            "failed"
            if error
            else ("would change" if dry_run and sp.actions else ("changed" if sp.actions else "unchanged"))
        )
        rows.append(
            {
                "stream": sp.stream,
                "status": status,
                "actions": [a.detail for a in sp.actions],
                "done": done,
                "notes": list(sp.notes),
                "error": error,
            }
        )
    orphan_errors: list[str] = []
    for action in diff.orphan_actions:
        if dry_run:
            continue
        try:
            _run(lambda a=action: prov.apply(a, topic, lambda msg: None))
        except typer.Exit:
            orphan_errors.append(f"failed: {action.detail}")
            failed = True
    summary = {
        "alarm_topic_arn": topic,
        "dry_run": dry_run,
        "streams": rows,
        "orphaned_alarms": list(diff.orphaned_alarms),
        "orphaned_alarms_deleted": bool(diff.orphan_actions) and not dry_run and not orphan_errors,
        "orphan_errors": orphan_errors,
        "changes": diff.changes,
    }
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        table = Table(title="create-streams" + (" (dry run: nothing changed)" if dry_run else ""))
        for col in ("stream", "status", "actions", "notes"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r["stream"],
                r["status"],
                "\n".join(r["actions"]) or "-",
                "\n".join(r["notes"] + ([r["error"]] if r["error"] else [])) or "-",
            )
        out.print(table)
        if diff.orphaned_alarms:
            verb = (
                "deleted"
                if summary["orphaned_alarms_deleted"]
                else "left in place (--remove-orphaned-alarms deletes them)"
            )
            out.print(
                f"orphaned alarms (their streams are not in the config), {verb}: {', '.join(diff.orphaned_alarms)}"
            )
        if not diff.changes:
            out.print("nothing to change: AWS already matches the config")
    if failed:
        raise typer.Exit(1)


@app.command("validate-config")
def validate_config(
    config: ConfigOpt = str(DEFAULT_CONFIG_PATH),
    compile_to: Annotated[
        str | None,
        typer.Option("--compile", help="also write the validated config as a JSON snapshot (what Lambda loads)"),
    ] = None,
) -> None:
    """Check streams.yaml and print the streams it manages; --compile writes the snapshot the Lambda loads."""
    cfg = _load(config)
    if compile_to:
        from pathlib import Path

        from autoscaler.config import snapshot

        target = Path(compile_to)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(snapshot(cfg, Path(config).read_text(encoding="utf-8")), indent=2) + "\n")
        err.print(f"compiled {config} -> {target}")
    table = Table(title=f"{cfg.source}: valid")
    for col in ("stream", "min", "desired", "max", "scale-up at", "headroom", "scale-down below", "enabled"):
        table.add_column(col)
    for s in cfg.streams:
        table.add_row(
            s.name,
            str(s.min_shards),
            str(s.desired_shards),
            str(s.max_shards),
            f"{s.scale_up_threshold:.0%}",
            f"{s.headroom:g}x",
            f"{s.scale_down_threshold:.0%}",
            "yes" if s.enabled else "no",
        )
    out.print(table)


app.command("simulate")(simulate_command)
app.command("backtest")(backtest_command)


def main() -> None:
    os.environ.setdefault("AWS_RETRY_MODE", "standard")
    app(prog_name="kinesis-autoscaler")


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)
