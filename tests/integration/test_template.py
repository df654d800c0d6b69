"""template.yaml against the code (house rule 7): the scale-up role grants exactly the actions the adapters declare,
each scoped as tightly as AWS allows, and the function, topic and table match what the code expects.

The intrinsic functions in the IAM statements are evaluated by a small resolver (Ref, Sub, Join, Split, GetAtt) with
fake pseudo parameters, so the tests check the ARNs the policies produce, not the shape of the YAML.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from autoscaler.aws import cloudwatch, continuation, cooldown, kinesis
from autoscaler.config import CONFIG_ENV, load_config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FUNCTION = "ScaleUpFunction"
TOPIC = "AlarmTopic"
TABLE = "CooldownTable"

# The adapters the scale-up function runs (autoscaler/handlers/scale_up.py builds one of each).
SCALE_UP_ADAPTERS: tuple[ModuleType, ...] = (kinesis, cloudwatch, cooldown, continuation)

# Actions AWS only authorises on Resource "*": the Service Authorization Reference lists no resource type for them.
RESOURCE_STAR_ALLOWED = {
    "kinesis:DescribeLimits": "reads the account's shard quota; no resource type",
    "kinesis:UpdateShardCount": "no resource type (unlike SplitShard/MergeShards, which take stream*)",
    "cloudwatch:GetMetricData": "classic metrics are not IAM resources; its only resource type is the OTel dataset",
}

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "teststack",
}
ARN_HEAD = "arn:aws:{service}:us-east-1:123456789012"


# --- loading -----------------------------------------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short tags: !Ref x -> {"Ref": x}, !Sub s -> {"Fn::Sub": s}, ..."""


def _short_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _short_tag)


