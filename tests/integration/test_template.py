"""template.yaml against the code (house rule 7): each function's role grants exactly the actions its code calls,
built from the IAM_ACTIONS constants the adapters declare, each scoped as tightly as AWS allows; and the functions,
schedule, topic and table match what the code expects.

FUNCTIONS below is the one table of which function runs which handler and needs which actions. Scale-up never gets
kinesis:MergeShards, scale-down never kinesis:SplitShard (both may UpdateShardCount), and together they cover every
adapter's IAM_ACTIONS (no declared action is forgotten).

The intrinsic functions in the IAM statements are evaluated by a small resolver (Ref, Sub, Join, Split, GetAtt) with
fake pseudo parameters, so the tests check the ARNs the policies produce, not the shape of the YAML.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest
import yaml
from packaging.requirements import Requirement

from autoscaler.adapters.aws import cloudwatch, continuation, cooldown, kinesis, notify
from autoscaler.config import CONFIG_ENV, load_config
from autoscaler.core import defaults

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
TOPIC = "AlarmTopic"
TABLE = "CooldownTable"
SCHEDULE_PARAMETER = "ScaleDownSchedule"


class FunctionSpec(NamedTuple):
    handler_module: str  # template Handler is "<handler_module>.handler"
    actions: frozenset[str]  # exactly what its role grants (SAM's logging and OnFailure grants aside)
    forbidden: frozenset[str]  # never granted: the other direction's reshard actions
    uses_lock: bool = True  # builds the services' ports (COOLDOWN_TABLE); the read-only gauge does not


def _actions(*groups: Iterable[str]) -> frozenset[str]:
    return frozenset(action for group in groups for action in group)


# The adapters each function's composition root builds (autoscaler/handlers/*.py), as actions.
FUNCTIONS: dict[str, FunctionSpec] = {
    "ScaleUpFunction": FunctionSpec(
        handler_module="autoscaler.handlers.scale_up",
        actions=_actions(
            kinesis.READ_ACTIONS,
            kinesis.SCALE_UP_ACTIONS,
            kinesis.RESIZE_ACTIONS,
            cloudwatch.IAM_ACTIONS,
            cooldown.IAM_ACTIONS,
            continuation.IAM_ACTIONS,
            notify.IAM_ACTIONS,
        ),
        forbidden=_actions(kinesis.SCALE_DOWN_ACTIONS, kinesis.MODE_ACTIONS),
    ),
    "ScaleDownFunction": FunctionSpec(
        handler_module="autoscaler.handlers.scale_down",
        actions=_actions(
            kinesis.READ_ACTIONS,
            kinesis.SCALE_DOWN_ACTIONS,
            kinesis.RESIZE_ACTIONS,
            kinesis.FLEET_READ_ACTIONS,
            kinesis.MODE_ACTIONS,
            cloudwatch.IAM_ACTIONS,
            cooldown.IAM_ACTIONS,
            continuation.IAM_ACTIONS,
            notify.IAM_ACTIONS,
        ),
        forbidden=_actions(kinesis.SCALE_UP_ACTIONS),
    ),
    "GaugeFunction": FunctionSpec(
        handler_module="autoscaler.handlers.gauge",
        actions=_actions(kinesis.GAUGE_ACTIONS, cloudwatch.METRICS_IAM_ACTIONS),
        forbidden=_actions(
            kinesis.SCALE_UP_ACTIONS, kinesis.SCALE_DOWN_ACTIONS, kinesis.RESIZE_ACTIONS, kinesis.MODE_ACTIONS
        ),
        uses_lock=False,
    ),
}

# Every autoscaler/adapters/aws module that declares IAM_ACTIONS.
ADAPTERS: tuple[ModuleType, ...] = (kinesis, cloudwatch, cooldown, continuation, notify)

# Actions AWS only authorises on Resource "*": the Service Authorization Reference lists no resource type for them.
RESOURCE_STAR_ALLOWED = {
    "kinesis:DescribeLimits": "reads the account's shard quota; no resource type",
    "kinesis:UpdateShardCount": "no resource type (unlike SplitShard/MergeShards, which take stream*)",
    "kinesis:ListStreams": "lists the account's streams; no resource type",
    # the IAM dataset behind policy generators lists "resources": [] for it, as for UpdateShardCount
    "kinesis:UpdateStreamMode": "no resource type (takes the stream's ARN, but IAM matches only '*')",
    "kinesis:DescribeAccountSettings": "reads the account's settings (On-demand Advantage); no resource type",
    "cloudwatch:GetMetricData": "classic metrics are not IAM resources; its only resource type is the OTel dataset",
}
# Actions granted on exactly the managed streams' ARNs (from the ManagedStreamNames parameter).
STREAM_ACTIONS = frozenset(
    {"kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:SplitShard", "kinesis:MergeShards"}
)

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "teststack",
}
ARN_HEAD = "arn:aws:{service}:us-east-1:123456789012"
CONDITION = "Condition::"  # parameters() adds each template condition's value under this prefix
NO_VALUE = object()  # AWS::NoValue, resolved

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


@pytest.fixture(params=list(FUNCTIONS))
def function_name(request: pytest.FixtureRequest) -> str:
    """Each test taking `function` / `function_name` / `spec` runs once per entry of FUNCTIONS."""
    name: str = request.param
    return name


def function_props(template: dict[str, Any], name: str) -> dict[str, Any]:
    resource: dict[str, Any] | None = template["Resources"].get(name)
    assert resource is not None, f"template.yaml has no {name}: add it, or remove it from FUNCTIONS in this test"
    assert resource["Type"] == "AWS::Serverless::Function", f"{name} must stay a SAM function"
    props: dict[str, Any] = resource["Properties"]
    return props


@pytest.fixture
def function(template: dict[str, Any], function_name: str) -> dict[str, Any]:
    return function_props(template, function_name)


@pytest.fixture
def spec(function_name: str) -> FunctionSpec:
    return FUNCTIONS[function_name]


def resolve(node: Any, params: Mapping[str, Any]) -> Any:
    """Evaluate Ref/Fn::Sub/Fn::Join/Fn::Split/Fn::GetAtt/Fn::If; resources resolve to placeholders like <Table.Arn>,
    AWS::NoValue drops its list item."""
    if isinstance(node, list):
        return [item for item in (resolve(item, params) for item in node) if item is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) != 1 or not next(iter(node)).startswith(("Ref", "Fn::")):
        return {key: resolve(value, params) for key, value in node.items()}
    ((key, value),) = node.items()
    if key == "Ref" and value == "AWS::NoValue":
        return NO_VALUE
    if key == "Ref":
        return PSEUDO.get(value, params.get(value, f"<{value}>"))
    if key == "Fn::If":  # the condition's value comes from parameters(): CONDITION + name
        name, when_true, when_false = value
        return resolve(when_true if params[CONDITION + name] else when_false, params)
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
    for name, param in template.get("Parameters", {}).items():
        default = param.get("Default")
        if param["Type"] == "CommaDelimitedList" and isinstance(default, str):
            default = default.split(",")
        values[name] = default
    values.update(overrides)
    for name, condition in template.get("Conditions", {}).items():
        values[CONDITION + name] = _condition(condition, values)
    return values


def _condition(node: Any, params: Mapping[str, Any]) -> bool:
    """The template's conditions: Fn::Equals and Fn::Not over parameters."""
    ((key, value),) = node.items()
    if key == "Fn::Not":
        return not _condition(value[0], params)
    if key == "Fn::Equals":
        left, right = resolve(value, params)
        return bool(left == right)
    raise AssertionError(f"the test's condition evaluator does not know {key}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(function: dict[str, Any], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The inline policy statements, each Fn::If decided by `params` (NotificationsOn: the sns:Publish grant)."""
    out: list[dict[str, Any]] = []
    for policy in function.get("Policies", []):
        assert isinstance(policy, dict) and set(policy) <= {"Version", "Statement"}, (
            f"Policies of the function running {function.get('Handler')}: write inline statements only, not managed "
            f"policies or SAM policy templates (they grant actions the code does not call): {policy!r}"
        )
        out.extend(s for s in (_decide(s, params) for s in policy["Statement"]) if s is not NO_VALUE)
    return out


def _decide(statement: Any, params: Mapping[str, Any]) -> Any:
    """A statement, or the branch its Fn::If takes (which may be AWS::NoValue)."""
    while isinstance(statement, dict) and set(statement) == {"Fn::If"}:
        name, when_true, when_false = statement["Fn::If"]
        statement = when_true if params[CONDITION + name] else when_false
    return NO_VALUE if statement == {"Ref": "AWS::NoValue"} else statement


def grants(function: dict[str, Any], params: Mapping[str, Any]) -> dict[str, list[str]]:
    """action -> the resources (resolved) of the Allow statements granting it."""
    out: dict[str, list[str]] = {}
    for statement in statements(function, params):
        assert statement["Effect"] == "Allow", f"unexpected {statement['Effect']} statement {statement.get('Sid')}"
        assert "NotAction" not in statement and "NotResource" not in statement, "use Action and Resource only"
        for action in as_list(statement["Action"]):
            out.setdefault(action, []).extend(as_list(resolve(statement["Resource"], params)))
    return out


def own_arn(function: dict[str, Any], params: Mapping[str, Any]) -> str:
    return f"{ARN_HEAD.format(service='lambda')}:function:{resolve(function['FunctionName'], params)}"


# --- 0. the FUNCTIONS table against the template and the code ---------------------------------------------------


def test_functions_table_lists_every_function_in_the_template(template: dict[str, Any]) -> None:
    in_template = {
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function")
    }
    assert in_template == set(FUNCTIONS), (
        f"functions in template.yaml {sorted(in_template)} != FUNCTIONS in this test {sorted(FUNCTIONS)}: give every "
        "function an entry (handler module and the exact actions its role grants), and drop entries of removed ones"
    )


def test_handler_is_the_one_in_the_functions_table(function: dict[str, Any], function_name: str) -> None:
    expected = f"{FUNCTIONS[function_name].handler_module}.handler"
    assert function["Handler"] == expected, (
        f"{function_name} Handler {function['Handler']!r}: expected {expected!r} (or update FUNCTIONS and the "
        "function's actions together)"
    )


def _handler_tree(module_name: str) -> ast.Module:
    """The handler module's syntax tree, found without importing it (its module level builds AWS clients)."""
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin is not None, f"Handler module {module_name} not found"
    origin = Path(spec.origin).resolve()
    assert origin.is_relative_to(ROOT / "autoscaler"), f"the handler {module_name} must live in autoscaler/"
    return ast.parse(origin.read_text())


def test_handler_resolves_to_a_function_in_the_package(function: dict[str, Any], function_name: str) -> None:
    module_name, _, attribute = function["Handler"].rpartition(".")
    tree = _handler_tree(module_name)
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert attribute in defined, (
        f"{module_name} defines no function {attribute!r} ({function_name} Handler: {function['Handler']})"
    )


def test_functions_table_uses_the_adapters_its_handler_builds(function_name: str, spec: FunctionSpec) -> None:
    """An adapter the handler imports contributes actions to the function's set, and only imported adapters do.

    Imports are followed through the handlers' shared container and autoscaler.adapters.aws.compose (both wire adapters)."""
    imported: set[str] = set()
    pending, seen = [spec.handler_module], set()
    while pending:
        module = pending.pop()
        seen.add(module)
        for node in ast.walk(_handler_tree(module)):
            if isinstance(node, ast.ImportFrom) and node.module:
                target = node.module
                if target == "autoscaler.handlers" and any(a.name == "container" for a in node.names):
                    target = "autoscaler.handlers.container"
                if target.startswith("autoscaler.adapters.aws."):
                    imported.add(target.rsplit(".", 1)[1])
                if (
                    target in ("autoscaler.handlers.container", "autoscaler.adapters.aws.compose")
                    and target not in seen
                ):
                    pending.append(target)
    adapters = {module.__name__.rsplit(".", 1)[1]: set(module.IAM_ACTIONS) for module in ADAPTERS}
    used = {name for name, actions in adapters.items() if actions & spec.actions}
    assert imported & set(adapters) == used, (
        f"{spec.handler_module} builds the adapters {sorted(imported & set(adapters))}, but FUNCTIONS[{function_name!r}] "
        f"takes actions from {sorted(used)}: add the missing adapters' actions to its set (and grant them in "
        "template.yaml), or drop those of adapters it no longer uses"
    )


# --- 1. exactly the declared actions --------------------------------------------------------------------------------


def test_every_adapter_that_declares_iam_actions_is_accounted_for() -> None:
    aws_dir = ROOT / "autoscaler" / "adapters" / "aws"
    declaring = {
        path.stem
        for path in aws_dir.glob("*.py")
        if any(
            isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "IAM_ACTIONS" for t in node.targets)
            for node in ast.parse(path.read_text()).body
        )
    }
    known = {module.__name__.rsplit(".", 1)[1] for module in ADAPTERS}
    assert declaring == known, (
        f"autoscaler/adapters/aws modules declaring IAM_ACTIONS {sorted(declaring)} != ADAPTERS {sorted(known)}: add a new "
        "adapter to ADAPTERS and its actions to the FUNCTIONS entry of every function that uses it (and grant them "
        "in template.yaml)"
    )


