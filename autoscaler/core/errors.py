"""The one exception hierarchy. Messages the operator sees say what to fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autoscaler.core.model import LockState


class AutoscalerError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(AutoscalerError):
    """streams.yaml (or an environment setting) is invalid; the message names the file, line, field and fix."""


class EventError(AutoscalerError):
    """An incoming event cannot be understood; it is logged and ignored, never acted on."""


class StreamNotFound(AutoscalerError):
    """The Kinesis stream does not exist (or was deleted mid-operation)."""


class StreamBusy(AutoscalerError):
    """The stream is not ACTIVE (UPDATING, CREATING, DELETING): another reshard cannot start yet."""


class StreamNotProvisioned(AutoscalerError):
    """The stream is in ON_DEMAND mode; the autoscaler only manages provisioned streams."""


class ThrottledError(AutoscalerError):
    """AWS refused a call for its request rate (TPS); safe to retry with backoff."""


class QuotaExhausted(AutoscalerError):
    """An AWS quota (account shard limit, UpdateShardCount calls per 24 h) forbids it; retrying won't help."""


class UpdateShardCountLimit(QuotaExhausted):
    """UpdateShardCount refused: too many calls in 24 h or a target outside AWS's allowed range; use splits instead."""


class ModeSwitchRefused(AutoscalerError):
    """AWS refused UpdateStreamMode with LimitExceededException: the stream's two switches per 24 h are spent, or the
    account's on-demand stream quota is full. Final for now (never retried as a rate limit)."""


class CooldownActive(AutoscalerError):
    """The stream's cooldown lock is held or its cooldown has not ended; the request is skipped. `state` is the lock
    item that refused (DynamoDB's ALL_OLD on the failed condition), None when there was no item."""

    def __init__(self, message: str, state: LockState | None = None) -> None:
        super().__init__(message)
        self.state = state


class DeadlineExceeded(AutoscalerError):
    """Not enough invocation time is left to start or wait for the next operation."""


class AlarmNotFound(AutoscalerError):
    """An alarm the autoscaler manages for a stream is missing."""


class InvalidRequest(AutoscalerError):
    """AWS rejected a request's arguments (e.g. the shard closed meanwhile); re-read the stream and re-plan."""


class LockUnavailable(AutoscalerError):
    """The cooldown table could not be read or written; no reshard happens without the lock (fail closed)."""


class MetricsUnavailable(AutoscalerError):
    """CloudWatch did not return the datapoints (InternalError, Forbidden, or an API error)."""


class AwsCallFailed(AutoscalerError):
    """An AWS call failed with an error code the adapters do not classify; the message carries the code."""


class TraceError(AutoscalerError):
    """A trace file (or CloudWatch history) cannot be used; the message names the file, the line and the fix."""


class LockHeld(CooldownActive):
    """Another run holds the stream's lock (or a continuation's run no longer does); the request is skipped."""
