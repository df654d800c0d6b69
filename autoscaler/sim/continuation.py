"""RecordingContinuation: collects the continuation requests a run hands over (scale-up's or the scale-down
fleet's), for the test or simulator to run."""

from __future__ import annotations

from typing import Any

from autoscaler.events import (
    ContinuationRequest,
    ScaleDownContinuation,
    continuation_payload,
    scale_down_continuation_payload,
)


class RecordingContinuation:
    """Both ContinuationPort and FleetContinuationPort, like the Lambda adapter (aws/continuation.py)."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    def continue_later(self, request: ContinuationRequest | ScaleDownContinuation) -> None:
        # the same serialisation the Lambda adapter sends: a request it could not send fails here too
        if isinstance(request, ScaleDownContinuation):
            scale_down_continuation_payload(request)
        else:
            continuation_payload(request)
        self.requests.append(request)

    def pop_all(self) -> list[Any]:
        out, self.requests = self.requests, []
        return out
