"""RecordingContinuation: collects the continuation requests a run hands over (scale-up's or the scale-down
fleet's), for the test or simulator to run."""

from __future__ import annotations

import json
from typing import Any

from autoscaler.events import (
    ContinuationRequest,
    Rejected,
    ScaleDownContinuation,
    continuation_payload,
    parse_scale_down_event,
    parse_scale_up_event,
    scale_down_continuation_payload,
)


class RecordingContinuation:
    """Both ContinuationPort and FleetContinuationPort, like the Lambda adapter (aws/continuation.py)."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.rejected: list[Rejected] = []  # sent, but the next invocation's parser would drop them

    def continue_later(self, request: ContinuationRequest | ScaleDownContinuation) -> None:
        # What the next invocation acts on: the Lambda adapter's payload, through JSON, through the handler's parser
        # (a request it could not send fails here too; one the receiver would reject is not run).
        if isinstance(request, ScaleDownContinuation):
            received: Any = parse_scale_down_event(json.loads(json.dumps(scale_down_continuation_payload(request))))
        else:
            (received,) = parse_scale_up_event(json.loads(json.dumps(continuation_payload(request))))
        if isinstance(received, Rejected):
            self.rejected.append(received)
        else:
            self.requests.append(received)

    def pop_all(self) -> list[Any]:
        out, self.requests = self.requests, []
        return out
