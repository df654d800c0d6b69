"""The local stack behind `kinesis-autoscaler local up|seed|down`: a moto server that outlives the command, found
again through a state file in the directory the operator stands in, and the resources the autoscaler needs on it.

The state file (`.kinesis-autoscaler-local.json`) records the server's pid and port, and what `up` created; the
server's output goes to `.kinesis-autoscaler-local.log` next to it. A recorded server counts as running only while
its pid is alive (a zombie is not), is a moto server of ours on that port (its command line, where /proc exists)
and answers HTTP: a pid reused by another process after a reboot is never signalled.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from autoscaler.local.moto_server import FAKE_ENV, MotoServer, free_port

STATE_FILE = ".kinesis-autoscaler-local.json"
LOG_FILE = ".kinesis-autoscaler-local.log"
STATE_VERSION = 1
DEFAULT_PORT = 5000  # moto's own default (`moto_server`); --port 0 takes any free port
REGION = FAKE_ENV["AWS_REGION"]
TABLE = "kinesis-autoscaler-cooldown"  # exported as COOLDOWN_TABLE: commands need no stack to find it
TOPIC = "kinesis-autoscaler-alarms"
SERVER_MODULE = "autoscaler.local.moto_server"
STOP_GRACE_SECONDS = 10.0  # SIGTERM, then SIGKILL: the server keeps nothing to flush, state is in memory
MiB = 1_048_576
# `seed` counts 1,000 records per MiB: a shard's two write limits (1 MiB/s, 1,000 records/s) meet there, so the
# records' utilisation equals the bytes' and the rate asked for is the peak the autoscaler reads (1 KiB records
# would read 2.4% higher, on records). The real records it writes have that size.
RECORDS_PER_MIB = 1_000
RECORD_BYTES = MiB // RECORDS_PER_MIB


class LocalStackError(RuntimeError):
    """The local stack cannot be started, found or stopped; the message says what to do."""


class PortInUse(LocalStackError):
    """Something else listens on the port asked for."""


@dataclass(frozen=True)
class StackState:
    """What `up` recorded: enough for `seed` and `down` to find the server, and for `up` to reuse it."""

    pid: int
    port: int
    config: str  # absolute path of the streams.yaml `up` created the streams of
    table: str = TABLE
    topic_arn: str = ""
    region: str = REGION
    started_at: float = 0.0
    version: int = STATE_VERSION

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The variables that point every command (and any AWS SDK) at the server. AWS_REGION wins over
        AWS_DEFAULT_REGION for this CLI and the AWS CLI v2; older tools read only AWS_DEFAULT_REGION: both are set."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": FAKE_ENV["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": FAKE_ENV["AWS_SECRET_ACCESS_KEY"],
            "COOLDOWN_TABLE": self.table,
            "AUTOSCALER_CONFIG": self.config,
        }


def read_state(path: Path) -> StackState | None:
    """The recorded stack, or None when there is no state file. Raises LocalStackError for a file it cannot read."""
    try:
        raw = json.loads(path.read_text())
        return StackState(**{k: raw[k] for k in StackState.__dataclass_fields__ if k in raw})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise LocalStackError(
            f"{path} is not a state file this version can read ({exc}); stop the server it names by hand if one "
            "runs, then delete the file"
        ) from None


def write_state(path: Path, state: StackState) -> None:
    """Written whole or not at all (a temporary file renamed over it): a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
    tmp.replace(path)


def pid_alive(pid: int) -> bool:
    """Whether the process runs. A zombie (exited, not yet reaped by its parent — the server's parent is init once
    `up` has exited) does not: /proc says Z; without /proc (macOS), signal 0 is the only test."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            # "pid (comm) S ...": the state follows the last ')' (comm may hold spaces and parentheses)
            return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_our_server(pid: int, port: int) -> bool:
    """The pid runs `python -m autoscaler.local.moto_server <port>` (checked where /proc exists)."""
    if not pid_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True  # no /proc: the pid's liveness and the port's answer (answers) are the evidence
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return SERVER_MODULE.encode() in args and str(port).encode() in args


def answers(port: int, timeout: float = 2.0) -> bool:
    """A moto server answers its management API on 127.0.0.1:port (plain HTTP, never another host)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/moto-api/")
        return conn.getresponse().status < 500
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def running(state: StackState | None) -> bool:
    return state is not None and is_our_server(state.pid, state.port) and answers(state.port)


def port_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:port (a bind succeeds). SO_REUSEADDR, as werkzeug binds: a port in TIME_WAIT
    after a `down` is free to the server, so it is free here."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def moto_missing() -> list[str]:
    """The modules the server needs that are not installed (the demo extra: moto, flask, flask-cors)."""
    import importlib.util

    return [m for m in ("moto", "flask", "flask_cors") if importlib.util.find_spec(m) is None]