def load_template() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
    return data


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def function(template: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = template["Resources"][FUNCTION]
    assert resource["Type"] == "AWS::Serverless::Function", f"{FUNCTION} must stay a SAM function"
    props: dict[str, Any] = resource["Properties"]
    return props


def resolve(node: Any, params: Mapping[str, Any]) -> Any:
    """Evaluate Ref/Fn::Sub/Fn::Join/Fn::Split/Fn::GetAtt; resources resolve to placeholders like <Table.Arn>."""
    if isinstance(node, list):
        return [resolve(item, params) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1 or not next(iter(node)).startswith(("Ref", "Fn::")):
        return {key: resolve(value, params) for key, value in node.items()}
    ((key, value),) = node.items()
    if key == "Ref":
        return PSEUDO.get(value, params.get(value, f"<{value}>"))
    if key == "Fn::GetAtt":
        name, attr = value
        return f"<{name}.{attr}>"
    if key == "Fn::Join":
        separator, items = resolve(value, params)
        return separator.join(items)
    if key == "Fn::Split":
        separator, text = resolve(value, params)
        return text.split(separator)
    if key == "Fn::Sub":
        text, names = (value, {}) if isinstance(value, str) else (value[0], resolve(value[1], params))

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in names:
                return str(names[name])
            if "." in name:
                return str(resolve({"Fn::GetAtt": name.split(".", 1)}, params))
            return str(resolve({"Ref": name}, params))

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)
    raise AssertionError(f"the test's resolver does not know {key}; extend resolve() or use a supported function")


def parameters(template: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Parameter defaults (CommaDelimitedList split into a list), with overrides."""
    values: dict[str, Any] = {}
    for name, spec in template.get("Parameters", {}).items():
        default = spec.get("Default")
        if spec["Type"] == "CommaDelimitedList" and isinstance(default, str):
            default = default.split(",")
        values[name] = default
    return {**values, **overrides}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for policy in function.get("Policies", []):
        assert isinstance(policy, dict) and set(policy) <= {"Version", "Statement"}, (
            f"{FUNCTION} Policies: write inline statements only, not managed policies or SAM policy templates "
            f"(they grant actions the code does not call): {policy!r}"
        )
        out.extend(policy["Statement"])
    return out


def grants(function: dict[str, Any], params: Mapping[str, Any]) -> dict[str, list[str]]:
    """action -> the resources (resolved) of the Allow statements granting it."""
    out: dict[str, list[str]] = {}
    for statement in statements(function):
        assert statement["Effect"] == "Allow", f"unexpected {statement['Effect']} statement {statement.get('Sid')}"
        assert "NotAction" not in statement and "NotResource" not in statement, "use Action and Resource only"
        for action in as_list(statement["Action"]):
            out.setdefault(action, []).extend(as_list(resolve(statement["Resource"], params)))
    return out


def declared_actions() -> set[str]:
    return {action for module in SCALE_UP_ADAPTERS for action in module.IAM_ACTIONS}


# --- 1. exactly the declared actions --------------------------------------------------------------------------------


def test_every_adapter_that_declares_iam_actions_is_accounted_for() -> None:
    aws_dir = ROOT / "autoscaler" / "aws"
    declaring = {
        path.stem
        for path in aws_dir.glob("*.py")
        if any(
            isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "IAM_ACTIONS" for t in node.targets)
            for node in ast.parse(path.read_text()).body
        )
    }
    known = {module.__name__.rsplit(".", 1)[1] for module in SCALE_UP_ADAPTERS}
    assert declaring == known, (
        f"autoscaler/aws modules declaring IAM_ACTIONS {sorted(declaring)} != SCALE_UP_ADAPTERS {sorted(known)}: "
        "add a new adapter to SCALE_UP_ADAPTERS if the scale-up function uses it (and grant its actions in "
        "template.yaml), or give its own function a role and a test"
    )


def test_role_grants_exactly_the_adapters_iam_actions(template: dict[str, Any], function: dict[str, Any]) -> None:
    granted = set(grants(function, parameters(template)))
    declared = declared_actions()
    assert granted == declared, (
        f"template.yaml {FUNCTION} Policies vs the adapters' IAM_ACTIONS: "
        f"missing {sorted(declared - granted)} (grant them), extra {sorted(granted - declared)} (remove them, or "
        "declare them in the adapter that calls them)"
    )


# --- 2. Resource "*" only where AWS requires it ------------------------------------------------------------------


def test_resource_star_only_for_actions_without_resource_level_permissions(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    starred = {action for action, resources in grants(function, parameters(template)).items() if "*" in resources}
    assert starred <= set(RESOURCE_STAR_ALLOWED), (
        f"Resource '*' for {sorted(starred - set(RESOURCE_STAR_ALLOWED))}: scope them to their resource ARNs; "
        "only actions with no resource type in the Service Authorization Reference may use '*'"
    )


def test_resource_star_actions_are_granted_on_star_only(template: dict[str, Any], function: dict[str, Any]) -> None:
    for action, resources in grants(function, parameters(template)).items():
        if action in RESOURCE_STAR_ALLOWED:
            assert resources == ["*"], (
                f"{action} ({RESOURCE_STAR_ALLOWED[action]}): AWS only matches Resource '*'; got {resources}"
            )


# --- 3. scoping -------------------------------------------------------------------------------------------------


def _stream_arns(names: list[str]) -> list[str]:
    return [f"{ARN_HEAD.format(service='kinesis')}:stream/{name}" for name in names]


@pytest.mark.parametrize("streams", [None, ["a"], ["orders", "clickstream", "payments-v2"]], ids=str)
@pytest.mark.parametrize("action", ["kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:SplitShard"])
def test_kinesis_stream_actions_are_scoped_to_managed_stream_arns(
    template: dict[str, Any], function: dict[str, Any], action: str, streams: list[str] | None
) -> None:
    params = parameters(template) if streams is None else parameters(template, ManagedStreamNames=streams)
    expected = _stream_arns(params["ManagedStreamNames"])
    assert sorted(grants(function, params)[action]) == sorted(expected), (
        f"{action} must be granted on exactly the stream ARNs built from the ManagedStreamNames parameter"
    )


def source_config(config_path: str) -> Path:
    """The repo file behind the packaged config: the build compiles config/X.yaml into config/X.json."""
    path = ROOT / config_path
    return path.with_suffix(".yaml") if path.suffix == ".json" else path


def test_managed_stream_names_default_matches_streams_yaml(template: dict[str, Any]) -> None:
    config = load_config(source_config(template["Parameters"]["ConfigPath"]["Default"]))
    assert parameters(template)["ManagedStreamNames"] == list(config.names), (
        "ManagedStreamNames' default must list the streams of the default streams.yaml, in the same order"
    )


def test_alarm_name_prefix_default_matches_streams_yaml(template: dict[str, Any]) -> None:
    config = load_config(source_config(template["Parameters"]["ConfigPath"]["Default"]))
    assert parameters(template)["AlarmNamePrefix"] == config.alarm_name_prefix, (
        "AlarmNamePrefix' default must equal alarm_name_prefix of the default streams.yaml"
    )


def test_scoped_actions_target_only_their_resource(template: dict[str, Any], function: dict[str, Any]) -> None:
    params = parameters(template)
    function_name = resolve(function["FunctionName"], params)
    alarms = f"{ARN_HEAD.format(service='cloudwatch')}:alarm:{params['AlarmNamePrefix']}-*"
    expected = {
        "cloudwatch:DescribeAlarms": [alarms],
        "cloudwatch:PutMetricAlarm": [alarms],
        "cloudwatch:SetAlarmState": [alarms],
        "dynamodb:GetItem": [f"<{TABLE}.Arn>"],
        "dynamodb:UpdateItem": [f"<{TABLE}.Arn>"],
        "lambda:InvokeFunction": [f"{ARN_HEAD.format(service='lambda')}:function:{function_name}"],
    }
    granted = grants(function, params)
    for action, resources in expected.items():
        assert granted.get(action) == resources, f"{action}: expected exactly {resources}, got {granted.get(action)}"


def test_function_name_is_explicit_so_the_self_invoke_arn_needs_no_getatt(function: dict[str, Any]) -> None:
    name = resolve(function.get("FunctionName"), parameters({"Parameters": {}}))
    assert isinstance(name, str) and "<" not in name, (
        "give the function an explicit FunctionName built from the stack name; lambda:InvokeFunction names it "
        "(GetAtt of the function from its own role is a circular dependency)"
    )


# --- 4. handler -------------------------------------------------------------------------------------------------


def test_handler_resolves_to_a_function_in_the_package(function: dict[str, Any]) -> None:
    module_name, _, attribute = function["Handler"].rpartition(".")
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin is not None, f"Handler module {module_name} not found"
    assert Path(spec.origin).resolve().is_relative_to(ROOT / "autoscaler"), "the handler must live in autoscaler/"
    tree = ast.parse(Path(spec.origin).read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert attribute in defined, f"{module_name} defines no function {attribute!r} (Handler: {function['Handler']})"


def test_runtime_is_a_python_the_project_supports(function: dict[str, Any]) -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(x) for x in requires.removeprefix(">=").split("."))
    runtime = function["Runtime"]
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime)
    assert match and (int(match[1]), int(match[2])) >= minimum, f"Runtime {runtime} is below requires-python"


# --- 5. environment ---------------------------------------------------------------------------------------------


def _environ_reads(path: Path) -> set[str]:
    """String literals passed to os.environ.get(...) / os.environ[...] in a module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        key: ast.expr | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            key = node.args[0] if getattr(node.func.value, "attr", "") == "environ" and node.args else None
        elif isinstance(node, ast.Subscript) and getattr(node.value, "attr", "") == "environ":
            key = node.slice
        if isinstance(key, ast.Constant):
            names.add(str(key.value))
    return names


def test_environment_sets_what_the_handler_reads(function: dict[str, Any]) -> None:
    variables = function["Environment"]["Variables"]
    handler_file = ROOT / (function["Handler"].rpartition(".")[0].replace(".", "/") + ".py")
    lambda_sets = {"AWS_LAMBDA_FUNCTION_NAME"}  # set by Lambda itself
    needed = (_environ_reads(handler_file) | {CONFIG_ENV, "COOLDOWN_TABLE"}) - lambda_sets
    assert needed <= set(variables), f"set {sorted(needed - set(variables))} in {FUNCTION} Environment.Variables"


def test_environment_points_at_the_table_and_the_packaged_config(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    params = parameters(template)
    variables = resolve(function["Environment"]["Variables"], params)
    assert variables["COOLDOWN_TABLE"] == f"<{TABLE}>", "COOLDOWN_TABLE must be !Ref CooldownTable"
    config_path = params["ConfigPath"]
    assert variables[CONFIG_ENV] == f"/var/task/{config_path}", (
        f"{CONFIG_ENV} must be the ConfigPath inside the package root /var/task"
    )
    source = source_config(config_path)
    assert source.is_file(), f"ConfigPath default {config_path}: its source {source} does not exist in the repo"
    load_config(source)  # and it is a valid config
    if config_path.endswith(".json"):
        assert '--compile "$(ARTIFACTS_DIR)/' + config_path + '"' in (ROOT / "Makefile").read_text(), (
            f"the Makefile build target must compile {source.name} into {config_path}"
        )


# --- 6. alarm topic -------------------------------------------------------------------------------------------


def test_topic_policy_lets_only_our_cloudwatch_alarms_publish(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    policies = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SNS::TopicPolicy" and {"Ref": TOPIC} in r["Properties"]["Topics"]
    ]
    assert len(policies) == 1, f"expected one AWS::SNS::TopicPolicy for {TOPIC}, found {len(policies)}"
    allows = [s for s in policies[0]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allows, "the topic policy must allow CloudWatch to publish"
    params = parameters(template)
    our_alarms = f"{ARN_HEAD.format(service='cloudwatch')}:alarm:{params['AlarmNamePrefix']}-*"
    for statement in allows:
        assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}, (
            f"only the cloudwatch.amazonaws.com service principal may be allowed, got {statement['Principal']}"
        )
        assert as_list(statement["Action"]) == ["sns:Publish"], "allow sns:Publish only"
        source_account = statement.get("Condition", {}).get("StringEquals", {}).get("aws:SourceAccount")
        assert source_account == {"Ref": "AWS::AccountId"}, (
            "condition the CloudWatch grant on aws:SourceAccount = AWS::AccountId (confused deputy)"
        )
        source_arn = resolve(statement["Condition"].get("ArnLike", {}).get("aws:SourceArn"), params)
        assert source_arn == our_alarms, (
            f"condition the CloudWatch grant on aws:SourceArn like {our_alarms} (the autoscaler's alarms only)"
        )


def test_topic_uses_a_key_cloudwatch_can_use(template: dict[str, Any]) -> None:
    key = template["Resources"][TOPIC]["Properties"].get("KmsMasterKeyId")
    assert key is not None, "encrypt the alarm topic"
    assert key != "alias/aws/sns", (
        "CloudWatch alarms cannot publish to a topic encrypted with alias/aws/sns (its key policy cannot grant "
        "cloudwatch.amazonaws.com kms:GenerateDataKey*/Decrypt); use a customer managed key"
    )


def test_function_is_subscribed_to_the_alarm_topic(function: dict[str, Any]) -> None:
    topics = [e["Properties"]["Topic"] for e in function["Events"].values() if e["Type"] == "SNS"]
    assert topics == [{"Ref": TOPIC}], f"{FUNCTION} must have one SNS event on {TOPIC}, got {topics}"


def test_failed_async_invocations_are_kept(function: dict[str, Any]) -> None:
    on_failure = function.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure")
    assert on_failure or function.get("DeadLetterQueue"), (
        "the function invokes itself asynchronously: give it an OnFailure destination or a DeadLetterQueue"
    )


# --- 7. cooldown table --------------------------------------------------------------------------------------


def test_table_key_and_ttl_match_the_cooldown_adapter(template: dict[str, Any]) -> None:
    props = template["Resources"][TABLE]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "stream", "KeyType": "HASH"}], "partition key `stream` only"
    assert props["AttributeDefinitions"] == [{"AttributeName": "stream", "AttributeType": "S"}], "`stream` is S"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}, "TTL on expires_at"
    source = Path(cooldown.__file__).read_text()
    for name in ('{"stream": {"S":', "expires_at"):
        assert name in source, f"autoscaler/aws/cooldown.py no longer uses {name!r}: update the table and this test"


