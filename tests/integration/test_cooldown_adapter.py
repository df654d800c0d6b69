"""CooldownTable on moto (single-threaded, where its conditional writes are faithful) and Stubber for outages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from autoscaler.adapters.aws.cooldown import CooldownTable
from autoscaler.app.ports import Direction
from autoscaler.core.errors import CooldownActive, LockHeld, LockUnavailable
from autoscaler.local.setup import create_table

pytestmark = pytest.mark.integration
T0 = 1_795_000_000.0


def client() -> Any:
    return botocore.session.get_session().create_client("dynamodb", region_name="us-east-1")


@pytest.fixture
def table() -> Iterator[CooldownTable]:
    with mock_aws():
        c = client()
        create_table(c, "cd")
        yield CooldownTable(c, "cd")


def test_acquire_release_cooldown_timeline(table: CooldownTable) -> None:
    table.acquire("orders", owner="A", now=T0, lease_until=T0 + 960, blocked_by=[Direction.UP])
    with pytest.raises(CooldownActive, match="locked by another run"):
        table.acquire("orders", owner="B", now=T0 + 1, lease_until=T0 + 961, blocked_by=[Direction.UP])
    # a continuation takes over from A under a new owner; a second copy of it (still naming A) is refused
    table.acquire("orders", owner="A2", now=T0 + 2, lease_until=T0 + 962, blocked_by=[], take_over_from="A")
    with pytest.raises(LockHeld, match="no longer holds the lock"):
        table.acquire("orders", owner="A3", now=T0 + 3, lease_until=T0 + 963, blocked_by=[], take_over_from="A")
    table.release("orders", owner="A", now=T0 + 99, cooldowns={Direction.UP: T0 + 9999}, action="stale")  # ignored
    table.release("orders", owner="A2", now=T0 + 100, cooldowns={Direction.UP: T0 + 400}, action="scale-up 4 -> 8")
    with pytest.raises(LockHeld):  # released: a late continuation has nothing to take over
        table.acquire("orders", owner="A4", now=T0 + 101, lease_until=T0 + 999, blocked_by=[], take_over_from="A2")
    with pytest.raises(CooldownActive, match="up cooldown for 299 s more"):
        table.acquire("orders", owner="B", now=T0 + 101, lease_until=T0 + 1000, blocked_by=[Direction.UP])
    # a direction that is not blocked by the up cooldown may take the lock
    table.acquire("orders", owner="C", now=T0 + 102, lease_until=T0 + 1000, blocked_by=[Direction.DOWN])
    table.release("orders", owner="C", now=T0 + 103, cooldowns={}, action=None)
    state = table.acquire("orders", owner="B", now=T0 + 400, lease_until=T0 + 1300, blocked_by=[Direction.UP])
    assert state.owner == "B"
    read = table.read("orders")
    assert read is not None and read.last_action == "scale-up 4 -> 8" and read.last_action_at == T0 + 100


def test_expired_lease_can_be_taken_over_and_late_release_is_ignored(table: CooldownTable) -> None:
    table.acquire("orders", owner="crashed", now=T0, lease_until=T0 + 960, blocked_by=[Direction.UP])
    table.acquire("orders", owner="B", now=T0 + 961, lease_until=T0 + 1900, blocked_by=[Direction.UP])
    table.release("orders", owner="crashed", now=T0 + 962, cooldowns={Direction.UP: T0 + 5000}, action="x")
    state = table.read("orders")
    assert state is not None and state.owner == "B" and Direction.UP not in state.cooldown_until


def test_update_shard_count_calls_are_kept_24h(table: CooldownTable) -> None:
    table.acquire("orders", owner="A", now=T0, lease_until=T0 + 960, blocked_by=[])
    table.note_update_shard_count("orders", owner="A", at=T0)
    table.note_update_shard_count("orders", owner="A", at=T0 + 86_000)
    table.note_update_shard_count("orders", owner="A", at=T0 + 86_500)  # the first is now older than 24 h
    table.note_update_shard_count("orders", owner="not-the-owner", at=T0 + 86_600)  # ignored
    state = table.read("orders")
    assert state is not None and state.update_shard_count_calls == (T0 + 86_000, T0 + 86_500)


def test_item_has_ttl_attribute(table: CooldownTable) -> None:
    table.acquire("orders", owner="A", now=T0, lease_until=T0 + 960, blocked_by=[])
    item = table.client.get_item(TableName="cd", Key={"stream": {"S": "orders"}})["Item"]
    assert float(item["expires_at"]["N"]) >= T0 + 960 + 6 * 86_400


@pytest.mark.parametrize("op", ["acquire", "read"])
def test_table_outage_fails_closed(op: str) -> None:
    c = client()
    table = CooldownTable(c, "cd")
    with Stubber(c) as stub:
        stub.add_client_error(
            "update_item" if op == "acquire" else "get_item", "InternalServerError", http_status_code=500
        )
        with pytest.raises(LockUnavailable, match="cooldown table cd"):
            if op == "acquire":
                table.acquire("orders", owner="A", now=T0, lease_until=T0 + 960, blocked_by=[Direction.UP])
            else:
                table.read("orders")


def test_a_refusal_whose_read_back_fails_is_still_a_refusal() -> None:
    """A take-over refused with no item in the failure (the item is gone): the adapter reads it back to explain
    the refusal; that GetItem failing must not turn the refusal into an outage (the condition already decided)."""
    c = client()
    stubber = Stubber(c)
    stubber.add_client_error("update_item", service_error_code="ConditionalCheckFailedException", http_status_code=400)
    stubber.add_client_error("get_item", service_error_code="InternalServerError", http_status_code=500)
    with stubber, pytest.raises(LockHeld) as info:
        CooldownTable(c, "cd").acquire(
            "orders", owner="B", now=T0, lease_until=T0 + 960, blocked_by=[], take_over_from="A"
        )
    assert info.value.state is None and "no longer holds the lock" in str(info.value)
    stubber.assert_no_pending_responses()