def start_server(port: int, directory: Path, timeout: float = 60.0) -> tuple[int, int]:
    """Start a moto server that outlives this process (its own session, no inherited pipe); return its pid and port
    once it answers. Port 0 picks a free one."""
    missing = moto_missing()
    if missing:
        raise LocalStackError(
            f"the local stack needs {', '.join(missing)}: pip install 'kinesis-autoscaler[demo]' "
            "(moto, flask, flask-cors)"
        )
    port = port or free_port()
    if not port_free(port):
        raise PortInUse(f"port {port} on 127.0.0.1 is in use: pass --port N (or --port 0 for any free port)")
    log = directory / LOG_FILE
    server = MotoServer(port, log=log)
    try:
        server.start(timeout=timeout)
    except RuntimeError as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise LocalStackError(f"{exc}\n{tail}".rstrip()) from None
    assert server.proc is not None
    # The Popen object is dropped without stopping the server: it keeps running in its own session; `down` stops it
    # by pid. Popen's finaliser only notes a child still running, it does not kill it.
    return server.proc.pid, port


def stop_server(pid: int, port: int, *, grace: float = STOP_GRACE_SECONDS) -> bool:
    """SIGTERM the server's process group (it was started as a session leader: pgid = pid), SIGKILL after `grace`.
    Returns False when it still runs after both. Never signals a pid that is not our server on `port`."""
    if not is_our_server(pid, port):
        return True
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        if poll(lambda: not pid_alive(pid), wait):
            return True
    return False


def poll(done: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass(frozen=True)
class StreamReady:
    name: str
    open_shards: int
    created: bool


def provision(clients: Any, cfg: Any, *, table: str = TABLE, topic: str = TOPIC) -> tuple[str, list[StreamReady]]:
    """What setup.bootstrap creates (idempotent), with the alarms of an existing stream tuned to its open count —
    after a scale-up, a second `up` must not set them back to desired_shards. Returns the topic ARN and each
    stream's state."""
    from autoscaler.adapters.aws.kinesis import KinesisAdapter
    from autoscaler.adapters.runtime import SystemClock
    from autoscaler.local.setup import create_stream, create_table, ensure_alarms

    create_table(clients.dynamodb, table)
    topic_arn: str = clients.sns.create_topic(Name=topic)["TopicArn"]
    kinesis = KinesisAdapter(clients.kinesis, SystemClock())
    ready = []
    for stream in cfg.streams:
        created = create_stream(clients.kinesis, stream.name, stream.desired_shards)
        # counted from ListShards: moto's OpenShardCount ignores splits and merges
        shards = stream.desired_shards if created else len(kinesis.list_open_shards(stream.name))
        ensure_alarms(clients.cloudwatch, cfg, stream, shards, topic_arn)
        ready.append(StreamReady(stream.name, shards, created))
    return topic_arn, ready


@dataclass(frozen=True)
class Seeded:
    stream: str
    open_shards: int
    mib_per_s: float
    minutes: int
    records_put: int


def seed(
    clients: Any,
    streams: Sequence[str],
    *,
    mib_per_s: float | None,
    minutes: int,
    records: int,
    burst: float,
) -> list[Seeded]:
    """Evidence for the autoscaler on each stream: one-minute IncomingBytes and IncomingRecords Sums (RECORDS_PER_MIB
    records a MiB) for the last
    `minutes` whole minutes at `mib_per_s` (default: `burst` × the stream's open shards' 1 MiB/s), written with
    PutMetricData as Kinesis would publish them — moto derives only the current minute's datapoint from PutRecords,
    and writing minutes of real traffic at MiB/s would take those minutes — then `records` real 1 KiB records with
    PutRecords, so GetRecords has data (moto adds their bytes to the current minute's datapoint)."""
    from autoscaler.adapters.aws.kinesis import KinesisAdapter
    from autoscaler.adapters.runtime import SystemClock
    from autoscaler.local.setup import write_burst

    kinesis = KinesisAdapter(clients.kinesis, SystemClock())
    done = []
    for name in streams:
        shards = len(kinesis.list_open_shards(name))
        rate = mib_per_s if mib_per_s is not None else burst * shards
        per_minute = rate * MiB * 60
        write_burst(
            clients.cloudwatch,
            name,
            bytes_per_minute=per_minute,
            records_per_minute=rate * RECORDS_PER_MIB * 60,
            minutes=minutes,
        )
        put_records(clients.kinesis, name, records)
        done.append(Seeded(name, shards, rate, minutes, records))
    return done


def put_records(kinesis: Any, stream: str, count: int) -> None:
    """`count` records of RECORD_BYTES, spread over the key space by their partition keys, 500 per PutRecords call
    (the API's limit). A record refused (FailedRecordCount) is not retried: this is sample data, not a producer."""
    for start in range(0, count, 500):
        keys = [f"seed-{i:010d}" for i in range(start, min(count, start + 500))]
        # a record's size is its data plus its partition key, as Kinesis meters it
        batch = [{"Data": b"x" * (RECORD_BYTES - len(key)), "PartitionKey": key} for key in keys]
        kinesis.put_records(StreamName=stream, Records=batch)
