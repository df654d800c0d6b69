"""Start and stop a moto server process on a free 127.0.0.1 port.

Used as a context manager; the process (and its group) is stopped on exit, on an exception and on Ctrl-C.

The server is moto's own WSGI app with one difference: requests are handled one at a time. moto's threaded server
runs requests concurrently with no lock around its backends, so two DynamoDB conditional writes on one item can
both succeed (measured: 2 winners among 20 concurrent acquires, in 4 of 4 runs of tests/e2e/test_storm.py).
DynamoDB guarantees per-item atomicity for conditional writes; serialising requests restores it. Connections are
still accepted concurrently, so clients still race — only each request is atomic, as in AWS.

It also answers GetMetricData through an index (autoscaler/local/moto_speedups.py): the same results as moto's
own, which scans every datapoint once per period of every query.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import IO

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
MOTO_ACCOUNT_ID = "123456789012"  # moto's default account
LISTEN_BACKLOG = 1024  # connections waiting to be accepted: the storm test opens ~500 at once


def serve(host: str, port: int) -> None:
    """Run moto's WSGI app on host:port with each request handled atomically (see the module docstring)."""
    import threading

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from autoscaler.local import moto_speedups

    moto_speedups.install()  # same answers, without moto's O(queries × periods × datapoints) scan
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serial(environ: dict[str, object], start_response: object) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = make_server(host, port, serial, threaded=True, request_handler=MotoRequestHandler)
    # werkzeug listens with a backlog of 128: a storm of 500 clients connecting at once overflowed it and the kernel
    # reset connections mid-request. Listening again raises the backlog (capped by net.core.somaxconn).
    server.socket.listen(LISTEN_BACKLOG)
    server.serve_forever()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop_process_group(proc: subprocess.Popen[bytes] | None, *, grace: float = 10.0) -> None:
    """SIGTERM the process group a server was started in (start_new_session=True), SIGKILL it after `grace` s."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class MotoServer:
    """`log`: a file for the server's output (appended), else it is discarded. Never the caller's stdout: a server
    that outlives its caller (`kinesis-autoscaler local up`) must not hold the pipe of `$(...)` or of a test's
    capture open, or the reader waits for it forever."""

    def __init__(self, port: int | None = None, *, log: Path | None = None) -> None:
        self.port = port or free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        with contextlib.ExitStack() as files:
            output: IO[bytes] | int = (
                files.enter_context(self.log.open("ab")) if self.log is not None else subprocess.DEVNULL
            )
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                [sys.executable, "-m", "autoscaler.local.moto_server", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited with code {self.proc.returncode}; is moto[server] installed?")
            try:
                self._request("GET", "/moto-api/", timeout=1)
                return
            except (OSError, http.client.HTTPException):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.endpoint} within {timeout:.0f} s")

    def reset(self) -> None:
        """Forget every resource (moto's reset API)."""
        self._request("POST", "/moto-api/reset", timeout=10)

    def _request(self, method: str, path: str, *, timeout: float) -> None:
        """One plain-HTTP request to the server on 127.0.0.1 (never another host or scheme); raises OSError."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path)
            conn.getresponse().read()
        finally:
            conn.close()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_process_group(proc)

    def env(self) -> dict[str, str]:
        """Environment that points botocore (and the CLI as a subprocess) at this server."""
        return {**FAKE_ENV, "AWS_ENDPOINT_URL": self.endpoint}


@contextlib.contextmanager
def running_moto_server() -> Iterator[MotoServer]:
    """A started server, stopped on exit; SIGTERM is turned into KeyboardInterrupt so the finally block runs."""
    server = MotoServer()

    def _term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _term)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    serve("127.0.0.1", int(sys.argv[1]))