def test_functions_together_need_every_declared_action() -> None:
    declared = {action for module in ADAPTERS for action in module.IAM_ACTIONS}
    needed = {action for spec in FUNCTIONS.values() for action in spec.actions}
    assert needed == declared, (
        f"FUNCTIONS vs the adapters' IAM_ACTIONS: no function takes {sorted(declared - needed)} (add them to the "
        f"function that calls them, or remove them from the adapter); {sorted(needed - declared)} are declared by no "
        "adapter (build FUNCTIONS from the adapters' constants)"
    )


def test_functions_table_keeps_the_reshard_directions_apart(function_name: str, spec: FunctionSpec) -> None:
    assert not spec.actions & spec.forbidden, (
        f"FUNCTIONS[{function_name!r}] takes {sorted(spec.actions & spec.forbidden)}: the other direction's "
        "reshard actions belong to the other function"
    )


def test_role_grants_exactly_the_functions_actions(
    template: dict[str, Any], function: dict[str, Any], function_name: str, spec: FunctionSpec
) -> None:
    granted = set(grants(function, parameters(template)))
    assert granted == spec.actions, (
        f"template.yaml {function_name} Policies vs FUNCTIONS[{function_name!r}] (built from the adapters' "
        f"constants): missing {sorted(spec.actions - granted)} (grant them), extra {sorted(granted - spec.actions)} "
        "(remove them, or declare them in the adapter that calls them and add them to this function's set)"
    )


