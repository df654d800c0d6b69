"""Jittered exponential backoff for the named transient conditions the adapters raise (ThrottledError)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from autoscaler.core.errors import ThrottledError

T = TypeVar("T")


def retry_throttled(fn: Callable[[], T], *, sleep: Callable[[float], None], attempts: int = 5) -> T:
    """Call fn at most `attempts` times while it raises ThrottledError, with full-jitter backoff (0.5 s base, 8 s cap).

    The first call runs before tenacity is imported: it is loaded only once a call was actually throttled, which
    keeps its import off the Lambda cold start (bench/cold_start.py). The first failure is replayed into tenacity
    so its backoff schedule is the usual one.
    """
    try:
        return fn()
    except ThrottledError as exc:
        if attempts <= 1:
            raise
        pending = [exc]
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

    def attempt() -> T:
        if pending:
            raise pending.pop()
        return fn()

    retrying = Retrying(
        retry=retry_if_exception_type(ThrottledError),
        wait=wait_random_exponential(multiplier=0.5, max=8),
        stop=stop_after_attempt(attempts),
        sleep=sleep,
        reraise=True,
    )
    return retrying(attempt)
