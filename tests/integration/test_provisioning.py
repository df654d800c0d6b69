"""The create-streams adapter where a moto end-to-end run cannot reach: a count that moved before an alarm put,
and a stream that vanishes while we wait for it."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from autoscaler.adapters.aws.provisioning import CREATE_WAIT_SECONDS, Provisioning
from autoscaler.adapters.fakes.clock import SimClock
from autoscaler.app.onboarding import Action, ActionKind
from autoscaler.core.capacity import alarm_specs
from autoscaler.core.errors import AwsCallFailed, StreamNotFound

pytestmark = pytest.mark.integration


def client(name: str) -> Any:
    return botocore.session.get_session().create_client(name, region_name="us-east-1")


def test_alarm_threshold_follows_the_count_at_the_moment_of_the_put() -> None:
    with mock_aws():
        kinesis, cloudwatch = client("kinesis"), client("cloudwatch")
        kinesis.create_stream(StreamName="s", ShardCount=3)  # planned for 2, resharded to 3 meanwhile
        spec = alarm_specs(
            "ka", "s", 2, scale_up_threshold=0.8, period_seconds=60, evaluation_periods=2, datapoints_to_alarm=2
        )[0]
        cloudwatch.put_metric_alarm(
            AlarmName=spec.name,
            MetricName="IncomingBytes",
            Namespace="AWS/Kinesis",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=["arn:pager"],
        )
        prov = Provisioning(kinesis, cloudwatch, SimClock())
        prov.apply(
            Action(ActionKind.PUT_ALARM, "s", "update", alarm=spec, value=2, keep_actions=("arn:pager",)),
            "arn:topic",
            lambda _: None,
        )
        alarm = cloudwatch.describe_alarms(AlarmNames=[spec.name])["MetricAlarms"][0]
        assert alarm["Threshold"] == pytest.approx(0.8 * 3 * 1_048_576 * 60)
        assert alarm["AlarmActions"] == ["arn:topic", "arn:pager"], "an operator's extra action is kept"


def test_waiting_for_a_stream_that_vanished_gives_up_at_the_deadline() -> None:
    kinesis = client("kinesis")
    clock = SimClock()
    prov = Provisioning(kinesis, client("cloudwatch"), clock)
    with Stubber(kinesis) as stub:
        for _ in range(CREATE_WAIT_SECONDS + 10):
            stub.add_client_error("describe_stream_summary", "ResourceNotFoundException")
        start = clock.now()
        with pytest.raises(StreamNotFound):
            prov._wait("gone", lambda _: None, "creating")
        assert CREATE_WAIT_SECONDS <= clock.now() - start <= CREATE_WAIT_SECONDS + 2
        stub._queue.clear()


def test_an_on_demand_creation_over_the_accounts_on_demand_quota_is_refused_before_create_stream() -> None:
    kinesis = client("kinesis")
    prov = Provisioning(kinesis, client("cloudwatch"), SimClock())
    full = {"ShardLimit": 500, "OpenShardCount": 4, "OnDemandStreamCount": 50, "OnDemandStreamCountLimit": 50}
    with Stubber(kinesis) as stub:
        stub.add_response("describe_limits", full)  # and no create_stream response: calling it would fail the test
        with pytest.raises(AwsCallFailed, match=r"50 on-demand streams .* OnDemandStreamCountLimit is 50"):
            prov.apply(Action(ActionKind.CREATE_STREAM, "od", "on-demand", value="ON_DEMAND"), "arn:t", lambda _: None)
        stub.assert_no_pending_responses()


def test_an_on_demand_creation_sends_no_shard_count() -> None:
    with mock_aws():
        kinesis = client("kinesis")
        prov = Provisioning(kinesis, client("cloudwatch"), SimClock())
        prov.apply(Action(ActionKind.CREATE_STREAM, "od", "on-demand", value="ON_DEMAND"), "arn:t", lambda _: None)
        summary = kinesis.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]
        assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}


def test_delete_alarms_sends_at_most_100_names_per_call() -> None:
    """DeleteAlarms' AlarmNames has at most 100 members (CloudWatch API reference): 230 names are three calls."""
    cloudwatch = client("cloudwatch")
    names = [f"ka/s{i}/incoming-bytes" for i in range(230)]
    with Stubber(cloudwatch) as stub:
        for chunk in (names[:100], names[100:200], names[200:]):
            stub.add_response("delete_alarms", {}, {"AlarmNames": chunk})
        Provisioning(client("kinesis"), cloudwatch, SimClock()).delete_alarms(names)
        stub.assert_no_pending_responses()


def test_describe_stack_reads_outputs_and_parameters_and_a_missing_stack_is_none() -> None:
    from autoscaler.adapters.aws.provisioning import describe_stack

    cloudformation = client("cloudformation")
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "ka",
                        "CreationTime": "2026-12-01T00:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        # CloudFormation returns a CommaDelimitedList parameter as the text given (moto: a repr)
                        "Parameters": [{"ParameterKey": "ManagedStreamNames", "ParameterValue": "orders,clicks"}],
                        "Outputs": [{"OutputKey": "CooldownTableName", "OutputValue": "ka-CooldownTable-1X"}],
                    }
                ]
            },
            {"StackName": "ka"},
        )
        stub.add_client_error(
            "describe_stacks", "ValidationError", "Stack with id gone does not exist", 400, {"StackName": "gone"}
        )
        stub.add_client_error("describe_stacks", "AccessDenied", "not allowed", 403, {"StackName": "ka"})
        info = describe_stack(cloudformation, "ka")
        assert info is not None and info.outputs == {"CooldownTableName": "ka-CooldownTable-1X"}
        assert info.managed_stream_names() == ["orders", "clicks"]
        assert describe_stack(cloudformation, "gone") is None
        with pytest.raises(botocore.exceptions.ClientError):  # not "no stack": the operator must see it
            describe_stack(cloudformation, "ka")
