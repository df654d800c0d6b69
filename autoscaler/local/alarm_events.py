"""A stand-in for the Lambda context, for invoking the handlers directly (moto runs no Lambda without Docker)."""

from __future__ import annotations

import uuid


class FakeLambdaContext:
    """The parts of the Lambda context the handlers use."""

    def __init__(
        self,
        account: str,
        region: str = "us-east-1",
        function_name: str = "kinesis-autoscaler-scale-up",
        timeout_seconds: float = 900.0,
    ) -> None:
        import time

        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(0, int((self._deadline - time.monotonic()) * 1000))
