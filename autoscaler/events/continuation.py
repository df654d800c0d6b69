"""The project's own wire format: the continuation a function sends itself (InvocationType Event) to go on with a run,
one shape per function, each parsed back by that function's parser. Bounded like any input: a forged one is refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from autoscaler.core.defaults import MAX_CONTINUATION_HOPS
from autoscaler.core.limits import MAX_SHARDS_PER_STREAM
from autoscaler.core.model import Direction
from autoscaler.events.common import STREAM_NAME, _Bad, _text

CONTINUATION_KIND = "kinesis-autoscaler/scale-up-continuation"
SCALE_DOWN_CONTINUATION_KIND = "kinesis-autoscaler/scale-down-continuation"
MAX_FLEET = 10_000  # more streams than any config may list in a continuation is a forgery
IN_PROGRESS_METHODS = frozenset({"merge", "update_shard_count"})
UP_METHODS = frozenset({"", "hot_shard"})  # "hot_shard": the plan cut hot shards by their heat; keep doing so


class HandOver(NamedTuple):
    """One stream's action handed to the next invocation: the lock owner the next hop takes over from (only from it:
    a late or duplicate copy finds the owner rotated and does nothing), where the action goes, and where it began."""

    stream: str
    target: int
    owner: str
    origin_count: int = 0  # the open count when the action began; 0 when unknown (scale-down payloads before 0.2)
    # scale-down: "merge" | "update_shard_count" (an even layout needed); scale-up: "hot_shard" (keep cutting the hot
    # shards by their heat) or "" (re-planned from the stream)
    method: str = ""


class Continuation(NamedTuple):
    """The rest of a run, for a new asynchronous invocation of the same function: the streams whose action is in
    progress (each with its lock held for the next hop) and, for the fleet scale-down, those not started yet."""

    direction: Direction
    hop: int
    handovers: tuple[HandOver, ...]
    pending: tuple[str, ...] = ()


def parse_up_continuation(event: Mapping[str, Any]) -> Continuation:
    stream = _text(event, "stream")
    if not STREAM_NAME.fullmatch(stream):
        raise _Bad("bad-stream-name", f"{stream[:60]!r} is not a Kinesis stream name")
    owner = _text(event, "owner")
    if not 0 < len(owner) <= 64:  # ours are 32 hex characters; the fleet continuation has the same bound
        raise _Bad("malformed", "continuation owner is missing or longer than 64 characters")
    ints = {}
    for key in ("target", "origin_count", "hop"):
        value = event.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad("malformed", f"continuation {key} is not a whole number")
        ints[key] = value
    if not 1 <= ints["hop"] <= MAX_CONTINUATION_HOPS:
        raise _Bad("hop-limit", f"hop {ints['hop']} outside 1…{MAX_CONTINUATION_HOPS}: refusing to continue the chain")
    if not 1 <= ints["origin_count"] <= ints["target"] <= MAX_SHARDS_PER_STREAM:
        raise _Bad("bad-target", f"target {ints['target']} / origin {ints['origin_count']} out of range")
    method = event.get("method", "")  # absent before 0.2: re-planned from the stream
    if method not in UP_METHODS:
        raise _Bad("malformed", f"continuation method {str(method)[:30]!r} is not one of {sorted(UP_METHODS)}")
    handover = HandOver(stream, ints["target"], owner, ints["origin_count"], method)
    return Continuation(Direction.UP, ints["hop"], (handover,))


def continuation_payload(request: Continuation) -> dict[str, Any]:
    """The JSON a function sends itself (InvocationType Event) to go on with a run: one wire shape per function,
    each parsed back by that function's parser (parse_scale_up_event, parse_scale_down_event)."""
    if request.direction is Direction.DOWN:
        return {
            "kind": SCALE_DOWN_CONTINUATION_KIND,
            "hop": request.hop,
            "pending": list(request.pending),
            "in_progress": [
                {"stream": h.stream, "target": h.target, "owner": h.owner, "method": h.method or "merge"}
                | ({"origin_count": h.origin_count} if h.origin_count else {})
                for h in request.handovers
            ],
        }
    if len(request.handovers) != 1 or request.pending:
        raise ValueError("a scale-up continuation carries exactly one stream's hand-over")
    (h,) = request.handovers
    return {
        "kind": CONTINUATION_KIND,
        "stream": h.stream,
        "target": h.target,
        "origin_count": h.origin_count,
        "hop": request.hop,
        "owner": h.owner,
    } | ({"method": h.method} if h.method else {})


def parse_down_continuation(event: Mapping[str, Any]) -> Continuation:
    hop = event.get("hop")
    if isinstance(hop, bool) or not isinstance(hop, int) or not 1 <= hop <= MAX_CONTINUATION_HOPS:
        raise _Bad("hop-limit", f"hop {str(hop)[:20]} outside 1…{MAX_CONTINUATION_HOPS}: refusing to continue")
    pending = event.get("pending", [])
    progress = event.get("in_progress", [])
    if not isinstance(pending, list) or not isinstance(progress, list) or len(pending) + len(progress) > MAX_FLEET:
        raise _Bad("malformed", "pending and in_progress must be lists of at most 10,000 streams")
    for name in pending:
        if not isinstance(name, str) or not STREAM_NAME.fullmatch(name):
            raise _Bad("bad-stream-name", f"{str(name)[:60]!r} is not a Kinesis stream name")
    items = []
    for raw in progress:
        if not isinstance(raw, Mapping):
            raise _Bad("malformed", "an in_progress entry is not an object")
        stream, owner, target = raw.get("stream"), raw.get("owner"), raw.get("target")
        if not isinstance(stream, str) or not STREAM_NAME.fullmatch(stream):
            raise _Bad("bad-stream-name", f"{str(stream)[:60]!r} is not a Kinesis stream name")
        if not isinstance(owner, str) or not 0 < len(owner) <= 64:
            raise _Bad("malformed", "an in_progress owner is missing or too long")
        if isinstance(target, bool) or not isinstance(target, int) or not 1 <= target <= MAX_SHARDS_PER_STREAM:
            raise _Bad("bad-target", f"target {str(target)[:20]} out of range")
        method = raw.get("method", "merge")
        if method not in IN_PROGRESS_METHODS:
            raise _Bad("malformed", f"an in_progress method {str(method)[:30]!r} is not merge or update_shard_count")
        origin = raw.get("origin_count", 0)
        if isinstance(origin, bool) or not isinstance(origin, int) or not 0 <= origin <= MAX_SHARDS_PER_STREAM:
            raise _Bad("bad-target", f"origin_count {str(origin)[:20]} out of range")
        items.append(HandOver(stream, target, owner, origin, method))
    seen: set[str] = set()
    for name in (*pending, *(i.stream for i in items)):  # ours name each stream once: a repeat would work it twice
        if name in seen:
            raise _Bad("malformed", f"stream {name!r} is named twice in the continuation's pending and in_progress")
        seen.add(name)
    return Continuation(Direction.DOWN, hop, tuple(items), tuple(pending))