def test_role_never_grants_the_other_directions_reshard_actions(
    template: dict[str, Any], function: dict[str, Any], function_name: str, spec: FunctionSpec
) -> None:
    wrong = set(grants(function, parameters(template))) & spec.forbidden
    assert not wrong, (
        f"{function_name} must not be granted {sorted(wrong)}: scale-up never merges, scale-down never splits; "
        "remove them from its Policies"
    )


# --- 2. Resource "*" only where AWS requires it ------------------------------------------------------------------


def test_resource_star_only_for_actions_without_resource_level_permissions(
    template: dict[str, Any], function: dict[str, Any], function_name: str
) -> None:
    starred = {action for action, resources in grants(function, parameters(template)).items() if "*" in resources}
    assert starred <= set(RESOURCE_STAR_ALLOWED), (
        f"{function_name}: Resource '*' for {sorted(starred - set(RESOURCE_STAR_ALLOWED))}: scope them to their "
        "resource ARNs; only actions with no resource type in the Service Authorization Reference may use '*'"
    )


def test_resource_star_actions_are_granted_on_star_only(
    template: dict[str, Any], function: dict[str, Any], function_name: str
) -> None:
    for action, resources in grants(function, parameters(template)).items():
        if action in RESOURCE_STAR_ALLOWED:
            assert resources == ["*"], (
                f"{function_name} {action} ({RESOURCE_STAR_ALLOWED[action]}): AWS only matches Resource '*'; "
                f"got {resources}"
            )


# --- 3. scoping -------------------------------------------------------------------------------------------------


def _stream_arns(names: list[str]) -> list[str]:
    # Fn::Join takes no function as its delimiter, so the template's ARN head is literal (see its comment).
    return [f"arn:aws:kinesis:*:*:stream/{name}" for name in names]


