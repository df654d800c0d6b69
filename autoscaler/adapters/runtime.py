"""The edge's real clock and the Lambda invocation budget (the only place that reads wall time)."""

from __future__ import annotations

import time
from typing import Any


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class LambdaBudget:
    """Remaining time of one invocation, from the Lambda context."""

    def __init__(self, context: Any) -> None:
        self.context = context

    def remaining(self) -> float:
        return float(self.context.get_remaining_time_in_millis()) / 1000.0


class FixedBudget:
    """A deadline `seconds` from now, for the CLI and the demo (no Lambda context there). Wall-clock time, as the
    lock's lease: a monotonic clock stops while a laptop sleeps, and the run would go on as if its lease were live."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.time() + seconds

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.time())


def partition_of(context: Any) -> str:
    """From invoked_function_arn arn:<partition>:lambda:…; 'aws' if unreadable."""
    parts = str(getattr(context, "invoked_function_arn", "")).split(":")
    return parts[1] if len(parts) >= 5 and parts[2] == "lambda" and parts[1] else "aws"


def account_and_region(context: Any) -> tuple[str, str]:
    """From invoked_function_arn arn:aws:lambda:<region>:<account>:function:<name>; ('', '') if unreadable."""
    parts = str(getattr(context, "invoked_function_arn", "")).split(":")
    if len(parts) >= 5 and parts[2] == "lambda":
        return parts[4], parts[3]
    return "", ""


def schedule_elsewhere(account_id: str, region: str, context: Any) -> str | None:
    """Why a scheduled event is not this function's to run (another account's or region's rule), or None."""
    account, own_region = account_and_region(context)
    if (account_id, region) == (account, own_region):
        return None
    return f"schedule of {account_id}/{region}, this function runs in {account}/{own_region}"
