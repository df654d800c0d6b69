"""`kinesis-autoscaler local up|seed|down`: a local stack on a moto server, for trying every other command without
an AWS account.

    eval "$(kinesis-autoscaler local up)"     # server, streams, table, topic, alarms; exports on stdout
    kinesis-autoscaler local seed --stream orders
    kinesis-autoscaler plan scale-up --stream orders
    eval "$(kinesis-autoscaler local down)"   # stops the server; unsets what up exported

`up` and `down` print only shell lines on stdout (`export ...`, `unset ...`), so `eval "$(...)"` works, and
everything for the operator on stderr; `seed` prints what it wrote on stdout. The server outlives `up` and is found
again through the state file in the current directory (autoscaler/local/stack.py): run the three commands from the
same directory. `seed` and `down` only ever talk to the server that file names, never to the AWS the environment
points at.

Exit codes as every command: 0 done; 1 failed (moto not installed, the server did not start or stop); 2 bad input
(config, stream, a port in use, an unreadable state file); 3 no local stack running (seed).
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from autoscaler.cli.common import _run, err, find_config, out
from autoscaler.config import AutoscalerConfig, load_config
from autoscaler.local import stack as local

local_app = typer.Typer(
    no_args_is_help=True,
    help="A local stack on a moto server (no AWS account needed): up, seed, down.",
)

BURST = 1.3  # seed's default rate: 130% of the stream's write capacity, over its alarms' 80% threshold
MAX_SEED_MINUTES = 14 * 24 * 60  # CloudWatch refuses datapoints older than two weeks (moto would not)


def _stop(code: int, message: str) -> NoReturn:
    # escaped: a path or a server log in the message may hold brackets, which rich would read as markup
    err.print(f"[red]{'failed' if code == 1 else 'error'}:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def _here() -> Path:
    return Path.cwd()


def _state(directory: Path) -> local.StackState | None:
    try:
        return local.read_state(directory / local.STATE_FILE)
    except local.LocalStackError as exc:
        _stop(2, str(exc))


def _load(path: str) -> AutoscalerConfig:
    return load_config(path)


def _exports(env: dict[str, str]) -> None:
    """The lines to paste (or eval), plainly: no markup, no wrapping, whatever the terminal."""
    for key, value in env.items():
        sys.stdout.write(f"export {key}={shlex.quote(value)}\n")
    # A service's own endpoint variable would win over AWS_ENDPOINT_URL for that service (every AWS SDK's rule)
    routed = sorted(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_"))
    if routed:
        sys.stdout.write(f"unset {' '.join(routed)}\n")
    sys.stdout.flush()


@local_app.command("up")
def up(
    port: Annotated[
        int, typer.Option("--port", help="127.0.0.1 port for a new server (0: any free port)")
    ] = local.DEFAULT_PORT,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="streams.yaml (default: $AUTOSCALER_CONFIG, else ./config/streams.yaml)"),
    ] = None,
) -> None:
    """Start a moto server in the background (or reuse the one this directory's state file names), create the
    config's streams at desired_shards, the cooldown table, the alarm topic and the alarms, and print the
    `export` lines that point every other command at it. Idempotent."""
    if not 0 <= port <= 65535:
        _stop(2, f"--port {port}: a TCP port is 0..65535 (0: any free port)")
    here = _here()
    path, found_by = _run(lambda: find_config(config))
    cfg = _run(lambda: _load(path))
    config_path = str(Path(path).resolve())
    state = _state(here)
    if local.running(state):
        assert state is not None
        if port not in (0, state.port):
            err.print(f"[yellow]--port {port} ignored:[/yellow] `local down` first to move the server")
        err.print(f"reusing the moto server at {state.endpoint} (pid {state.pid}, from {local.STATE_FILE})")
        pid, server_port, started_at = state.pid, state.port, state.started_at
    else:
        if state is not None:  # recorded, but gone (a reboot, a kill): start afresh
            err.print(f"[dim]{local.STATE_FILE} named pid {state.pid}, which no longer runs: starting a new server")
        try:
            pid, server_port = local.start_server(port, here)
        except local.LocalStackError as exc:
            _stop(2 if isinstance(exc, local.PortInUse) else 1, str(exc))
        started_at = time.time()
        err.print(f"moto server started at http://127.0.0.1:{server_port} (pid {pid}, log {local.LOG_FILE})")
    # recorded before provisioning: a failure below leaves a server that `down` can still find
    record = local.StackState(pid=pid, port=server_port, config=config_path, started_at=started_at)
    local.write_state(here / local.STATE_FILE, record)
    from autoscaler.local.setup import local_clients

    clients = local_clients(record.endpoint, record.region, fake_credentials=True)
    topic_arn, streams = _run(lambda: local.provision(clients, cfg, table=record.table))
    record = dataclasses.replace(record, topic_arn=topic_arn)
    local.write_state(here / local.STATE_FILE, record)

    err.print(escape(f"config: {config_path} (from {found_by})"))
    table = Table(title="streams")
    for col in ("stream", "open shards", "state"):
        table.add_column(col)
    for s in streams:
        table.add_row(s.name, str(s.open_shards), "created" if s.created else "already there (alarms retuned)")
    err.print(table)
    err.print(f"cooldown table {record.table}; alarms notify {topic_arn} (moto never evaluates alarms)")
    err.print('point this shell at it: paste the lines below, or run  eval "$(kinesis-autoscaler local up)"')
    _exports(record.env())


@local_app.command("seed")
def seed(
    stream: Annotated[
        list[str] | None, typer.Option("--stream", "-s", help="a stream of the stack (repeat; default: all)")
    ] = None,
    mib_per_s: Annotated[
        float | None,
        typer.Option(
            "--mib-per-s",
            min=0.0,
            help=f"write rate to record, MiB/s (default: {BURST:.0%} of the stream's open shards' 1 MiB/s each)",
        ),
    ] = None,
    minutes: Annotated[
        int,
        typer.Option(
            "--minutes",
            min=1,
            max=MAX_SEED_MINUTES,
            help="one-minute datapoints for the last M whole minutes (5: scale-up's lookback; 1500: a day for "
            "scale-down)",
        ),
    ] = 5,
    records: Annotated[
        int, typer.Option("--records", min=0, help="real ~1 KiB records written with PutRecords (0: none)")
    ] = 100,
) -> None:
    """Give the autoscaler evidence: IncomingBytes and IncomingRecords datapoints (~1 KiB records) for the last
    minutes, as Kinesis publishes them, plus a few real records. moto derives a datapoint from PutRecords only for
    the current minute, so the history is written with PutMetricData."""
    state = _state(_here())
    if not local.running(state):
        _stop(3, f"no local stack running from {_here()}: run `kinesis-autoscaler local up` here first")
    assert state is not None
    cfg = _run(lambda: _load(state.config))
    names = list(stream or cfg.names)
    unknown = [n for n in names if cfg.stream(n) is None]
    if unknown:
        _stop(2, f"{', '.join(unknown)} not in {state.config} (the stack's streams: {', '.join(cfg.names)})")
    from autoscaler.local.setup import local_clients

    clients = local_clients(state.endpoint, state.region, fake_credentials=True)
    done = _run(lambda: local.seed(clients, names, mib_per_s=mib_per_s, minutes=minutes, records=records, burst=BURST))
    table = Table(title=f"seeded on {state.endpoint}")
    for col in ("stream", "open shards", "MiB/s", "utilisation", "one-minute datapoints", "records put"):
        table.add_column(col)
    for d in done:
        table.add_row(
            d.stream,
            str(d.open_shards),
            f"{d.mib_per_s:.2f}",
            f"{d.mib_per_s / d.open_shards:.0%}" if d.open_shards else "-",
            f"{d.minutes} × IncomingBytes, IncomingRecords",
            str(d.records_put),
        )
    out.print(table)
    first = names[0] if names else "STREAM"
    err.print(f"next: kinesis-autoscaler plan scale-up --stream {first}   (with up's exports in this shell)")


@local_app.command("down")
def down() -> None:
    """Stop the server this directory's state file names and remove the file; harmless when nothing runs. Prints
    `unset` for what `up` exported."""
    here = _here()
    state = _state(here)
    if state is None:
        err.print(escape(f"no local stack recorded in {here / local.STATE_FILE}: nothing to stop"))
        return
    was_running = local.is_our_server(state.pid, state.port)
    if not local.stop_server(state.pid, state.port):
        _stop(1, f"the moto server (pid {state.pid}) did not stop after SIGTERM and SIGKILL; {local.STATE_FILE} kept")
    (here / local.STATE_FILE).unlink(missing_ok=True)
    what = "stopped" if was_running else "was no longer running"
    err.print(f"moto server at {state.endpoint} (pid {state.pid}) {what}; {local.STATE_FILE} removed")
    sys.stdout.write(f"unset {' '.join(state.env())}\n")