def _scoped_expected(function: dict[str, Any], params: Mapping[str, Any]) -> dict[str, list[str]]:
    """The one resource each non-stream, non-'*' action may be granted on."""
    alarms = f"{ARN_HEAD.format(service='cloudwatch')}:alarm:{params['AlarmNamePrefix']}/*"
    return {
        "cloudwatch:DescribeAlarms": [alarms],
        "cloudwatch:PutMetricAlarm": [alarms],
        "cloudwatch:SetAlarmState": [alarms],
        "dynamodb:GetItem": [f"<{TABLE}.Arn>"],
        "dynamodb:UpdateItem": [f"<{TABLE}.Arn>"],
        "lambda:InvokeFunction": [own_arn(function, params)],  # its own ARN only: continuations
        "sns:Publish": ["<NotificationTopic>"],  # the stack's notification topic only (summaries per action)
    }


def test_every_granted_action_has_a_scoping_rule_here(
    template: dict[str, Any], function: dict[str, Any], function_name: str
) -> None:
    params = parameters(template)
    ruled = set(RESOURCE_STAR_ALLOWED) | STREAM_ACTIONS | set(_scoped_expected(function, params))
    unruled = set(grants(function, params)) - ruled
    assert not unruled, (
        f"{function_name} grants {sorted(unruled)}, which no scoping test covers: add each to STREAM_ACTIONS, "
        "_scoped_expected or (only with no resource type in the Service Authorization Reference) RESOURCE_STAR_ALLOWED"
    )


_STREAM_CASES = [(name, action) for name, spec in FUNCTIONS.items() for action in sorted(spec.actions & STREAM_ACTIONS)]


@pytest.mark.parametrize("streams", [None, ["a"], ["orders", "clickstream", "payments-v2"]], ids=str)
@pytest.mark.parametrize(("function_name", "action"), _STREAM_CASES, ids=[f"{n}-{a}" for n, a in _STREAM_CASES])
def test_kinesis_stream_actions_are_scoped_to_managed_stream_arns(
    template: dict[str, Any], function: dict[str, Any], function_name: str, action: str, streams: list[str] | None
) -> None:
    params = parameters(template) if streams is None else parameters(template, ManagedStreamNames=streams)
    expected = _stream_arns(params["ManagedStreamNames"])
    assert sorted(grants(function, params).get(action, [])) == sorted(expected), (
        f"{function_name} {action} must be granted on exactly the stream ARNs built from the ManagedStreamNames "
        "parameter"
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


def test_scoped_actions_target_only_their_resource(
    template: dict[str, Any], function: dict[str, Any], function_name: str, spec: FunctionSpec
) -> None:
    params = parameters(template)
    granted = grants(function, params)
    for action, resources in _scoped_expected(function, params).items():
        if action in spec.actions:
            assert granted.get(action) == resources, (
                f"{function_name} {action}: expected exactly {resources}, got {granted.get(action)}"
            )


def test_function_name_is_explicit_so_the_self_invoke_arn_needs_no_getatt(
    function: dict[str, Any], function_name: str
) -> None:
    name = resolve(function.get("FunctionName"), parameters({"Parameters": {}}))
    assert isinstance(name, str) and "<" not in name, (
        f"give {function_name} an explicit FunctionName built from the stack name; lambda:InvokeFunction names it "
        "(GetAtt of the function from its own role is a circular dependency)"
    )


def test_function_names_are_distinct(template: dict[str, Any]) -> None:
    params = parameters(template)
    arns = {name: own_arn(function_props(template, name), params) for name in FUNCTIONS}
    assert len(set(arns.values())) == len(arns), (
        f"FunctionNames collide {arns}: each function's InvokeFunction grant must name only itself"
    )


def test_invoke_function_is_granted_on_no_other_function(template: dict[str, Any], function_name: str) -> None:
    params = parameters(template)
    function = function_props(template, function_name)
    others = {own_arn(function_props(template, name), params) for name in FUNCTIONS if name != function_name}
    granted = set(grants(function, params).get("lambda:InvokeFunction", []))
    assert not granted & others, (
        f"{function_name} may invoke {sorted(granted & others)}: continuations only ever invoke the function itself"
    )


# --- 4. handler -------------------------------------------------------------------------------------------------


def test_runtime_is_a_python_the_project_supports(function: dict[str, Any], function_name: str) -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(x) for x in requires.removeprefix(">=").split("."))
    runtime = function["Runtime"]
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime)
    assert match and (int(match[1]), int(match[2])) >= minimum, (
        f"{function_name} Runtime {runtime} is below requires-python"
    )


def test_functions_share_runtime_architecture_memory_and_package(template: dict[str, Any]) -> None:
    """One package (built by the same Makefile recipe) serves both handlers: it must suit both functions."""
    keys = ("Runtime", "Architectures", "MemorySize", "CodeUri")
    shapes = {name: {key: function_props(template, name).get(key) for key in keys} for name in FUNCTIONS}
    assert len({repr(shape) for shape in shapes.values()}) == 1, (
        f"the functions differ in {keys}: {shapes}; keep them equal (the Makefile builds arm64/python3.12 wheels)"
    )


def test_timeout_is_lambdas_maximum(function: dict[str, Any], function_name: str) -> None:
    assert function.get("Timeout") == 900, (
        f"{function_name} Timeout must be 900 s: the runs hand on to a continuation before it runs out"
    )


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


