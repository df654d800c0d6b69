"""What every command shares: the options an AWS operator expects on every command, the one output contract
(table, json, text), the config lookup, and the one way an operator-fixable error becomes a line and an exit code.

The contract scripts rely on (README "CLI reference"):
- exit codes: 0 done; 1 the operation failed (doctor: an invariant is broken); 2 bad input (config, stream,
  arguments, a stack that does not exist); 3 AWS unreachable, no credentials, unknown profile, expired SSO session;
  4 refused (cooldown, lock held, stream disabled or on-demand). A --dry-run exits as the run it predicts would.
- --output json: one object per command on stdout, {"schema_version": 1, "command", "config", ...}; errors are one
  object on stderr, {"schema_version": 1, "command", "error": {"exit_code", "kind", "message"}}.
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from autoscaler.config import CONFIG_ENV
from autoscaler.core.errors import AutoscalerError, ConfigError, StreamNotFound, StreamNotProvisioned

SCHEMA_VERSION = 1
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_AWS, EXIT_REFUSED = 0, 1, 2, 3, 4
DEFAULT_STACK = "kinesis-autoscaler"  # samconfig.toml's stack_name

# Piped or redirected, a table is not cut or wrapped to 80 columns: it is as wide as its content.
_WIDTH = None if sys.stdout.isatty() else 100_000
out = Console(width=_WIDTH)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 100_000)


class Output(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    TEXT = "text"


@dataclass
class Invocation:
    """One command's options that every command shares, and what was resolved from them."""

    command: str
    output: Output = Output.TABLE
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    stack: str | None = None  # --stack or $STACK_NAME; None: the default stack name
    table: str | None = None  # --table or $COOLDOWN_TABLE; None: the stack's CooldownTableName output
    config: str | None = None  # --config
    config_read: str | None = None  # the file actually read
    resolved: dict[str, Any] = field(default_factory=dict)  # clients, stack description, account (once each)

    @property
    def json(self) -> bool:
        return self.output is Output.JSON

    @property
    def stack_name(self) -> str:
        return self.stack or DEFAULT_STACK


_CURRENT: ContextVar[Invocation] = ContextVar("invocation")


def current() -> Invocation:
    try:
        return _CURRENT.get()
    except LookupError:  # a command function called directly (tests) rather than through the CLI
        return Invocation(command="")


@contextmanager
def invoked(inv: Invocation) -> Iterator[Invocation]:
    token = _CURRENT.set(inv)
    try:
        yield inv
    finally:
        _CURRENT.reset(token)


# -- the shared options ---------------------------------------------------------------------------------------------

_COMMON: dict[str, tuple[str, Any, Any]] = {
    # parameter name: (flag, annotation, default)
    "opt_config": (
        "--config",
        Annotated[
            str | None,
            typer.Option(
                "--config",
                "-c",
                help=f"streams.yaml to use (default: ${CONFIG_ENV}, else ./config/streams.yaml)",
                rich_help_panel="Common options",
            ),
        ],
        None,
    ),
    "opt_output": (
        "--output",
        Annotated[
            Output | None,
            typer.Option("--output", "-o", help="table (default), json or text", rich_help_panel="Common options"),
        ],
        None,
    ),
    "opt_json": (
        "--json",
        Annotated[bool, typer.Option("--json", help="same as --output json", rich_help_panel="Common options")],
        False,
    ),
    "opt_region": (
        "--region",
        Annotated[
            str | None,
            typer.Option(
                "--region",
                help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's)",
                rich_help_panel="Common options",
            ),
        ],
        None,
    ),
    "opt_profile": (
        "--profile",
        Annotated[
            str | None,
            typer.Option(
                "--profile", help="named profile of ~/.aws (default: AWS_PROFILE)", rich_help_panel="Common options"
            ),
        ],
        None,
    ),
    "opt_endpoint_url": (
        "--endpoint-url",
        Annotated[
            str | None,
            typer.Option(
                "--endpoint-url",
                help="send every call here (default: AWS_ENDPOINT_URL), e.g. a local emulator",
                rich_help_panel="Common options",
            ),
        ],
        None,
    ),
    "opt_stack": (
        "--stack",
        Annotated[
            str | None,
            typer.Option(
                "--stack",
                envvar="STACK_NAME",
                help=f"deployed stack whose outputs name the table and topics (default: {DEFAULT_STACK})",
                rich_help_panel="Common options",
            ),
        ],
        None,
    ),
    "opt_table": (
        "--table",
        Annotated[
            str | None,
            typer.Option(
                "--table",
                envvar="COOLDOWN_TABLE",
                help="cooldown table, instead of the stack's CooldownTableName output",
                rich_help_panel="Common options",
            ),
        ],
        None,
    ),
}
AWS_OPTIONS = ("opt_region", "opt_profile", "opt_endpoint_url", "opt_stack", "opt_table")
OUTPUT_OPTIONS = ("opt_output", "opt_json")


