"""The config and the account: validate-config, create-streams (onboarding, idempotent) and remove-alarms (what
`sam delete` leaves behind)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from autoscaler.cli import aws
from autoscaler.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    OUTPUT_OPTIONS,
    View,
    _run,
    command,
    current,
    emit,
    err,
    fail,
    note,
)
from autoscaler.config import AutoscalerConfig

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="print the diff, change nothing")]


def stack_cross_check(cfg: AutoscalerConfig, managed: list[str] | None) -> list[str]:
    """Warnings when the config and the deployed stack's ManagedStreamNames disagree: the functions' IAM policy names
    the streams of ManagedStreamNames, so a configured stream missing there is one they may not touch (every scale
    fails AccessDenied), and a listed stream missing from the config is one they may touch but never manage."""
    if managed is None:
        return []
    wanted = [s.name for s in cfg.streams if s.enabled]
    missing = [n for n in wanted if n not in managed]
    extra = [n for n in managed if cfg.stream(n) is None]
    warnings = []
    if missing:
        warnings.append(
            f"in the config but not in the stack's ManagedStreamNames: {', '.join(missing)}. Its functions have no "
            "IAM permission for them: add them to ManagedStreamNames and `sam deploy`, or they are never scaled"
        )
    if extra:
        warnings.append(
            f"in the stack's ManagedStreamNames but not in the config: {', '.join(extra)}. The functions may touch "
            "them but never manage them: remove them from ManagedStreamNames (least privilege) or add them to the "
            "config"
        )
    return warnings


def create_streams(
    alarm_topic_arn: Annotated[
        str | None, typer.Option("--alarm-topic-arn", help="SNS topic the alarms notify (else: the stack's output)")
    ] = None,
    dry_run: DryRunOpt = False,
    remove_orphaned_alarms: Annotated[
        bool, typer.Option("--remove-orphaned-alarms", help="delete alarms of streams no longer in the config")
    ] = False,
) -> None:
    """Create the config's missing streams and bring their settings and alarms to the config. Idempotent; never
    reshards or deletes a stream. Warns when the config and the stack's ManagedStreamNames disagree."""
    from botocore.exceptions import BotoCoreError, ClientError

    from autoscaler.adapters.aws.provisioning import Provisioning
    from autoscaler.adapters.runtime import SystemClock
    from autoscaler.app.onboarding import plan_onboarding
    from autoscaler.core.errors import AutoscalerError

    cfg = aws.load()
    made = aws.clients()
    prov = Provisioning(made.kinesis, made.cloudwatch, SystemClock())
    info = aws.stack() if alarm_topic_arn is None or current().stack else None
    topic = alarm_topic_arn or (info.outputs.get("AlarmTopicArn") if info else None)
    if not topic:
        what = "the alarm topic" if info is None else "the alarm topic (it has no AlarmTopicArn output)"
        fail(EXIT_BAD_INPUT, "no-topic", aws.no_stack_message(what) + " with --alarm-topic-arn", where=True)
    warnings = stack_cross_check(cfg, info.managed_stream_names() if info else None)
    for w in warnings:
        if not current().json:
            err.print(f"[yellow]warning:[/yellow] {w}")

    def plan() -> Any:
        observed = prov.observe(cfg)
        existing = list(prov.prefixed_alarms(cfg.alarm_name_prefix).values())
        return plan_onboarding(
            cfg, observed, topic, existing_alarms=existing, remove_orphaned_alarms=remove_orphaned_alarms
        )

    diff = _run(plan)
    if diff.new_shards:
        limit, open_now = _run(prov.shard_quota)
        if limit and open_now + diff.new_shards > limit:
            fail(
                EXIT_BAD_INPUT,
                "shard-quota",
                f"creating these streams adds {diff.new_shards} shards to the {open_now} open in this account and "
                f"region, over its ShardLimit of {limit}; request an increase in Service Quotas or lower "
                "desired_shards. Nothing was changed.",
                where=True,
            )
    if diff.new_on_demand:
        od_count, od_limit = _run(prov.kinesis.on_demand_quota)
        if od_limit and od_count + diff.new_on_demand > od_limit:
            fail(
                EXIT_BAD_INPUT,
                "on-demand-quota",
                f"creating these streams adds {diff.new_on_demand} on-demand streams to the {od_count} in this "
                f"account and region, over its OnDemandStreamCountLimit of {od_limit}; request an increase, or set "
                "capacity_mode: provisioned for some. Nothing was changed.",
                where=True,
            )
    rows = []
    failed = False
    for sp in diff.streams:
        done: list[str] = []
        error = ""
        for action in sp.actions:
            if dry_run:
                continue
            try:
                prov.apply(action, topic, note)
                done.append(action.detail)
            except (AutoscalerError, ClientError, BotoCoreError) as exc:  # this stream's row says it; the rest go on
                error, failed = f"failed at: {action.detail}: {exc}", True
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
            prov.apply(action, topic, lambda msg: None)
        except (AutoscalerError, ClientError, BotoCoreError) as exc:
            orphan_errors.append(f"failed: {action.detail}: {exc}")
            failed = True
    summary = {
        "alarm_topic_arn": topic,
        "stack": info.name if info else None,
        "dry_run": dry_run,
        "streams": rows,
        "orphaned_alarms": list(diff.orphaned_alarms),
        "orphaned_alarms_deleted": bool(diff.orphan_actions) and not dry_run and not orphan_errors,
        "orphan_errors": orphan_errors,
        "changes": diff.changes,
        "warnings": warnings,
    }
    view = View(
        "create-streams" + (" (dry run: nothing changed)" if dry_run else ""), ("stream", "status", "actions", "notes")
    )
    for r in rows:
        view.rows.append(
            (
                r["stream"],
                r["status"],
                "\n".join(r["actions"]) or "-",
                "\n".join(r["notes"] + ([r["error"]] if r["error"] else [])) or "-",
            )
        )
    if diff.orphaned_alarms:
        verb = (
            "deleted" if summary["orphaned_alarms_deleted"] else "left in place (--remove-orphaned-alarms deletes them)"
        )
        view.notes.append(
            f"orphaned alarms (their streams are not in the config), {verb}: {', '.join(diff.orphaned_alarms)}"
        )
    if not diff.changes:
        view.notes.append("nothing to change: AWS already matches the config")
    emit(summary, view)
    if failed:
        raise typer.Exit(EXIT_FAILED)


