"""autoscaler/local/setup.py's cooldown table on botocore's Stubber: the shapes AWS, moto and dynalite answer with.
dynalite has no UpdateTimeToLive; the table still works (the lock never relies on TTL), and real errors still raise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from autoscaler.local.setup import create_table

pytestmark = pytest.mark.integration
TABLE = "cooldown"
TTL = {"TableName": TABLE, "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "expires_at"}}


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = botocore.session.get_session().create_client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def table(status: str) -> dict[str, Any]:
    return {"Table": {"TableName": TABLE, "TableStatus": status}}


def ttl(status: str) -> dict[str, Any]:
    return {"TimeToLiveDescription": {"TimeToLiveStatus": status}}


def test_waits_for_active_before_enabling_ttl(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response("create_table", {"TableDescription": {"TableStatus": "CREATING"}})
    stub.add_response("describe_table", table("CREATING"), {"TableName": TABLE})
    stub.add_response("describe_table", table("ACTIVE"), {"TableName": TABLE})
    stub.add_response("describe_time_to_live", ttl("DISABLED"), {"TableName": TABLE})
    stub.add_response("update_time_to_live", {}, TTL)
    assert create_table(client, TABLE) is True


def test_second_run_leaves_ttl_alone(stubbed: tuple[Any, Stubber]) -> None:
    """AWS refuses to enable TTL twice (ValidationException): an existing table with TTL on gets no update."""
    client, stub = stubbed
    stub.add_client_error("create_table", "ResourceInUseException")
    stub.add_response("describe_table", table("ACTIVE"), {"TableName": TABLE})
    stub.add_response("describe_time_to_live", ttl("ENABLED"), {"TableName": TABLE})
    assert create_table(client, TABLE) is True


def test_an_endpoint_without_update_time_to_live_still_gets_its_table(stubbed: tuple[Any, Stubber]) -> None:
    """dynalite: DescribeTimeToLive says DISABLED, UpdateTimeToLive is UnknownOperationException (HTTP 400)."""
    client, stub = stubbed
    stub.add_response("create_table", {"TableDescription": {"TableStatus": "ACTIVE"}})
    stub.add_response("describe_table", table("ACTIVE"), {"TableName": TABLE})
    stub.add_response("describe_time_to_live", ttl("DISABLED"), {"TableName": TABLE})
    stub.add_client_error("update_time_to_live", "UnknownOperationException", http_status_code=400)
    assert create_table(client, TABLE) is False


@pytest.mark.parametrize("code", ["AccessDeniedException", "ValidationException", "LimitExceededException"])
def test_real_ttl_errors_are_not_hidden(stubbed: tuple[Any, Stubber], code: str) -> None:
    client, stub = stubbed
    stub.add_response("create_table", {"TableDescription": {"TableStatus": "ACTIVE"}})
    stub.add_response("describe_table", table("ACTIVE"), {"TableName": TABLE})
    stub.add_response("describe_time_to_live", ttl("DISABLED"), {"TableName": TABLE})
    stub.add_client_error("update_time_to_live", code)
    with pytest.raises(ClientError, match=code):
        create_table(client, TABLE)
