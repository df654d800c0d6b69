"""RecordingContinuation: collects the continuations a run hands over (scale-up's or the scale-down fleet's), for the
test or simulator to run."""

from __future__ import annotations

import json

from autoscaler.core.model import Direction
from autoscaler.events import Continuation, Rejected, continuation_payload, parse_scale_down_event, parse_scale_up_event


class RecordingContinuation:
    """The ContinuationPort, like the Lambda adapter (aws/continuation.py), without the invoke."""

    def __init__(self) -> None:
        self.requests: list[Continuation] = []
        self.rejected: list[Rejected] = []  # sent, but the next invocation's parser would drop them

    def continue_later(self, request: Continuation) -> None:
        # What the next invocation acts on: the Lambda adapter's payload, through JSON, through the handler's parser
        # (a request it could not send fails here too; one the receiver would reject is not run).
        wire = json.loads(json.dumps(continuation_payload(request)))
        received: object
        if request.direction is Direction.DOWN:
            received = parse_scale_down_event(wire)
        else:
            (received,) = parse_scale_up_event(wire)
        if isinstance(received, Continuation):
            self.requests.append(received)
        elif isinstance(received, Rejected):
            self.rejected.append(received)
        else:  # a payload parsed as anything else (a scheduled run, an alarm) is not what was handed over
            self.rejected.append(Rejected("not-a-continuation", f"parsed as {type(received).__name__}"))

    def pop_all(self) -> list[Continuation]:
        out, self.requests = self.requests, []
        return out
