"""The optional notification topic: one short, human-readable summary per scaling action (SNS Publish).

Best effort by contract: a summary that cannot be published is logged and never fails the invocation (the action
has happened; its metrics and log line are the record). The SNS client is built on the first summary, not at import:
most invocations act on nothing, and a client costs cold-start time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

IAM_ACTIONS = ("sns:Publish",)
SUBJECT_MAX = 100  # SNS: subjects are at most 100 printable ASCII characters

log = logging.getLogger("autoscaler.notify")


class SnsNotifier:
    def __init__(self, client_factory: Callable[[], Any], topic_arn: str) -> None:
        self._factory = client_factory
        self._client: Any = None
        self.topic_arn = topic_arn

    def notify(self, subject: str, message: str) -> bool:
        """Publish one summary; True when SNS accepted it."""
        if not self.topic_arn:
            return False
        try:
            if self._client is None:
                self._client = self._factory()
            safe = subject.encode("ascii", "replace").decode()[:SUBJECT_MAX]
            self._client.publish(TopicArn=self.topic_arn, Subject=safe, Message=message)
            return True
        except (ClientError, BotoCoreError) as exc:
            log.warning("notification not published", extra={"topic": self.topic_arn, "error": str(exc)})
            return False


def summary(
    stream: str,
    direction: str,
    before: int | None,
    after: int | None,
    *,
    reason: str,
    seconds: float,
    readers: bool = False,
) -> str:
    """e.g. "orders scaled up 4 -> 8 shards in 95 s: peak 100% of 4 shards needs 8 for headroom 2x"; a scale-up for
    the stream's readers says so: "orders scaled up 4 -> 10 shards for its readers in 95 s: read throttling: …"."""
    counts = f"{before} -> {after} shards" if before is not None and after is not None else "shards changed"
    return f"{stream} scaled {direction} {counts}{' for its readers' if readers else ''} in {seconds:.0f} s: {reason}"


def up_notice(
    stream: str, before: int | None, after: int | None, *, reason: str, seconds: float, readers: bool, note: str = ""
) -> tuple[str, str]:
    """A scale-up's (subject, message), the one shape the handler and the CLI send (SNS keeps 100 subject chars)."""
    subject = f"kinesis-autoscaler: {stream} scaled up {before} -> {after}" + (" for readers" if readers else "")
    return subject, summary(stream, "up", before, after, reason=reason, seconds=seconds, readers=readers) + note
