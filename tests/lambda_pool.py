"""Concurrent handler invocations the way Lambda runs them: many containers, one invocation at a time in each.

A container is a worker process that imports the handler module once (its clients, config and Powertools objects are
module-level, as in a warm Lambda container) and then runs the invocations it is given one after another. Running
concurrent invocations as threads of one process is not what Lambda does and is wrong for this code: Powertools'
`Metrics` keeps its metric set at class level, shared by every instance in the process, so one thread's flush
empties it under another's (`SchemaValidationError: Must contain at least one metric`, seen once in 952 tests).

Each round hands every container a list of events; a cross-process barrier releases all containers together, so
their first invocations start at the same moment and race for the lock.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import traceback
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

START_TIMEOUT_S = 120.0  # 50 spawned interpreters importing botocore and Powertools on 2 cores take ~30 s
ROUND_TIMEOUT_S = 240.0


def _container(
    index: int,
    module_name: str,
    environ: Mapping[str, str],
    account: str,
    tasks: Any,
    results: Any,
    barrier: Any,
) -> None:
    """One warm container: import once, then run each task's events in order, one at a time."""
    os.environ.update(environ)
    try:
        from autoscaler.local.alarm_events import FakeLambdaContext

        module = importlib.import_module(module_name)
    except BaseException:
        results.put((index, "error", traceback.format_exc()))
        return
    results.put((index, "ready", None))
    while True:
        events = tasks.get()
        if events is None:
            return
        barrier.wait(timeout=ROUND_TIMEOUT_S)
        out: list[dict[str, Any]] = []
        for event in events:
            try:
                out.append(module.handler(event, FakeLambdaContext(account)))
            except Exception as exc:  # Lambda would retry the event: the test sees it as a result, not a lost worker
                out.append({"raised": f"{type(exc).__name__}: {exc}"})
        results.put((index, "done", out))


class LambdaPool:
    """`size` warm containers of one handler module, with `environ` set before the import."""

    def __init__(self, module_name: str, environ: Mapping[str, str], *, size: int, account: str) -> None:
        self.size = size
        ctx = multiprocessing.get_context("spawn")  # never fork a parent whose threads hold locks
        self._results = ctx.Queue()
        self._tasks = [ctx.Queue() for _ in range(size)]
        self._barrier = ctx.Barrier(size)
        self._procs = [
            ctx.Process(
                target=_container,
                args=(i, module_name, dict(environ), account, self._tasks[i], self._results, self._barrier),
                daemon=True,
            )
            for i in range(size)
        ]

    def __enter__(self) -> LambdaPool:
        for p in self._procs:
            p.start()
        for _ in range(self.size):
            index, kind, detail = self._results.get(timeout=START_TIMEOUT_S)
            if kind != "ready":
                self.close()
                raise RuntimeError(f"container {index} failed to import its handler:\n{detail}")
        return self

    def run_round(self, per_container: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
        """Give container i the events per_container[i]; all start together. Returns every handler answer."""
        if len(per_container) != self.size:
            raise ValueError(f"{len(per_container)} event lists for {self.size} containers")
        for queue, events in zip(self._tasks, per_container, strict=True):
            queue.put(list(events))
        answers: list[dict[str, Any]] = []
        for _ in range(self.size):
            index, kind, out = self._results.get(timeout=ROUND_TIMEOUT_S)
            if kind != "done":
                raise RuntimeError(f"container {index}: {kind}: {out}")
            answers.extend(out)
        return answers

    def close(self) -> None:
        for queue in self._tasks:
            queue.put(None)
        for p in self._procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
