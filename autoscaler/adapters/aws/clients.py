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
class Clients:
    kinesis: Any
    cloudwatch: Any
    dynamodb: Any
    lambda_: Any


def resolve_region(session: Any, region: str | None = None) -> str | None:
    """The region as the AWS CLI v2 picks it: the one given, then AWS_REGION, then AWS_DEFAULT_REGION or the
    profile's (botocore's own order). Lambda sets AWS_REGION; botocore alone would let AWS_DEFAULT_REGION win."""
    return region or os.environ.get("AWS_REGION") or session.get_config_variable("region")


def build_client(name: str, region: str | None = None) -> Any:
    """One more client from the same environment (the notifier's SNS client, built on first use)."""
    session = botocore.session.get_session()
    return session.create_client(name, region_name=resolve_region(session, region), config=CLIENT_CONFIG)


def build_clients(region: str | None = None) -> Clients:
    """Region and endpoint come from the standard environment (AWS_REGION, AWS_ENDPOINT_URL, profiles)."""
    session = botocore.session.get_session()
    region = resolve_region(session, region)

    def make(name: str) -> Any:
        config = KINESIS_CONFIG if name == "kinesis" else CLIENT_CONFIG
        return session.create_client(name, region_name=region, config=config)

    return Clients(
        kinesis=make("kinesis"), cloudwatch=make("cloudwatch"), dynamodb=make("dynamodb"), lambda_=make("lambda")
    )