def ours(cfg: AutoscalerConfig, name: str, *, all_streams: bool = False) -> bool:
    """An alarm remove-alarms may delete: <prefix>/<stream>/… of a configured stream ("/" is in no prefix or stream
    name, so no other prefix matches; and two deployments that kept the default prefix each delete only their own
    streams' alarms), any <prefix>/… with `all_streams`, or exactly an earlier version's <prefix>-<stream>-<kind> of a
    configured stream (a bare <prefix>-… would also match a deployment whose prefix is <prefix>-staging)."""
    from autoscaler.core.capacity import AlarmKind, alarm_stream, legacy_alarm_name

    stream = alarm_stream(cfg.alarm_name_prefix, name)
    if stream is not None:
        return all_streams or cfg.stream(stream) is not None
    return any(name == legacy_alarm_name(cfg.alarm_name_prefix, s, k) for s in cfg.names for k in AlarmKind)


def remove_alarms(
    dry_run: DryRunOpt = False,
    all_streams: Annotated[
        bool,
        typer.Option(
            "--all-streams",
            help="also alarms under the prefix for streams not in the config (another deployment's, if it kept the "
            "same prefix)",
        ),
    ] = False,
) -> None:
    """Delete the CloudWatch alarms named <alarm_name_prefix>/<stream>/… of the config's streams (and an earlier
    version's <prefix>-<stream>-<kind>): the alarms create-streams made, which `sam delete` leaves behind.
    --all-streams: every <prefix>/… alarm. Streams are never touched; run it with --dry-run first."""
    from autoscaler.adapters.aws.provisioning import Provisioning
    from autoscaler.adapters.runtime import SystemClock

    cfg = aws.load()
    made = aws.clients()
    prov = Provisioning(made.kinesis, made.cloudwatch, SystemClock())
    found = _run(lambda: prov.prefixed_alarms(cfg.alarm_name_prefix))
    names = sorted(n for n in found if ours(cfg, n, all_streams=all_streams))
    if not dry_run and names:
        _run(lambda: prov.delete_alarms(names))
    verb = "would delete" if dry_run else "deleted"
    view = View(
        f"remove-alarms (prefix {cfg.alarm_name_prefix!r})" + (" (dry run: nothing changed)" if dry_run else ""),
        ("alarm", "action"),
        [(n, verb) for n in names],
    )
    if not names:
        view.notes.append(f"no alarm named {cfg.alarm_name_prefix}/… in this account and region")
    emit({"prefix": cfg.alarm_name_prefix, "dry_run": dry_run, "alarms": names, "deleted": not dry_run}, view)


def validate_config(
    compile_to: Annotated[
        str | None,
        typer.Option("--compile", help="also write the validated config as a JSON snapshot (what Lambda loads)"),
    ] = None,
) -> None:
    """Check streams.yaml and print the streams it manages; --compile writes the snapshot the Lambda loads."""
    cfg = aws.load()
    path = current().config_read or ""
    if compile_to:
        from autoscaler.config import snapshot

        target = Path(compile_to)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(snapshot(cfg, Path(path).read_text(encoding="utf-8")), indent=2) + "\n")
        if not current().json:
            err.print(f"compiled {path} -> {target}")
    view = View(
        f"{cfg.source}: valid",
        ("stream", "min", "desired", "max", "scale-up at", "headroom", "scale-down below", "capacity_mode", "enabled"),
    )
    for s in cfg.streams:
        view.rows.append(
            (
                s.name,
                s.min_shards,
                s.desired_shards,
                s.max_shards,
                f"{s.scale_up_threshold:.0%}",
                f"{s.headroom:g}x",
                f"{s.scale_down_threshold:.0%}",
                s.capacity_mode,
                "yes" if s.enabled else "no",
            )
        )
    emit(
        {
            "valid": True,
            "alarm_name_prefix": cfg.alarm_name_prefix,
            "streams": [dataclasses.asdict(s) for s in cfg.streams],
            "compiled_to": compile_to,
        },
        view,
    )


def register(app: typer.Typer) -> None:
    command(app, "create-streams")(create_streams)
    command(app, "remove-alarms")(remove_alarms)
    command(app, "validate-config", options=(*OUTPUT_OPTIONS, "opt_config"))(validate_config)