def test_environment_sets_what_the_handler_reads(function: dict[str, Any], function_name: str) -> None:
    variables = function["Environment"]["Variables"]
    handler_file = ROOT / (function["Handler"].rpartition(".")[0].replace(".", "/") + ".py")
    lambda_sets = {"AWS_LAMBDA_FUNCTION_NAME"}  # set by Lambda itself
    table = {"COOLDOWN_TABLE"} if FUNCTIONS[function_name].uses_lock else set()
    needed = (_environ_reads(handler_file) | {CONFIG_ENV} | table) - lambda_sets
    assert needed <= set(variables), f"set {sorted(needed - set(variables))} in {function_name} Environment.Variables"


def test_environment_points_at_the_table_and_the_packaged_config(
    template: dict[str, Any], function: dict[str, Any], function_name: str
) -> None:
    params = parameters(template)
    variables = resolve(function["Environment"]["Variables"], params)
    if FUNCTIONS[function_name].uses_lock:
        assert variables["COOLDOWN_TABLE"] == f"<{TABLE}>", f"{function_name} COOLDOWN_TABLE must be !Ref CooldownTable"
    else:
        assert "COOLDOWN_TABLE" not in variables, f"{function_name} takes no lock: it needs no table"
    config_path = params["ConfigPath"]
    assert variables[CONFIG_ENV] == f"/var/task/{config_path}", (
        f"{function_name} {CONFIG_ENV} must be the ConfigPath inside the package root /var/task"
    )
    source = source_config(config_path)
    assert source.is_file(), f"ConfigPath default {config_path}: its source {source} does not exist in the repo"
    load_config(source)  # and it is a valid config
    if config_path.endswith(".json"):
        makefile = (ROOT / "Makefile").read_text()
        compiles_all = (
            "for f in config/*.yaml" in makefile and '--compile "$(ARTIFACTS_DIR)/config/$$(basename' in makefile
        )
        assert compiles_all or '--compile "$(ARTIFACTS_DIR)/' + config_path + '"' in makefile, (
            f"the Makefile build target must compile {source.name} into {config_path}"
        )


def test_functions_share_service_name_and_metrics_namespace(template: dict[str, Any]) -> None:
    keys = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE")
    values = {
        name: {key: function_props(template, name)["Environment"]["Variables"].get(key) for key in keys}
        for name in FUNCTIONS
    }
    assert len({repr(v) for v in values.values()}) == 1, (
        f"{values}: give both functions the same service name and metrics namespace (one dashboard, one log query)"
    )


# --- 6. logs and failed invocations -----------------------------------------------------------------------------


def test_function_logs_to_its_own_log_group_with_retention(
    template: dict[str, Any], function: dict[str, Any], function_name: str
) -> None:
    ref = function.get("LoggingConfig", {}).get("LogGroup")
    assert isinstance(ref, dict) and "Ref" in ref, f"{function_name}: set LoggingConfig.LogGroup to !Ref its log group"
    group = template["Resources"][ref["Ref"]]
    assert group["Type"] == "AWS::Logs::LogGroup", f"{function_name} LoggingConfig.LogGroup must name a LogGroup"
    params = parameters(template)
    expected = f"/aws/lambda/{resolve(function['FunctionName'], params)}"
    assert resolve(group["Properties"].get("LogGroupName"), params) == expected, (
        f"{ref['Ref']} LogGroupName must be {expected} (Lambda's default group name for the function)"
    )
    assert group["Properties"].get("RetentionInDays") == {"Ref": "LogRetentionDays"}, (
        f"{ref['Ref']}: RetentionInDays !Ref LogRetentionDays (logs must not be kept forever)"
    )


def test_log_groups_are_not_shared(template: dict[str, Any]) -> None:
    groups = [repr(function_props(template, name).get("LoggingConfig", {}).get("LogGroup")) for name in FUNCTIONS]
    assert len(set(groups)) == len(groups), f"each function needs its own log group, got {groups}"


def test_failed_async_invocations_are_kept(function: dict[str, Any], function_name: str) -> None:
    config = function.get("EventInvokeConfig", {})
    on_failure = config.get("DestinationConfig", {}).get("OnFailure")
    assert on_failure or function.get("DeadLetterQueue"), (
        f"{function_name} is invoked asynchronously (and invokes itself): give it an OnFailure destination or a "
        "DeadLetterQueue"
    )
    assert config.get("MaximumRetryAttempts") == 2, (
        f"{function_name} EventInvokeConfig.MaximumRetryAttempts: 2 (Lambda's default, stated; runs are idempotent)"
    )


# --- 7. triggers: alarm topic and schedule ------------------------------------------------------------------------


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
    head = f"{ARN_HEAD.format(service='cloudwatch')}:alarm:{params['AlarmNamePrefix']}"
    # <prefix>/* and, for the upgrade from <prefix>-<stream>-<kind> names only, <prefix>-* (README, create-streams)
    our_alarms = [f"{head}/*", f"{head}-*"]
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


# What invokes each function (besides its own continuations): the handler parses exactly these events.
EXPECTED_EVENTS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "ScaleUpFunction": [
        ("SNS", {"Topic": {"Ref": TOPIC}}),
        ("Schedule", {"Schedule": {"Ref": "AlarmSweepSchedule"}}),  # the re-arm sweep (app/sweeper.py)
    ],
    "ScaleDownFunction": [
        ("Schedule", {"Schedule": {"Ref": SCHEDULE_PARAMETER}}),
        ("Schedule", {"Schedule": {"Ref": "CapacityModeSchedule"}}),  # app/capacity_mode.py
    ],
    "GaugeFunction": [("Schedule", {"Schedule": {"Ref": "GaugeSchedule"}})],
}


