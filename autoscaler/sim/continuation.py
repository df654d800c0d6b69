"""RecordingContinuation: collects the continuations a run hands over (scale-up's or the scale-down fleet's), for the
test or simulator to run."""

from __future__ import annotations

from autoscaler.events import Continuation, continuation_payload


class RecordingContinuation:
    """The ContinuationPort, like the Lambda adapter (aws/continuation.py), without the invoke."""

    def __init__(self) -> None:
        self.requests: list[Continuation] = []

    def continue_later(self, request: Continuation) -> None:
        continuation_payload(request)  # the same serialisation the Lambda adapter sends: what it cannot send fails here
        self.requests.append(request)

    def pop_all(self) -> list[Continuation]:
        out, self.requests = self.requests, []
        return out
