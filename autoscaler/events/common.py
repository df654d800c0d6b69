"""What every event parser shares: the refusal an unusable input becomes, and the helpers that raise it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

from autoscaler.core.limits import STREAM_NAME

__all__ = ["STREAM_NAME", "Rejected", "T"]  # STREAM_NAME: the parsers import it from here with the helpers

T = TypeVar("T")


class Rejected(NamedTuple):
    """An input that will not be acted on, and why (logged by the handler)."""

    reason: str
    detail: str
    message_id: str | None = None


class _Bad(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _guard(fn: Callable[[Any], T], payload: Any, message_id: str | None) -> T | Rejected:
    try:
        return fn(payload)
    except _Bad as bad:
        return Rejected(bad.reason, bad.detail, message_id)
    except Exception as exc:  # defensive: whatever hostile input provokes (OverflowError, …) is a rejection
        return Rejected("malformed", f"{type(exc).__name__}: {str(exc)[:200]}", message_id)


def _text(obj: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = obj.get(key)
    if isinstance(value, str) and value:
        return value
    if required:
        raise _Bad("missing-field", f"{key} is missing or not text")
    return ""
