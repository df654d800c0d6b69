"""Where a command's calls go and what it finds there, resolved once per command from its shared options: the
clients (--region, --profile, --endpoint-url), the deployed stack (--stack: its outputs name the table and topics,
its ManagedStreamNames parameter the streams its functions may touch), the cooldown table (--table, else the
stack's output), the services' ports and the notifier."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autoscaler.cli.common import EXIT_BAD_INPUT, _run, current, fail, find_config, note
from autoscaler.config import AutoscalerConfig, load_config
from autoscaler.core.errors import AutoscalerError, ConfigError
from autoscaler.events import Continuation

if TYPE_CHECKING:
    from autoscaler.adapters.aws.clients import Clients
    from autoscaler.adapters.aws.notify import SnsNotifier
    from autoscaler.adapters.aws.provisioning import StackInfo

CLI_BUDGET_SECONDS = 900  # as a Lambda invocation: the lock's lease is this + 60 s, so a killed CLI frees the
# stream within ~16 min; work left over stops cleanly (alarms retuned, cooldown, release) and the operator re-runs


class NoContinuation:
    """The CLI has no Lambda to hand work to: refusing makes the service stop cleanly (alarms retuned for what was
    done, cooldown set, lock released) and report what is left; the operator re-runs the command."""

    def continue_later(self, request: Continuation) -> None:
        towards = ", ".join(f"{h.stream} towards {h.target}" for h in request.handovers)
        raise AutoscalerError(
            "the CLI does not continue in the background; re-run to go on" + (f" ({towards})" if towards else "")
        )


def load() -> AutoscalerConfig:
    """The config the lookup finds (--config, $AUTOSCALER_CONFIG, ./config/streams.yaml), saying which was read."""
    inv = current()
    try:
        path, how = find_config(inv.config)
        cfg = load_config(path)
    except ConfigError as exc:
        fail(EXIT_BAD_INPUT, "config", str(exc))
    inv.config_read = path
    note(f"config: {path} (from {how})")
    return cfg


def check_stream(cfg: AutoscalerConfig, stream: str) -> None:
    if cfg.stream(stream) is None:
        known = ", ".join(cfg.names)
        fail(
            EXIT_BAD_INPUT,
            "unknown-stream",
            f"stream {stream!r} is not in {cfg.source} (managed: {known}); add it there first",
        )


def clients() -> Clients:
    inv = current()
    if "clients" not in inv.resolved:
        from autoscaler.adapters.aws.clients import Target, build_clients

        built = _run(lambda: build_clients(target=Target(inv.region, inv.profile, inv.endpoint_url)))
        inv.resolved["clients"] = built
        inv.resolved["region"] = built.kinesis.meta.region_name
        if not inv.resolved["region"]:
            fail(3, "region", "no AWS region: pass --region, or set AWS_REGION (or a profile's region)")
    return inv.resolved["clients"]  # type: ignore[no-any-return]


def stack(*, required: bool = True) -> StackInfo | None:
    """The deployed stack (--stack, $STACK_NAME, else kinesis-autoscaler), None when it does not exist here. Not
    `required` (a read-only view such as status), a stack that cannot be read (no cloudformation:DescribeStacks, an
    endpoint without CloudFormation) is None too, and said."""
    inv = current()
    if "stack" not in inv.resolved:
        from botocore.exceptions import BotoCoreError, ClientError

        from autoscaler.adapters.aws.provisioning import describe_stack

        cloudformation = clients().make("cloudformation")
        if required:
            inv.resolved["stack"] = _run(lambda: describe_stack(cloudformation, inv.stack_name))
        else:
            try:
                inv.resolved["stack"] = describe_stack(cloudformation, inv.stack_name)
            except (ClientError, BotoCoreError) as exc:
                note(f"stack {inv.stack_name!r} unreadable ({exc}): going on without it")
                inv.resolved["stack"] = None
    return inv.resolved["stack"]  # type: ignore[no-any-return]


def no_stack_message(what: str) -> str:
    inv = current()
    return (
        f"no stack {inv.stack_name!r} to read {what} from: pass --stack NAME (the name you gave `sam deploy`), or "
        f"{'--table NAME' if what == 'the cooldown table' else 'the value itself'}"
    )


def table_name(*, required: bool = True) -> str | None:
    """--table / $COOLDOWN_TABLE, else the stack's CooldownTableName output. Not found: exit 2 (`required`), or
    None for a read-only command that can do without the lock state."""
    inv = current()
    if inv.table:
        return inv.table
    info = stack(required=required)
    if info is not None and info.outputs.get("CooldownTableName"):
        return info.outputs["CooldownTableName"]
    if required:
        fail(EXIT_BAD_INPUT, "no-table", no_stack_message("the cooldown table"), where=True)
    return None


def notifier() -> SnsNotifier | None:
    """The stack's NotificationTopicArn (summaries on); None when the stack has notifications off or there is no
    stack (a local run): the action is still logged and printed."""
    if current().table and current().stack is None:
        return None  # a table given without a stack: a local or hand-made setup, no stack to ask
    info = stack()
    topic = info.outputs.get("NotificationTopicArn") if info else None
    if not topic:
        return None
    from autoscaler.adapters.aws.notify import SnsNotifier

    made = clients()
    return SnsNotifier(lambda: made.make("sns"), topic)


def ports(cfg: AutoscalerConfig, *, table_required: bool = True) -> dict[str, Any]:
    """The adapters the use cases need, as the Lambda builds them, on this command's clients."""
    from autoscaler.adapters.aws.compose import adapters
    from autoscaler.adapters.runtime import SystemClock

    made = clients()
    table = table_name(required=table_required)
    built = adapters(made, SystemClock(), table=table or "")
    if table is None:
        built["cooldown"] = None
    return {**built, "config": cfg, "continuation": NoContinuation()}
