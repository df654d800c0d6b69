"""RecordingContinuation: collects the continuation requests a run hands over, for the test or simulator to run."""

from __future__ import annotations

from autoscaler.events import ContinuationRequest, continuation_payload


class RecordingContinuation:
    def __init__(self) -> None:
        self.requests: list[ContinuationRequest] = []

    def continue_later(self, request: ContinuationRequest) -> None:
        continuation_payload(request)  # the same serialisation the Lambda adapter sends
        self.requests.append(request)

    def pop_all(self) -> list[ContinuationRequest]:
        out, self.requests = self.requests, []
        return out