def test_expected_events_cover_every_function() -> None:
    assert set(EXPECTED_EVENTS) == set(FUNCTIONS), "give every function in FUNCTIONS its EXPECTED_EVENTS entry"


def test_function_is_triggered_by_what_its_handler_parses(function: dict[str, Any], function_name: str) -> None:
    events = list(function.get("Events", {}).values())
    expected = EXPECTED_EVENTS[function_name]
    got = [
        (e["Type"], {key: e.get("Properties", {}).get(key) for key in props})
        for e, (_, props) in zip(events, expected, strict=False)
    ]
    assert len(events) == len(expected) and got == expected, (
        f"{function_name} Events: expected {expected}, got {events} (scale-up: one SNS event on the alarm topic; "
        "scale-down: one Schedule event on the ScaleDownSchedule parameter: Type Schedule, not ScheduleV2, since "
        "the handler parses the EventBridge envelope)"
    )


def test_schedule_delivers_the_eventbridge_envelope(template: dict[str, Any]) -> None:
    """Input/InputPath would replace the "Scheduled Event" envelope the scale-down handler parses."""
    for name in FUNCTIONS:
        for event_name, event in function_props(template, name).get("Events", {}).items():
            if event["Type"] in ("Schedule", "ScheduleV2"):
                assert event["Type"] == "Schedule", (
                    f"{name} {event_name}: use Type Schedule (EventBridge rule, envelope), not ScheduleV2 "
                    "(EventBridge Scheduler sends its Input verbatim)"
                )
                extra = {"Input", "InputPath", "InputTransformer"} & set(event["Properties"])
                assert not extra, f"{name} {event_name}: remove {sorted(extra)}; the handler parses the envelope"


def test_schedule_parameter_defaults_to_every_6_hours(template: dict[str, Any]) -> None:
    param = template["Parameters"].get(SCHEDULE_PARAMETER)
    assert param is not None, f"add the {SCHEDULE_PARAMETER} parameter (the scale-down schedule expression)"
    assert param["Type"] == "String", f"{SCHEDULE_PARAMETER} is a String"
    assert param.get("Default") == "rate(6 hours)" == defaults.SCALE_DOWN_SCHEDULE, (
        f"{SCHEDULE_PARAMETER} Default {param.get('Default')!r}: must be 'rate(6 hours)', as "
        f"autoscaler/core/defaults.py SCALE_DOWN_SCHEDULE ({defaults.SCALE_DOWN_SCHEDULE!r})"
    )


@pytest.mark.parametrize(
    ("expression", "valid"),
    [
        ("rate(36 hours)", True),
        ("rate(1 day)", True),
        ("rate(1 hour)", True),
        ("rate(5 minutes)", True),
        ("rate(12 hours)", True),
        ("rate(100 days)", True),
        ("cron(0 3 * * ? *)", True),
        ("cron(0/30 8-17 ? * MON-FRI *)", True),
        ("rate(1 hours)", False),
        ("rate(2 hour)", False),
        ("rate(0 hours)", False),
        ("rate(36 weeks)", False),
        ("rate(36hours)", False),
        ("rate(36 hours", False),
        ("cron(0 3 * * *)", False),
        ("at(2026-01-01T00:00:00)", False),
        ("", False),
    ],
)
def test_schedule_parameter_accepts_only_schedule_expressions(
    template: dict[str, Any], expression: str, valid: bool
) -> None:
    pattern = template["Parameters"][SCHEDULE_PARAMETER].get("AllowedPattern")
    assert pattern, f"give {SCHEDULE_PARAMETER} an AllowedPattern for rate(...) / cron(...)"
    # CloudFormation matches AllowedPattern against the whole value.
    assert (re.fullmatch(pattern, expression) is not None) is valid, (
        f"{SCHEDULE_PARAMETER} AllowedPattern {pattern!r} should {'accept' if valid else 'reject'} {expression!r}"
    )


def test_scale_down_runs_one_at_a_time(template: dict[str, Any]) -> None:
    props = function_props(template, "ScaleDownFunction")
    assert props.get("ReservedConcurrentExecutions") == 1, (
        "ScaleDownFunction ReservedConcurrentExecutions: 1 — one fleet run at a time; a scheduled event or a "
        "continuation arriving during a run is throttled and re-queued by Lambda, not run concurrently"
    )


# --- 8. cooldown table --------------------------------------------------------------------------------------


def test_table_key_and_ttl_match_the_cooldown_adapter(template: dict[str, Any]) -> None:
    props = template["Resources"][TABLE]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "stream", "KeyType": "HASH"}], "partition key `stream` only"
    assert props["AttributeDefinitions"] == [{"AttributeName": "stream", "AttributeType": "S"}], "`stream` is S"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}, "TTL on expires_at"
    source = Path(cooldown.__file__).read_text()
    for name in ('{"stream": {"S":', "expires_at"):
        assert name in source, (
            f"autoscaler/adapters/aws/cooldown.py no longer uses {name!r}: update the table and this test"
        )


# --- packaging ------------------------------------------------------------------------------------------------


def makefile_targets(text: str) -> set[str]:
    """Explicit targets of the Makefile's rules (`a b: prereqs`), not variable assignments (`X := ...`)."""
    targets: set[str] = set()
    for line in text.replace("\\\n", " ").splitlines():
        match = re.match(r"^([^\s:#=][^:=#]*?)\s*::?(?!=)", line)
        if match and not line.startswith("\t"):
            targets.update(match.group(1).split())
    return targets