# --- packaging ------------------------------------------------------------------------------------------------


def test_makefile_builds_the_function(template: dict[str, Any]) -> None:
    if template["Resources"][FUNCTION].get("Metadata", {}).get("BuildMethod") != "makefile":
        pytest.skip("not built with BuildMethod: makefile")
    targets = re.findall(r"^([A-Za-z0-9_-]+):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert f"build-{FUNCTION}" in targets, f"sam build needs a build-{FUNCTION} target in the Makefile"


def test_requirements_lower_bounds_match_pyproject() -> None:
    project = {
        Requirement(line).name: Requirement(line)
        for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    for requirement in (Requirement(line) for line in lines if line):
        assert requirement.name in project, f"requirements.txt: {requirement.name} is not a pyproject dependency"
        assert requirement.specifier == project[requirement.name].specifier, (
            f"requirements.txt {requirement} vs pyproject.toml {project[requirement.name]}: keep the bounds equal"
        )


# --- 8. cfn-lint ------------------------------------------------------------------------------------------------


def test_cfn_lint_passes() -> None:
    exe = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or shutil.which("cfn-lint")
    if exe is None:
        pytest.skip("cfn-lint is not installed (pip install -e '.[dev]')")
    result = subprocess.run([exe, str(TEMPLATE)], capture_output=True, text=True, check=False, timeout=240)
    assert result.returncode == 0, f"cfn-lint template.yaml failed:\n{result.stdout}{result.stderr}"


# --- what SAM makes of it (needs aws-sam-translator) ------------------------------------------------------------


def test_transformed_role_adds_only_logging_and_the_failure_destination(template: dict[str, Any]) -> None:
    """SAM adds AWSLambdaBasicExecutionRole (logs) and sqs:SendMessage for the OnFailure queue; nothing else."""
    translator = pytest.importorskip("samtranslator.translator.transform", reason="aws-sam-translator not installed")
    sam = load_template()
    sam["Resources"][FUNCTION]["Properties"]["CodeUri"] = "s3://bucket/code.zip"  # what `sam package` puts there

    class Policies:
        def load(self) -> dict[str, str]:
            return {}

    out = translator.transform(sam, {"AWS::Region": "us-east-1"}, Policies())
    role = out["Resources"][f"{FUNCTION}Role"]["Properties"]
    assert [arn.rsplit("/", 1)[1] for arn in role["ManagedPolicyArns"]] == ["AWSLambdaBasicExecutionRole"]
    actions = {
        action
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in as_list(statement["Action"])
    }
    assert actions == declared_actions() | {"sqs:SendMessage"}, f"unexpected grants in the generated role: {actions}"
