"""Jittered exponential backoff for the named transient conditions the adapters raise (ThrottledError)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from autoscaler.errors import ThrottledError

T = TypeVar("T")


def retry_throttled(fn: Callable[[], T], *, sleep: Callable[[float], None], attempts: int = 5) -> T:
    """Call fn, retrying ThrottledError up to `attempts` times with full-jitter backoff (0.5 s base, 8 s cap)."""
    retrying = Retrying(
        retry=retry_if_exception_type(ThrottledError),
        wait=wait_random_exponential(multiplier=0.5, max=8),
        stop=stop_after_attempt(attempts),
        sleep=sleep,
        reraise=True,
    )
    return retrying(fn)