def test_makefile_target_parser() -> None:
    text = "X := 1\nY ?= 2\n.PHONY: a\na: b\n\t@echo a: b\nc d: e\nf::\ndefine G\nendef\n"
    assert makefile_targets(text) == {".PHONY", "a", "c", "d", "f"}


def test_makefile_builds_every_makefile_function(template: dict[str, Any]) -> None:
    built = [
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and resource.get("Metadata", {}).get("BuildMethod") == "makefile"
    ]
    targets = makefile_targets((ROOT / "Makefile").read_text())
    missing = [f"build-{name}" for name in built if f"build-{name}" not in targets]
    assert not missing, f"sam build needs the Makefile targets {missing} (one build-<LogicalId> per makefile function)"


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


# --- 9. cfn-lint ------------------------------------------------------------------------------------------------


def test_cfn_lint_passes() -> None:
    exe = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or shutil.which("cfn-lint")
    if exe is None:
        pytest.skip("cfn-lint is not installed (pip install -e '.[dev]')")
    result = subprocess.run([exe, str(TEMPLATE)], capture_output=True, text=True, check=False, timeout=240)
    assert result.returncode == 0, f"cfn-lint template.yaml failed:\n{result.stdout}{result.stderr}"


# --- what SAM makes of it (needs aws-sam-translator) ------------------------------------------------------------


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    translator = pytest.importorskip("samtranslator.translator.transform", reason="aws-sam-translator not installed")
    sam = load_template()
    for name in FUNCTIONS:
        sam["Resources"][name]["Properties"]["CodeUri"] = "s3://bucket/code.zip"  # what `sam package` puts there

    class Policies:
        def load(self) -> dict[str, str]:
            return {}

    out: dict[str, Any] = translator.transform(sam, {"AWS::Region": "us-east-1"}, Policies())
    return out


def test_transformed_role_adds_only_logging_and_the_failure_destination(
    transformed: dict[str, Any], function_name: str, spec: FunctionSpec
) -> None:
    """SAM adds AWSLambdaBasicExecutionRole (logs) and sqs:SendMessage for the OnFailure queue; nothing else."""
    role = transformed["Resources"][f"{function_name}Role"]["Properties"]
    assert [arn.rsplit("/", 1)[1] for arn in role["ManagedPolicyArns"]] == ["AWSLambdaBasicExecutionRole"]
    params = parameters(load_template())  # the defaults: Notifications on
    actions = {
        action
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if (decided := _decide(statement, params)) is not NO_VALUE
        for action in as_list(decided["Action"])
    }
    assert actions == spec.actions | {"sqs:SendMessage"}, (
        f"unexpected grants in the generated {function_name}Role: extra "
        f"{sorted(actions - spec.actions - {'sqs:SendMessage'})}, missing {sorted(spec.actions - actions)}"
    )


SCHEDULED = {
    "ScaleDownFunction": (SCHEDULE_PARAMETER, "CapacityModeSchedule"),
    "GaugeFunction": ("GaugeSchedule",),
    "ScaleUpFunction": ("AlarmSweepSchedule",),
}
# One run at a time for the fleet jobs. The sweep runs in the scale-up function, unreserved (alarms of different
# streams run in parallel): two sweeps overlapping both set the same alarms to OK, which is harmless.
SERIAL = {"ScaleDownFunction", "GaugeFunction"}


