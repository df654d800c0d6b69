"""The SAM-translated template created by moto's CloudFormation: the resources moto can model come up, with the
outputs the scripts read. (moto skips AWS::SNS::Subscription, AWS::SNS::TopicPolicy and
AWS::Lambda::EventInvokeConfig: those are covered by tests/integration/test_template.py statically.)"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import botocore.session
import pytest
from moto import mock_aws

from tests.integration.test_template import FUNCTIONS, load_template

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]


def client(name: str) -> Any:
    return botocore.session.get_session().create_client(name, region_name="us-east-1")


def test_translated_stack_creates_on_moto() -> None:
    transform = pytest.importorskip("samtranslator.translator.transform", reason="aws-sam-translator not installed")
    sam = load_template()
    for name in FUNCTIONS:
        sam["Resources"][name]["Properties"]["CodeUri"] = "s3://code-bucket/code.zip"  # what `sam package` writes

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    template = transform.transform(sam, {"AWS::Region": "us-east-1"}, NoManagedPolicies())
    with mock_aws():
        s3 = client("s3")
        s3.create_bucket(Bucket="code-bucket")
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as z:
            z.writestr("autoscaler/__init__.py", "")
        s3.put_object(Bucket="code-bucket", Key="code.zip", Body=package.getvalue())
        cfn = client("cloudformation")
        cfn.create_stack(StackName="ka", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
        stack = cfn.describe_stacks(StackName="ka")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert {"AlarmTopicArn", "CooldownTableName", "ScaleUpFunctionName", "ScaleDownFunctionName"} <= set(outputs)
        assert outputs["ScaleUpFunctionName"] == "ka-scale-up" and outputs["ScaleDownFunctionName"] == "ka-scale-down"
        table = client("dynamodb").describe_table(TableName=outputs["CooldownTableName"])["Table"]
        assert table["KeySchema"] == [{"AttributeName": "stream", "KeyType": "HASH"}]
        fn = client("lambda").get_function(FunctionName="ka-scale-up")["Configuration"]
        assert fn["Handler"] == "autoscaler.handlers.scale_up.handler" and fn["Runtime"] == "python3.12"
        assert fn["Environment"]["Variables"]["COOLDOWN_TABLE"] == outputs["CooldownTableName"]
        rules = client("events").list_rules()["Rules"]
        # gauge, capacity modes, scale-down, the scale-up's re-arm sweep
        assert sorted(r["ScheduleExpression"] for r in rules) == [
            "rate(1 hour)",
            "rate(1 hour)",
            "rate(5 minutes)",
            "rate(6 hours)",
        ]
        assert "ka-modes" in {r["Name"] for r in rules}  # the name the fleet function tells its schedules apart by
        assert outputs["GaugeFunctionName"] == "ka-gauge"
        assert fn["Environment"]["Variables"]["NOTIFY_TOPIC_ARN"] == outputs["NotificationTopicArn"]
        # GaugeSchedule off: the condition leaves the gauge (function, rule, log group, output) out of the stack;
        # Notifications off: the topic and its output, and the functions get an empty NOTIFY_TOPIC_ARN
        cfn.create_stack(
            StackName="kb",
            TemplateBody=json.dumps(template),
            Capabilities=["CAPABILITY_IAM"],
            Parameters=[
                {"ParameterKey": "GaugeSchedule", "ParameterValue": "off"},
                {"ParameterKey": "Notifications", "ParameterValue": "off"},
            ],
        )
        kb = cfn.describe_stacks(StackName="kb")["Stacks"][0]
        assert kb["StackStatus"] == "CREATE_COMPLETE"
        kb_outputs = {o["OutputKey"] for o in kb.get("Outputs", [])}
        assert "GaugeFunctionName" not in kb_outputs and "NotificationTopicArn" not in kb_outputs
        kb_up = client("lambda").get_function(FunctionName="kb-scale-up")["Configuration"]
        assert kb_up["Environment"]["Variables"]["NOTIFY_TOPIC_ARN"] == ""
        kb_types = [r["ResourceType"] for r in cfn.list_stack_resources(StackName="kb")["StackResourceSummaries"]]
        # scale-up's sweep, scale-down, capacity modes (the gauge's rule left out)
        assert kb_types.count("AWS::Lambda::Function") == 2 and kb_types.count("AWS::Events::Rule") == 3
