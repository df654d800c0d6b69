"""ContinuationPort contract: what RecordingContinuation records is exactly what the next
invocation would act on after LambdaContinuation sent it.

The Lambda adapter runs on botocore's Stubber (moto cannot run a Lambda without Docker); the request it sends is
captured, decoded from JSON as Lambda hands it to the handler, and parsed by the handler's own event parser
(autoscaler/events/__init__.py). The double's side is what the simulator and the use-case tests run: its recorded requests.
The cases hold both to "the same request comes out".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import botocore.session
import pytest
from botocore.stub import ANY, Stubber

from autoscaler.adapters.aws.continuation import LambdaContinuation
from autoscaler.adapters.fakes.continuation import RecordingContinuation
from autoscaler.core.defaults import MAX_CONTINUATION_HOPS
from autoscaler.core.model import Direction
from autoscaler.events import (
    CONTINUATION_KIND,
    Continuation,
    HandOver,
    Rejected,
    continuation_payload,
    parse_scale_down_event,
    parse_scale_up_event,
)

pytestmark = [pytest.mark.integration, pytest.mark.contract]
FUNCTION = "kinesis-autoscaler-scale-up"
OWNER = "0123456789abcdef0123456789abcdef"  # the services' owners are 32 hex characters

Request = Continuation


def up(stream: str, target: int, origin: int, hop: int, owner: str) -> Continuation:
    return Continuation(Direction.UP, hop, (HandOver(stream, target, owner, origin),))


def down(hop: int, pending: tuple[str, ...], handovers: tuple[HandOver, ...]) -> Continuation:
    return Continuation(Direction.DOWN, hop, handovers, pending)


@dataclass
class ContinuationHarness:
    impl: str
    send: Callable[[Request], None]
    received: Callable[[], list[Any]]  # what the next invocation(s) would act on, in order


def parse(payload: dict[str, Any]) -> Any:
    """The handler's view: Lambda delivers the JSON payload as the event; each function parses its own kind."""
    if payload.get("kind") == CONTINUATION_KIND:
        (parsed,) = parse_scale_up_event(payload)
        return parsed
    return parse_scale_down_event(payload)


@contextmanager
def recording() -> Iterator[ContinuationHarness]:
    rec = RecordingContinuation()
    yield ContinuationHarness("recording", rec.continue_later, lambda: list(rec.requests))


@contextmanager
def lambda_on_stubber() -> Iterator[ContinuationHarness]:
    client = botocore.session.get_session().create_client("lambda", region_name="us-east-1")
    sent: list[bytes] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        sent.append(params["Payload"])

    client.meta.events.register("provide-client-params.lambda.Invoke", capture)
    adapter = LambdaContinuation(client, FUNCTION)

    def send(request: Request) -> None:
        # an asynchronous invoke of this same function: Lambda answers 202 with no payload
        stub.add_response(
            "invoke", {"StatusCode": 202}, {"FunctionName": FUNCTION, "InvocationType": "Event", "Payload": ANY}
        )
        adapter.continue_later(request)

    with Stubber(client) as stub:
        yield ContinuationHarness("lambda", send, lambda: [parse(json.loads(p)) for p in sent])
        stub.assert_no_pending_responses()


# Add an implementation here (e.g. a Lambda emulator) and every case runs on it.
IMPLS = {"recording": recording, "lambda": lambda_on_stubber}


@pytest.fixture(params=list(IMPLS))
def continuation(request: pytest.FixtureRequest) -> Iterator[ContinuationHarness]:
    with IMPLS[request.param]() as harness:
        yield harness


SCALE_UP = {
    "first hop": up("orders", target=16, origin=4, hop=1, owner=OWNER),
    "last hop allowed": up("orders.v2_x-y", 10_000, 5_000, MAX_CONTINUATION_HOPS, OWNER),
}
SCALE_DOWN = {
    "pending only": down(hop=1, pending=("a", "b"), handovers=()),
    "merges and a resize in progress": down(
        hop=3,
        pending=("c",),
        handovers=(
            HandOver("a", 2, OWNER, 0, "merge"),
            HandOver("b", 8, OWNER[::-1], 16, "update_shard_count"),
        ),
    ),
    "nothing left but in-progress work": down(
        hop=MAX_CONTINUATION_HOPS, pending=(), handovers=(HandOver("a", 1, OWNER, method="merge"),)
    ),
}
SAMPLES: dict[str, Request] = {**SCALE_UP, **SCALE_DOWN}


@pytest.mark.parametrize("case", list(SAMPLES))
def test_the_next_invocation_acts_on_exactly_the_request_handed_over(
    continuation: ContinuationHarness, case: str
) -> None:
    continuation.send(SAMPLES[case])
    assert continuation.received() == [SAMPLES[case]]


def test_hand_overs_arrive_in_the_order_sent(continuation: ContinuationHarness) -> None:
    for request in SAMPLES.values():
        continuation.send(request)
    assert continuation.received() == list(SAMPLES.values())


@pytest.mark.parametrize("case", list(SAMPLES))
def test_the_double_records_what_the_adapter_sends(case: str) -> None:
    """Byte for byte: the double's request, put on the wire by the payload functions, is the adapter's Payload."""
    rec = RecordingContinuation()
    rec.continue_later(SAMPLES[case])
    (recorded,) = rec.requests
    with lambda_on_stubber() as lam:
        lam.send(SAMPLES[case])
        (sent,) = lam.received()
    assert recorded == sent
    wire = continuation_payload(recorded)
    assert parse(json.loads(json.dumps(wire))) == recorded


BEYOND_THE_PARSER: dict[str, Request] = {
    "hop past the limit": up("orders", 16, 4, MAX_CONTINUATION_HOPS + 1, OWNER),
    "owner too long": up("orders", 16, 4, 1, "x" * 65),
    "fleet hop past the limit": down(MAX_CONTINUATION_HOPS + 1, ("a",), ()),
    "a stream named twice": down(1, ("a",), (HandOver("a", 2, OWNER, method="merge"),)),
}


@pytest.mark.parametrize("case", list(BEYOND_THE_PARSER))
def test_a_request_the_next_invocation_would_reject_is_not_acted_on(
    continuation: ContinuationHarness, case: str
) -> None:
    """AWS accepts any JSON payload; the receiving handler rejects these, so nothing is continued. The services never
    build one (they stop at the hop limit), and the double must not run one the real chain would drop."""
    continuation.send(BEYOND_THE_PARSER[case])
    received = continuation.received()
    assert all(isinstance(r, Rejected) for r in received)