def test_transformed_schedules_are_eventbridge_rules_one_per_schedule(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    scheduler = [name for name, r in resources.items() if r["Type"] == "AWS::Scheduler::Schedule"]
    assert not scheduler, f"{scheduler}: EventBridge Scheduler sends no envelope; use SAM Type Schedule"
    rules = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::Events::Rule"}
    expected = sorted((f, p) for f, params in SCHEDULED.items() for p in params)
    got = []
    for rule_name, rule in rules.items():
        (target,) = rule["Targets"]
        function_name = target["Arn"]["Fn::GetAtt"][0]
        assert function_name in SCHEDULED, f"{rule_name} targets {function_name}, which parses no scheduled event"
        got.append((function_name, rule["ScheduleExpression"]["Ref"]))
        assert rule.get("State", "ENABLED") == "ENABLED", f"{rule_name} must be enabled"
        assert not {"Input", "InputPath", "InputTransformer"} & set(target), (
            f"{rule_name}: the target must deliver the scheduled-event envelope unchanged"
        )
        if function_name in SERIAL:
            assert resources[function_name]["Properties"].get("ReservedConcurrentExecutions") == 1
    assert sorted(got) == expected, f"expected one AWS::Events::Rule per schedule {expected}, got {sorted(got)}"


def test_the_fleet_function_tells_its_two_schedules_apart_by_the_rule_name(
    template: dict[str, Any], transformed: dict[str, Any]
) -> None:
    """handlers/scale_down.py runs the capacity-mode job when resources[0] ends in :rule/$CAPACITY_MODE_RULE."""
    from autoscaler.core.defaults import CAPACITY_MODE_SCHEDULE

    props = function_props(template, "ScaleDownFunction")
    named = props["Events"]["CapacityModeSchedule"]["Properties"]["Name"]
    assert props["Environment"]["Variables"]["CAPACITY_MODE_RULE"] == named == {"Fn::Sub": "${AWS::StackName}-modes"}
    assert "Name" not in props["Events"]["Schedule"]["Properties"]  # the scale-down rule is never mistaken for it
    assert template["Parameters"]["CapacityModeSchedule"]["Default"] == CAPACITY_MODE_SCHEDULE == "rate(1 hour)"
    # EventBridge rule names and Lambda function names are both at most 64 characters: "<stack>-scale-down" already
    # holds the stack name to 53, so a suffix no longer than "-scale-down" always fits
    function_name = props["FunctionName"]["Fn::Sub"]
    assert function_name.startswith("${AWS::StackName}") and named["Fn::Sub"].startswith("${AWS::StackName}")
    assert len(named["Fn::Sub"]) <= len(function_name)


def test_alarm_sweep_runs_every_five_minutes_by_default_and_cannot_be_off(template: dict[str, Any]) -> None:
    """The sweep's period bounds how long a stream stays unattended in ALARM after its lock lapses (RELIABILITY.md)."""
    from autoscaler.core.defaults import ALARM_SWEEP_SECONDS

    param = template["Parameters"]["AlarmSweepSchedule"]
    assert param["Default"] == "rate(5 minutes)" and ALARM_SWEEP_SECONDS == 300
    pattern = param["AllowedPattern"]
    for ok in ("rate(1 minute)", "rate(2 minutes)", "rate(59 minutes)", "rate(1 hour)", "cron(0/5 * * * ? *)"):
        assert re.fullmatch(pattern, ok), ok
    for bad in ("off", "rate(1 minutes)", "rate(60 minutes)", "rate(2 hours)", "rate(1 day)", "rate(0 minutes)"):
        assert not re.fullmatch(pattern, bad), bad


def test_gauge_schedule_is_hourly_by_default_and_off_leaves_the_gauge_out(template: dict[str, Any]) -> None:
    """The gauge's window is the last hour (autoscaler/app/gauge.py): hourly runs see every minute once."""
    from autoscaler.app.gauge import GAUGE_WINDOW_SECONDS

    param = template["Parameters"]["GaugeSchedule"]
    assert param["Default"] == "rate(1 hour)" and GAUGE_WINDOW_SECONDS == 3600
    assert re.fullmatch(param["AllowedPattern"], "off") and re.fullmatch(param["AllowedPattern"], "rate(15 minutes)")
    assert template["Conditions"]["GaugeOn"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "GaugeSchedule"}, "off"]}]}
    gauge_resources = [n for n, r in template["Resources"].items() if "Gauge" in n]
    assert sorted(gauge_resources) == ["GaugeFunction", "GaugeLogGroup"]
    assert all(template["Resources"][n].get("Condition") == "GaugeOn" for n in gauge_resources)
    assert template["Outputs"]["GaugeFunctionName"].get("Condition") == "GaugeOn"


def test_notifications_are_on_by_default_and_off_leaves_the_topic_and_its_grants_out(template: dict[str, Any]) -> None:
    """Notifications=off: no topic, no output, no sns:Publish in any role, and an empty NOTIFY_TOPIC_ARN, which
    autoscaler/adapters/aws/notify.py reads as summaries off."""
    assert template["Parameters"]["Notifications"]["Default"] == "on"
    assert template["Resources"]["NotificationTopic"].get("Condition") == "NotificationsOn"
    assert template["Outputs"]["NotificationTopicArn"].get("Condition") == "NotificationsOn"
    for setting, topic in (("on", "<NotificationTopic>"), ("off", "")):
        params = parameters(template, Notifications=setting)
        for name in ("ScaleUpFunction", "ScaleDownFunction"):
            props = function_props(template, name)
            env = resolve(props["Environment"]["Variables"], params)
            assert env["NOTIFY_TOPIC_ARN"] == topic, (setting, name)
            assert grants(props, params).get("sns:Publish", []) == ([topic] if topic else []), (setting, name)
    from autoscaler.adapters.aws.notify import SnsNotifier

    built: list[str] = []
    SnsNotifier(lambda: built.append("sns"), "").notify("subject", "body")  # what the functions do with ""
    assert built == [], "no SNS client, no call, when the topic is off"


def test_dashboard_graphs_shards_and_utilisation_per_stream_from_the_gauges_metrics(template: dict[str, Any]) -> None:
    body = json.loads(resolve(template["Resources"]["Dashboard"]["Properties"]["DashboardBody"], parameters(template)))
    searches = [m[0]["expression"] for w in body["widgets"] for m in w["properties"].get("metrics", [])]
    for metric in ("OpenShards", "WriteUtilisation"):  # published per Stream by autoscaler/handlers/gauge.py
        # "service": the dimension Powertools adds to every metric (tests/integration/test_gauge_handler.py)
        assert any(f'{{KinesisAutoscaler,Stream,service}} MetricName="{metric}"' in e for e in searches), searches
    handler = (ROOT / "autoscaler" / "handlers" / "gauge.py").read_text()
    assert 'name="OpenShards"' in handler and 'name="WriteUtilisation"' in handler
    assert 'add_dimension(name="Stream"' in handler


# --- outputs ------------------------------------------------------------------------------------------------------


def test_outputs_name_every_function(template: dict[str, Any], function_name: str) -> None:
    outputs = template.get("Outputs", {})
    stem = function_name.removesuffix("Function")
    assert outputs.get(f"{stem}FunctionName", {}).get("Value") == {"Ref": function_name}, (
        f"add Output {stem}FunctionName: !Ref {function_name}"
    )
    assert outputs.get(f"{stem}FunctionArn", {}).get("Value") == {"Fn::GetAtt": [function_name, "Arn"]}, (
        f"add Output {stem}FunctionArn: !GetAtt {function_name}.Arn"
    )
