"""kinesis-autoscaler: push-based scale-up and scheduled scale-down for Kinesis Data Streams (provisioned mode)."""

__version__ = "0.1.0"
