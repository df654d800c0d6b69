"""ContinuationPort: invoke this same function asynchronously with the rest of the work."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from autoscaler.adapters.aws.errors import error_code
from autoscaler.core.errors import AwsCallFailed
from autoscaler.events import Continuation, continuation_payload

IAM_ACTIONS = ("lambda:InvokeFunction",)


class LambdaContinuation:
    def __init__(self, client: Any, function_name: str) -> None:
        self.client = client
        self.function_name = function_name

    def continue_later(self, request: Continuation) -> None:
        payload = continuation_payload(request)
        try:
            self.client.invoke(
                FunctionName=self.function_name,
                InvocationType="Event",
                Payload=json.dumps(payload).encode(),
            )
        except ClientError as exc:
            raise AwsCallFailed(f"continuation invoke of {self.function_name} failed ({error_code(exc)})") from exc
