"""Clients are built from the standard environment, so AWS_ENDPOINT_URL_<SERVICE> routes one service and
AWS_ENDPOINT_URL the rest, as in every AWS SDK and tool (the emulator suite relies on it: Kinesis on kinesis-mock,
DynamoDB on dynalite, the rest on moto). No request is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoscaler.adapters.aws.clients import build_client, build_clients

pytestmark = pytest.mark.integration


def test_per_service_endpoint_variables_win_over_the_general_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4001")
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:4002")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:4003")
    clients = build_clients()
    assert clients.kinesis.meta.endpoint_url == "http://127.0.0.1:4002"
    assert clients.dynamodb.meta.endpoint_url == "http://127.0.0.1:4003"
    assert clients.cloudwatch.meta.endpoint_url == "http://127.0.0.1:4001"
    assert clients.lambda_.meta.endpoint_url == "http://127.0.0.1:4001"
    assert build_client("sns").meta.endpoint_url == "http://127.0.0.1:4001"


def test_without_variables_the_clients_go_to_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    clients = build_clients()
    assert clients.kinesis.meta.endpoint_url == "https://kinesis.eu-west-1.amazonaws.com"
    assert clients.dynamodb.meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("aws_region", "default_region", "given", "want"),
    [
        ("eu-west-1", "us-east-1", None, "eu-west-1"),  # AWS_REGION over AWS_DEFAULT_REGION, as the AWS CLI v2
        (None, "us-east-1", None, "us-east-1"),  # AWS_DEFAULT_REGION alone (botocore's own)
        ("eu-west-1", "us-east-1", "ap-south-1", "ap-south-1"),  # an explicit region over both
    ],
)
def test_region_precedence_is_the_aws_cli_v2s(
    monkeypatch: pytest.MonkeyPatch, aws_region: str | None, default_region: str, given: str | None, want: str
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    if aws_region is None:
        monkeypatch.delenv("AWS_REGION", raising=False)
    else:
        monkeypatch.setenv("AWS_REGION", aws_region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", default_region)
    assert build_clients(given).kinesis.meta.region_name == want
    assert build_client("sns", given).meta.region_name == want


def test_an_explicit_profile_outranks_credentials_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--profile P` (Target.profile) signs with P's keys even when AWS_ACCESS_KEY_ID is set, as `aws --profile` does;
    AWS_PROFILE alone would lose to the environment's keys (botocore's chain). An unknown profile fails at once."""
    from botocore.exceptions import ProfileNotFound

    from autoscaler.adapters.aws.clients import Target

    credentials = tmp_path / "credentials"
    credentials.write_text("[ops]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = s\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "e")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    assert Target(profile="ops").session().get_credentials().access_key == "AKIAPROFILE"
    assert Target().session().get_credentials().access_key == "AKIAENVIRONMENT"
    with pytest.raises(ProfileNotFound):
        Target(profile="nosuch").session()
