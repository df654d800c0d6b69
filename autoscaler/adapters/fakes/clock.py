"""A simulated clock and invocation budget: sleeping advances time instantly."""

from __future__ import annotations

import threading


class SimClock:
    """Clock port on simulated time. Thread-safe; sleep() advances now() by exactly the seconds asked."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept = 0.0

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)
            self.slept += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.sleep(seconds)


class SimBudget:
    """Budget port: a Lambda invocation of `timeout` seconds that started at the clock's current time."""

    def __init__(self, clock: SimClock, timeout: float = 900.0) -> None:
        self.clock = clock
        self.deadline = clock.now() + timeout

    def remaining(self) -> float:
        return max(0.0, self.deadline - self.clock.now())
