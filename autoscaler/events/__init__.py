"""Lambda events in, domain requests out: CloudWatch alarm notifications (alarms.py), the schedule (schedule.py), and
the project's own continuation wire format (continuation.py). Parsers never raise: what cannot be acted on is a
Rejected with a reason (common.py). The alarm notification a test or the simulator delivers is built by
notification.py."""

from autoscaler.core.limits import KINESIS_NAMESPACE
from autoscaler.events.alarms import (
    AlarmNotification,
    ScaleUpInput,
    parse_scale_up_event,
    screen,
)
from autoscaler.events.common import Rejected
from autoscaler.events.continuation import (
    CONTINUATION_KIND,
    SCALE_DOWN_CONTINUATION_KIND,
    Continuation,
    HandOver,
    continuation_payload,
)
from autoscaler.events.schedule import ScaleDownEvent, ScheduledRun, parse_scale_down_event

__all__ = [
    "CONTINUATION_KIND",
    "KINESIS_NAMESPACE",
    "SCALE_DOWN_CONTINUATION_KIND",
    "AlarmNotification",
    "Continuation",
    "HandOver",
    "Rejected",
    "ScaleDownEvent",
    "ScaleUpInput",
    "ScheduledRun",
    "continuation_payload",
    "parse_scale_down_event",
    "parse_scale_up_event",
    "screen",
]