def _declared_flags(sig: inspect.Signature) -> set[str]:
    flags: set[str] = set()
    for p in sig.parameters.values():
        for meta in getattr(p.annotation, "__metadata__", ()):
            flags.update(getattr(meta, "param_decls", ()) or ())
            # typer.Option("--json", ...) inside Annotated keeps its first flag as `default` (typer moves it to the
            # declarations when it builds the command)
            first = getattr(meta, "default", None)
            if isinstance(first, str) and first.startswith("-"):
                flags.add(first)
    return flags


def command(
    app: typer.Typer,
    name: str,
    *,
    label: str = "",
    options: Sequence[str] = (*OUTPUT_OPTIONS, "opt_config", *AWS_OPTIONS),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn` as command `name` with the shared options appended (those whose flag `fn` does not declare
    itself). The command reads them through `current()`; a command that declares --config or --json keeps its own.
    One mechanism, so every command takes --region, --profile, --endpoint-url, --stack, --output the same way."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)
        own = _declared_flags(sig)
        added = [k for k in options if _COMMON[k][0] not in own]
        params = list(sig.parameters.values()) + [
            inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, annotation=_COMMON[k][1], default=_COMMON[k][2])
            for k in added
        ]

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> Any:
            common = {k: kwargs.pop(k) for k in added}
            output = common.get("opt_output") or (Output.JSON if common.get("opt_json") else Output.TABLE)
            if "--json" in own and kwargs.get("as_json"):
                output = Output.JSON
            inv = Invocation(
                command=label or name,
                output=output,
                region=common.get("opt_region"),
                profile=common.get("opt_profile"),
                endpoint_url=common.get("opt_endpoint_url"),
                stack=common.get("opt_stack"),
                table=common.get("opt_table"),
                config=common.get("opt_config"),
            )
            with invoked(inv):
                return fn(**kwargs)

        del wrapper.__wrapped__  # typer must see the new signature, not fn's
        wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        app.command(name)(wrapper)
        return fn

    return register


# -- config ---------------------------------------------------------------------------------------------------------

LOCAL_CONFIG = Path("config") / "streams.yaml"


def find_config(
    explicit: str | None, environ: Mapping[str, str] = os.environ, cwd: Path | None = None
) -> tuple[str, str]:
    """Which streams.yaml a command reads, and why: --config, else $AUTOSCALER_CONFIG, else ./config/streams.yaml
    where the operator stands (the AWS CLI's order: flag, environment, file). Never the example bundled with the
    package: from another directory it would name someone else's streams. Raises ConfigError naming where it looked."""
    if explicit:
        return explicit, "--config"
    if environ.get(CONFIG_ENV):
        return environ[CONFIG_ENV], f"${CONFIG_ENV}"
    here = cwd or Path.cwd()
    if (here / LOCAL_CONFIG).is_file():
        return str(LOCAL_CONFIG), "the current directory"
    raise ConfigError(
        f"no streams.yaml: none given with --config, ${CONFIG_ENV} is unset, and there is no {LOCAL_CONFIG} in "
        f"{here}; pass --config PATH, set {CONFIG_ENV}, or run from the directory that holds config/streams.yaml"
    )


# -- output ---------------------------------------------------------------------------------------------------------


def plain(text: object) -> str:
    """A cell as plain text on one line (text output: one record per line, tab-separated fields)."""
    raw = text.plain if isinstance(text, Text) else str(text)
    return raw.replace("\t", " ").replace("\n", "; ")


def shown(cell: object) -> Text | str:
    """A cell or note for the console: a Text keeps its styles; anything else is shown as written, brackets and
    all ("[min_shards, max_shards] = [1, 16]" is data, not markup)."""
    return cell if isinstance(cell, Text) else escape(str(cell))


@dataclass
class View:
    """What a command shows as a table (and as text: the same rows, tab-separated, no header)."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[object]] = field(default_factory=list)  # str cells shown as written; Text cells styled
    notes: list[str | Text] = field(default_factory=list)  # lines after the table (stderr under --output text)


def envelope(payload: Mapping[str, Any]) -> dict[str, Any]:
    inv = current()
    return {"schema_version": SCHEMA_VERSION, "command": inv.command, "config": inv.config_read, **payload}


def emit(payload: Mapping[str, Any], view: View | None) -> None:
    """Print the command's result in the chosen output. JSON is the payload in the envelope; table and text are the
    view (a command without a view prints its payload as JSON in every output)."""
    inv = current()
    if inv.json or view is None:
        sys.stdout.write(json.dumps(envelope(payload), indent=2, default=str) + "\n")
        return
    if inv.output is Output.TEXT:
        for row in view.rows:
            sys.stdout.write("\t".join(plain(c) for c in row) + "\n")
        for note in view.notes:
            sys.stderr.write(plain(note) + "\n")
        return
    table = Table(title=escape(view.title))
    for col in view.columns:
        table.add_column(escape(col))
    for row in view.rows:
        table.add_row(*(shown(c) for c in row))
    out.print(table)
    for line in view.notes:
        out.print(shown(line))


def note(message: str) -> None:
    """A line for the operator that is not the result (which config was read, a warning): stderr, never in the way
    of a script reading stdout. Under --output json it is left out: the payload carries it."""
    if not current().json:
        err.print(Text(message, style="dim"))


def fail(code: int, kind: str, message: str, *, where: bool = False) -> NoReturn:
    """Stop with one line (or one JSON object on stderr under --output json) and the exit code. `where` adds the
    region and account the calls went to."""
    if where:
        message = f"{message} ({target_description()})"
    inv = current()
    if inv.json:
        body = {"exit_code": code, "kind": kind, "message": message}
        sys.stderr.write(json.dumps({"schema_version": SCHEMA_VERSION, "command": inv.command, "error": body}) + "\n")
    else:
        label = {EXIT_BAD_INPUT: "error", EXIT_AWS: "AWS", EXIT_REFUSED: "refused"}.get(code, "failed")
        err.print(Text.assemble((f"{label} ({kind}):", "red"), " ", message), highlight=False)
    raise typer.Exit(code)


def target_description() -> str:
    """'region eu-west-1, account 123456789012' for error messages; the account from STS, asked once and only when
    an error is reported (never on the happy path)."""
    inv = current()
    region = inv.resolved.get("region") or inv.region or os.environ.get("AWS_REGION") or "unknown"
    if "account" not in inv.resolved:
        account = "unknown"
        clients = inv.resolved.get("clients")
        if clients is not None:
            try:
                account = clients.make("sts").get_caller_identity()["Account"]
            except Exception:  # best effort in an error path: the original error is what matters
                account = "unknown (STS unreachable)"
        inv.resolved["account"] = account
    where = f"region {region}, account {inv.resolved['account']}"
    if inv.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"):
        where += f", endpoint {inv.endpoint_url or os.environ.get('AWS_ENDPOINT_URL')}"
    if inv.profile or os.environ.get("AWS_PROFILE"):
        where += f", profile {inv.profile or os.environ.get('AWS_PROFILE')}"
    return where


def _run(fn: Any) -> Any:
    """Turn the errors an operator can fix into one clear line and an exit code."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
        SSOError,
        TokenRetrievalError,
        UnauthorizedSSOTokenError,
    )

    try:
        return fn()
    except ProfileNotFound as exc:
        fail(EXIT_AWS, "profile", f"{exc}; list the profiles with `aws configure list-profiles`")
    except (SSOError, TokenRetrievalError, UnauthorizedSSOTokenError) as exc:
        profile = current().profile or os.environ.get("AWS_PROFILE") or "default"
        fail(
            EXIT_AWS,
            "sso",
            f"the SSO session of profile {profile!r} is missing or expired ({exc}); run "
            f"`aws sso login --profile {profile}`",
        )
    except NoCredentialsError:
        fail(
            EXIT_AWS,
            "credentials",
            "no AWS credentials: set AWS_PROFILE (or --profile) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
            where=True,
        )
    except NoRegionError:
        fail(EXIT_AWS, "region", "no AWS region: pass --region, or set AWS_REGION (or a profile's region)")
    except EndpointConnectionError as exc:
        fail(
            EXIT_AWS,
            "unreachable",
            f"cannot reach AWS at {exc.kwargs.get('endpoint_url')}: check AWS_REGION or --region (a real region "
            "code, e.g. us-east-1?), --endpoint-url / AWS_ENDPOINT_URL and the network",
        )
    except (StreamNotFound, StreamNotProvisioned, ConfigError) as exc:
        fail(EXIT_BAD_INPUT, type(exc).__name__, str(exc))
    except AutoscalerError as exc:
        fail(EXIT_FAILED, type(exc).__name__, str(exc), where=True)
    except (ClientError, BotoCoreError) as exc:
        fail(EXIT_AWS, "aws", str(exc), where=True)
