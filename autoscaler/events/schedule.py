"""The scheduled functions' events (scale-down, gauge, and the scale-up's sweep): EventBridge's scheduled-rule
event, and the scale-down's own continuation (events/continuation.py). Anything else is Rejected with a reason; never
raises."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from autoscaler.events.common import Rejected, _Bad, _guard, _text
from autoscaler.events.continuation import SCALE_DOWN_CONTINUATION_KIND, Continuation, parse_down_continuation


class ScheduledRun(NamedTuple):
    """An EventBridge scheduled-rule event (detail-type "Scheduled Event", source aws.events, detail {})."""

    account_id: str
    region: str
    time: str
    rule_arn: str


ScaleDownEvent = ScheduledRun | Continuation | Rejected


def parse_scale_down_event(event: Any) -> ScaleDownEvent:
    """The schedule's event or a continuation; anything else is Rejected with a reason. Never raises."""
    if not isinstance(event, Mapping):
        return Rejected("not-an-object", f"event is a {type(event).__name__}, expected a JSON object")
    if event.get("kind") == SCALE_DOWN_CONTINUATION_KIND:
        return _guard(parse_down_continuation, event, None)
    return _guard(parse_scheduled, event, None)


def parse_scheduled(event: Mapping[str, Any]) -> ScheduledRun:
    if event.get("source") != "aws.events" or event.get("detail-type") != "Scheduled Event":
        raise _Bad("unknown-shape", "not a scheduled event (source aws.events, detail-type Scheduled Event)")
    if event.get("detail") not in ({}, None):
        raise _Bad("unexpected-detail", "a scheduled event carries an empty detail; this one has content")
    account, region = _text(event, "account"), _text(event, "region")
    if not re.fullmatch(r"\d{12}", account) or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise _Bad("malformed", "account or region is not an AWS account id / region code")
    resources = event.get("resources")
    rule = resources[0] if isinstance(resources, list) and resources and isinstance(resources[0], str) else ""
    return ScheduledRun(account, region, _text(event, "time", required=False), rule)
