"""The CLI's contract for scripts and operators (issue 14), as a subprocess with stdout and stderr piped (not a TTY)
against the session's moto server: one JSON shape, JSON errors, text output, no 80-column cut, the AWS CLI's flags
and precedence, the config lookup, --stack, exit codes, and `scale --to N`."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from autoscaler.config import load_config
from autoscaler.local.moto_server import MotoServer
from autoscaler.local.setup import bootstrap, local_clients, write_quiet_day

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
_IDS = itertools.count()


def cli(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator's script runs it: pipes, no COLUMNS, none of the test runner's AWS_* settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COOLDOWN_TABLE", "STACK_NAME"))}
    base.pop("COLUMNS", None)
    base.pop("AUTOSCALER_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "autoscaler", *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture
def fleet(moto_server: MotoServer, tmp_path: Path) -> dict[str, Any]:
    """Two streams of their own (one with a name too long for 80 columns), their table and alarms."""
    n = next(_IDS)
    long_name = f"contract-{n}-" + "a-stream-name-long-enough-to-be-cut-at-eighty-columns-by-a-naive-table"
    name = f"contract-{n}"
    path = tmp_path / "streams.yaml"
    path.write_text(
        f"alarm_name_prefix: ct{n}\n"
        "streams:\n"
        f"  - {{name: {name}, min_shards: 1, max_shards: 16, desired_shards: 4}}\n"
        f"  - {{name: {long_name}, min_shards: 1, max_shards: 4, desired_shards: 1}}\n"
    )
    clients = local_clients(moto_server.endpoint)
    table = f"contract-{n}"
    bootstrap(clients, load_config(path), table=table, topic=f"contract-{n}")
    env = {**moto_server.env(), "COOLDOWN_TABLE": table}
    return {"config": str(path), "env": env, "clients": clients, "stream": name, "long": long_name, "n": n}


def body(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def test_every_command_prints_one_json_object_with_the_schema_version(fleet: dict[str, Any]) -> None:
    c, s = fleet["config"], fleet["stream"]
    commands = [
        ["status"],
        ["doctor"],
        ["plan", "scale-up", "--stream", s],
        ["plan", "scale-down"],
        ["scale-down", "--dry-run"],
        ["scale-up", "--dry-run", "--stream", s],
        ["scale", "--stream", s, "--to", "6", "--reason", "load test", "--dry-run"],
        ["validate-config"],
        ["create-streams", "--dry-run", "--alarm-topic-arn", "arn:aws:sns:us-east-1:123456789012:x"],
        ["remove-alarms", "--dry-run"],
    ]
    for args in commands:
        done = cli([*args, "--config", c, "--output", "json"], fleet["env"])
        assert done.returncode in (0, 1), (args, done.stderr)  # doctor: 1 is a finding, still one object
        got = body(done)
        assert (got["schema_version"], got["command"], got["config"]) == (
            1,
            " ".join(a for a in args[:2] if not a.startswith("-")) if args[0] == "plan" else args[0],
            c,
        ), args
    rows = body(cli(["plan", "scale-up", "--stream", s, "--config", c, "--json"], fleet["env"]))["streams"]
    assert rows[0]["operations"] and all(isinstance(op, dict) and op["kind"] for op in rows[0]["operations"])


def test_errors_under_json_are_one_json_object_on_stderr(fleet: dict[str, Any]) -> None:
    done = cli(["plan", "scale-up", "--stream", "nope", "--config", fleet["config"], "--json"], fleet["env"])
    assert done.returncode == 2 and done.stdout == ""
    error = json.loads(done.stderr)
    assert error["schema_version"] == 1 and error["command"] == "plan scale-up"
    assert (error["error"]["exit_code"], error["error"]["kind"]) == (2, "unknown-stream")
    assert "'nope' is not in" in error["error"]["message"]


def test_piped_tables_are_not_cut_and_text_is_tab_separated(fleet: dict[str, Any]) -> None:
    table = cli(["status", "--config", fleet["config"]], fleet["env"])
    assert table.returncode == 0, table.stderr
    assert fleet["long"] in table.stdout, "a piped table keeps every name whole (no 80-column cut)"
    text = cli(["status", "--config", fleet["config"], "--output", "text"], fleet["env"])
    lines = text.stdout.splitlines()
    assert len(lines) == 2 and all("\t" in line and "│" not in line and "[" not in line for line in lines)
    assert {line.split("\t")[0] for line in lines} == {fleet["stream"], fleet["long"]}


def test_the_config_is_looked_up_where_the_operator_stands_and_named(fleet: dict[str, Any], tmp_path: Path) -> None:
    here = tmp_path / "ops"
    (here / "config").mkdir(parents=True)
    (here / "config" / "streams.yaml").write_text(Path(fleet["config"]).read_text())
    done = cli(["validate-config"], fleet["env"], cwd=here)
    assert done.returncode == 0 and "config: config/streams.yaml (from the current directory)" in done.stderr
    env_wins = cli(["validate-config"], {**fleet["env"], "AUTOSCALER_CONFIG": fleet["config"]}, cwd=here)
    assert f"config: {fleet['config']} (from $AUTOSCALER_CONFIG)" in " ".join(env_wins.stderr.split())
    nowhere = cli(["status"], fleet["env"], cwd=tmp_path)
    assert nowhere.returncode == 2
    said = " ".join(nowhere.stderr.split())
    assert "no streams.yaml" in said and "--config" in said and "AUTOSCALER_CONFIG" in said


def test_region_profile_and_endpoint_flags_follow_the_aws_cli(fleet: dict[str, Any], tmp_path: Path) -> None:
    env = dict(fleet["env"])
    endpoint = env.pop("AWS_ENDPOINT_URL")
    args = ["status", "--config", fleet["config"], "--json"]
    # --endpoint-url in place of AWS_ENDPOINT_URL; AWS_REGION wins over AWS_DEFAULT_REGION
    flagged = cli([*args, "--endpoint-url", endpoint], {**env, "AWS_DEFAULT_REGION": "eu-west-1"})
    assert flagged.returncode == 0, flagged.stderr
    assert all(r["open_shards"] for r in body(flagged)["streams"]), "AWS_REGION us-east-1 found the streams"
    # --region wins over AWS_REGION: nothing of ours in eu-west-1
    elsewhere = cli([*args, "--endpoint-url", endpoint, "--region", "eu-west-1"], env)
    assert all(r["problem"] == "stream does not exist: run create-streams" for r in body(elsewhere)["streams"])
    # an unknown profile and an expired SSO session: one line, exit 3, no traceback
    aws_config = tmp_path / "aws-config"
    aws_config.write_text(
        textwrap.dedent(
            """\
            [profile sso-dev]
            sso_start_url = https://example.awsapps.com/start
            sso_region = us-east-1
            sso_account_id = 123456789012
            sso_role_name = Operator
            region = us-east-1
            """
        )
    )
    no_creds = {
        "AWS_CONFIG_FILE": str(aws_config),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(tmp_path),
        "COOLDOWN_TABLE": env["COOLDOWN_TABLE"],
    }
    unknown = cli([*args[:-1], "--profile", "nosuch", "--endpoint-url", endpoint], no_creds)
    assert unknown.returncode == 3 and "Traceback" not in unknown.stderr
    assert "nosuch" in unknown.stderr and "aws configure list-profiles" in " ".join(unknown.stderr.split())
    sso = cli([*args[:-1], "--profile", "sso-dev", "--endpoint-url", endpoint], no_creds)
    assert sso.returncode == 3 and "Traceback" not in sso.stderr
    assert "aws sso login --profile sso-dev" in " ".join(sso.stderr.split())


def test_stack_outputs_name_the_table_and_create_streams_cross_checks_managed_stream_names(
    fleet: dict[str, Any],
) -> None:
    n = fleet["n"]
    import botocore.session

    cloudformation = botocore.session.get_session().create_client(
        "cloudformation",
        region_name="us-east-1",
        endpoint_url=fleet["env"]["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    # ManagedStreamNames as String: moto returns a CommaDelimitedList parameter's value as a Python list's repr
    # ("['a', 'b']"), where CloudFormation returns the comma-separated text the template's users typed ("a,b")
    template = {
        "Parameters": {"ManagedStreamNames": {"Type": "String"}},
        "Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "CooldownTableName": {"Value": f"contract-{n}"},
            "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
        },
    }
    stack = f"contract-stack-{n}"
    cloudformation.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "ManagedStreamNames", "ParameterValue": f"{fleet['stream']},someone-elses"}],
    )
    env = {k: v for k, v in fleet["env"].items() if k != "COOLDOWN_TABLE"}
    status = cli(["status", "--config", fleet["config"], "--stack", stack, "--json"], env)
    assert status.returncode == 0, status.stderr
    assert all(r["lock_known"] for r in body(status)["streams"]), "the table came from the stack's output"
    done = cli(["create-streams", "--config", fleet["config"], "--stack", stack, "--dry-run", "--json"], env)
    assert done.returncode == 0, done.stderr
    warnings = " ".join(body(done)["warnings"])
    assert f"not in the stack's ManagedStreamNames: {fleet['long']}" in warnings
    assert "in the stack's ManagedStreamNames but not in the config: someone-elses" in warnings
    # no table and no stack: status still lists every stream, its lock state unknown; an action refuses (exit 2)
    lost = cli(["status", "--config", fleet["config"], "--json"], env)
    assert lost.returncode == 0 and {r["lock_known"] for r in body(lost)["streams"]} == {False}
    act = cli(["scale-up", "--stream", fleet["stream"], "--config", fleet["config"]], env)
    assert act.returncode == 2 and "no stack 'kinesis-autoscaler'" in " ".join(act.stderr.split())


def test_scale_to_an_explicit_count_within_bounds_and_refusals_exit_4(fleet: dict[str, Any]) -> None:
    c, s, env = fleet["config"], fleet["stream"], fleet["env"]

    def open_count() -> int:
        shards = fleet["clients"].kinesis.list_shards(StreamName=s)["Shards"]
        return sum(1 for x in shards if "EndingSequenceNumber" not in x["SequenceNumberRange"])

    out_of_bounds = cli(["scale", "-s", s, "--to", "17", "--reason", "x", "--config", c], env)
    # brackets are data, never console markup: "[min_shards, max_shards]" is printed as written
    assert out_of_bounds.returncode == 2 and "[min_shards, max_shards] = [1, 16]" in out_of_bounds.stderr
    up = cli(["scale", "-s", s, "--to", "6", "--reason", "incident 7", "--config", c, "--json"], env)
    assert up.returncode == 0, up.stderr
    (row,) = body(up)["streams"]
    assert (row["outcome"], row["after"], row["reason"]) == ("scaled", 6, "operator") and open_count() == 6
    assert "incident 7" in row["decision"]
    # the up cooldown is running: the automatic scale-up is refused (exit 4), an operator's target is not
    refused = cli(["scale-up", "-s", s, "--config", c, "--json"], env)
    assert refused.returncode == 4 and body(refused)["streams"][0]["skip_reason"] == "cooldown"
    down = cli(["scale", "-s", s, "--to", "4", "--reason", "incident 7 over", "--config", c, "--json"], env)
    assert down.returncode == 0, down.stderr
    assert (body(down)["streams"][0]["outcome"], open_count()) == ("merged", 4)
    # the scale-down plan now predicts the cooldown its run would meet
    write_quiet_day(fleet["clients"].cloudwatch, s, utilisation=0.05, shards=4)
    (planned,) = [
        r for r in body(cli(["plan", "scale-down", "--config", c, "--json"], env))["streams"] if r["stream"] == s
    ]
    assert (planned["outcome"], planned["reason"]) == ("skipped", "cooldown")
    assert planned["detail"].startswith("would be skipped: ") and planned["dry_run"] is True
    named = cli(["scale-down", "-s", s, "--config", c, "--json"], env)
    assert named.returncode == 4 and body(named)["streams"][0]["reason"] == "cooldown"


def test_refusals_exit_4_in_every_direction_and_command(fleet: dict[str, Any], tmp_path: Path) -> None:
    c, s, env = fleet["config"], fleet["stream"], fleet["env"]
    kinesis = fleet["clients"].kinesis
    arn = kinesis.describe_stream_summary(StreamName=s)["StreamDescriptionSummary"]["StreamARN"]
    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    for to in ("6", "2"):  # up and down: AWS scales an on-demand stream
        done = cli(["scale", "-s", s, "--to", to, "--reason", "x", "--config", c, "--json"], env)
        assert done.returncode == 4 and json.loads(done.stderr)["error"]["kind"] == "on-demand", (to, done.stderr)
    disabled = tmp_path / "disabled.yaml"
    disabled.write_text(Path(c).read_text().replace("desired_shards: 4}", "desired_shards: 4, enabled: false}"))
    for args in (["capacity-mode", "-s", s], ["capacity-mode", "--dry-run", "-s", s], ["scale-down", "-s", s]):
        done = cli([*args, "--config", str(disabled), "--json"], env)
        assert done.returncode == 4, (args, done.stdout, done.stderr)
        assert body(done)["streams"][0]["outcome"] == "skipped"


def test_remove_alarms_deletes_this_deployments_alarms_only(fleet: dict[str, Any]) -> None:
    """What `sam delete` leaves: the alarms create-streams made. Another deployment's alarms whose prefix merely
    starts with ours (ct<n>-staging/…) and a stranger's stay; streams are never touched."""
    cloudwatch, n = fleet["clients"].cloudwatch, fleet["n"]
    for name in (
        f"ct{n}-staging/orders/incoming-bytes",
        f"ct{n}-{fleet['stream']}-incoming-bytes",
        "someone/else",
        f"ct{n}/team-b-payments/incoming-bytes",  # the same prefix, a stream not in this config: another team's
    ):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="IncomingBytes",
            Namespace="AWS/Kinesis",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )

    def names() -> set[str]:
        pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"ct{n}")
        return {a["AlarmName"] for page in pages for a in page["MetricAlarms"]}

    ours = {a for a in names() if a.startswith(f"ct{n}/") and "team-b" not in a}
    assert len(ours) == 6  # three kinds × two streams, made by bootstrap as create-streams would
    dry = cli(["remove-alarms", "--dry-run", "--config", fleet["config"], "--json"], fleet["env"])
    legacy = f"ct{n}-{fleet['stream']}-incoming-bytes"  # an earlier version's name for a configured stream
    assert set(body(dry)["alarms"]) == ours | {legacy} and names() >= ours
    done = cli(["remove-alarms", "--config", fleet["config"], "--json"], fleet["env"])
    assert done.returncode == 0, done.stderr
    assert names() == {f"ct{n}-staging/orders/incoming-bytes", f"ct{n}/team-b-payments/incoming-bytes"}
    everything = cli(["remove-alarms", "--all-streams", "--config", fleet["config"], "--json"], fleet["env"])
    assert body(everything)["alarms"] == [f"ct{n}/team-b-payments/incoming-bytes"]
    assert names() == {f"ct{n}-staging/orders/incoming-bytes"}
    assert fleet["clients"].kinesis.describe_stream_summary(StreamName=fleet["stream"])  # the stream stays
