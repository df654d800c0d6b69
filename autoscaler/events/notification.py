"""The SNS notification CloudWatch sends when an alarm changes state, built from a DescribeAlarms entry: the simulator
delivers it to the real parser, and moto (which never evaluates alarms) needs it for the demo and the end-to-end
tests. Shape: tests/events/sns-alarm-*.json (real payloads)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any


def sns_alarm_event(
    *,
    alarm: dict[str, Any],
    account: str,
    region: str = "us-east-1",
    new_state: str = "ALARM",
    old_state: str = "OK",
    topic_arn: str | None = None,
    at: datetime,
) -> dict[str, Any]:
    """An SNS delivery of one alarm state change at `at`; `alarm` is a DescribeAlarms MetricAlarms entry."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"
    topic = topic_arn or f"arn:aws:sns:{region}:{account}:kinesis-autoscaler-alarms"
    message = {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription", ""),
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": stamp,
        "NewStateValue": new_state,
        "NewStateReason": f"Threshold Crossed: datapoints were greater than or equal to the threshold "
        f"({alarm['Threshold']}).",
        "StateChangeTime": stamp,
        "Region": "US East (N. Virginia)",
        "AlarmArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm['AlarmName']}",
        "OldStateValue": old_state,
        "OKActions": [],
        "AlarmActions": [topic],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": alarm["MetricName"],
            "Namespace": alarm["Namespace"],
            "StatisticType": "Statistic",
            "Statistic": str(alarm.get("Statistic", "Sum")).upper(),
            "Unit": None,
            "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])],
            "Period": alarm["Period"],
            "EvaluationPeriods": alarm["EvaluationPeriods"],
            "DatapointsToAlarm": alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]),
            "ComparisonOperator": alarm["ComparisonOperator"],
            "Threshold": float(alarm["Threshold"]),
            "TreatMissingData": alarm.get("TreatMissingData", "missing"),
            "EvaluateLowSampleCountPercentile": "",
        },
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic,
                    "Subject": f'{new_state}: "{alarm["AlarmName"]}" in US East (N. Virginia)',
                    "Message": json.dumps(message),
                    "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://example.invalid/cert.pem",
                    "UnsubscribeUrl": "https://example.invalid/unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }
