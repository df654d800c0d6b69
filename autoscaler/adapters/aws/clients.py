"""Building clients: botocore directly (boto3's client() is a thin wrapper that also imports s3transfer, ~0.1 s of
cold start for nothing). Standard retry mode retries throttling and transient errors with jittered backoff."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.config import Config

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 5},
    connect_timeout=5,
    max_pool_connections=25,  # the CLI and the storm tests share one client across threads
    read_timeout=20,
)
# Kinesis: no SDK retries. Standard mode counts LimitExceededException as throttling, but for Kinesis it also means
# "account shard quota reached" (final) and "10 UpdateShardCount calls in 24 h" (final): the adapter tells them
# apart with DescribeLimits and retries only the TPS case itself (aws/kinesis.py), within the invocation's time.
KINESIS_CONFIG = CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))


@dataclass(frozen=True)
class Target:
    """Where the CLI's calls go, from its --region/--profile/--endpoint-url flags; empty fields mean the standard
    environment (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, ~/.aws/config). The handlers always use the default."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    def session(self) -> Any:
        """A botocore session; an explicit profile is an instance variable, so, as with the AWS CLI's --profile, it
        outranks credentials in the environment. Raises ProfileNotFound for a profile ~/.aws does not define."""
        session = botocore.session.get_session()
        if self.profile:
            session.set_config_variable("profile", self.profile)
            session.get_scoped_config()  # raises ProfileNotFound now, not at the first call
        return session

    def client(self, name: str, config: Config = CLIENT_CONFIG, session: Any = None) -> Any:
        session = session or self.session()
        return session.create_client(
            name, region_name=resolve_region(session, self.region), config=config, endpoint_url=self.endpoint_url
        )


@dataclass(frozen=True)
class Clients:
    kinesis: Any
    cloudwatch: Any
    dynamodb: Any
    lambda_: Any
    target: Target = Target()

    def all(self) -> tuple[Any, ...]:
        """Every client built (tests hook their event systems)."""
        return (self.kinesis, self.cloudwatch, self.dynamodb, self.lambda_)

    def make(self, name: str) -> Any:
        """One more client to the same place (CloudFormation, SNS, STS for the CLI)."""
        return self.target.client(name)


def resolve_region(session: Any, region: str | None = None) -> str | None:
    """The region as the AWS CLI v2 picks it: the one given, then AWS_REGION, then AWS_DEFAULT_REGION or the
    profile's (botocore's own order). Lambda sets AWS_REGION; botocore alone would let AWS_DEFAULT_REGION win."""
    return region or os.environ.get("AWS_REGION") or session.get_config_variable("region")


def build_client(name: str, region: str | None = None) -> Any:
    """One more client from the same environment (the notifier's SNS client, built on first use)."""
    session = botocore.session.get_session()
    return session.create_client(name, region_name=resolve_region(session, region), config=CLIENT_CONFIG)


def build_clients(region: str | None = None, target: Target | None = None) -> Clients:
    """Region and endpoint come from the standard environment (AWS_REGION, AWS_ENDPOINT_URL, profiles), or from the
    CLI's flags in `target`."""
    target = target or Target(region=region)
    session = target.session()

    def make(name: str) -> Any:
        return target.client(name, KINESIS_CONFIG if name == "kinesis" else CLIENT_CONFIG, session)

    return Clients(
        kinesis=make("kinesis"),
        cloudwatch=make("cloudwatch"),
        dynamodb=make("dynamodb"),
        lambda_=make("lambda"),
        target=target,
    )
