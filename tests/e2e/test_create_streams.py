"""create-streams as a subprocess against a moto server: creates, then finds nothing to change; reports what it
must not touch; refuses a config over the account's shard quota before changing anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from autoscaler.local.moto_server import MotoServer
from autoscaler.local.setup import local_clients

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], server: MotoServer) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/create_streams.py", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
        check=False,
        env={**os.environ, **server.env(), "COLUMNS": "200"},
    )


def write(tmp_path: Path, body: str, prefix: str = "cs") -> str:
    """A config; each test its own alarm prefix (the moto server is shared, and every other alarm of the prefix
    counts as orphaned)."""
    path = tmp_path / "streams.yaml"
    path.write_text(f"alarm_name_prefix: {prefix}\nstreams:\n" + body)
    return str(path)


def by_stream(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    return {r["stream"]: r for r in json.loads(done.stdout)["streams"]}


def put_alarm(clients: Any, name: str, stream: str, topic: str) -> None:
    clients.cloudwatch.put_metric_alarm(
        AlarmName=name,
        Dimensions=[{"Name": "StreamName", "Value": stream}],
        AlarmActions=[topic],
        MetricName="IncomingBytes",
        Namespace="AWS/Kinesis",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=2,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )


def test_create_then_nothing_to_change(moto_server: MotoServer, tmp_path: Path) -> None:
    clients = local_clients(moto_server.endpoint)
    topic = clients.sns.create_topic(Name="cs-alarms")["TopicArn"]
    cfg = write(
        tmp_path,
        "  - {name: cs-one, min_shards: 1, max_shards: 8, desired_shards: 3, retention_hours: 48}\n"
        "  - {name: cs-two, min_shards: 1, max_shards: 8, desired_shards: 1, shard_level_metrics: true}\n",
    )
    dry = by_stream(run(["--config", cfg, "--alarm-topic-arn", topic, "--dry-run", "--json"], moto_server))
    assert dry["cs-one"]["status"] == "would change"
    assert dry["cs-one"]["actions"][:3] == ["3 shards, provisioned", "24 h -> 48 h", "KMS alias/aws/kinesis"]
    assert "cs-one" not in clients.kinesis.list_streams()["StreamNames"], "a dry run creates nothing"

    first = by_stream(run(["--config", cfg, "--alarm-topic-arn", topic, "--json"], moto_server))
    assert first["cs-one"]["status"] == first["cs-two"]["status"] == "changed"
    summary = clients.kinesis.describe_stream_summary(StreamName="cs-one")["StreamDescriptionSummary"]
    assert (summary["OpenShardCount"], summary["RetentionPeriodHours"], summary["EncryptionType"]) == (3, 48, "KMS")
    alarms = clients.cloudwatch.describe_alarms(AlarmNamePrefix="cs/cs-one/")["MetricAlarms"]
    assert {a["AlarmName"] for a in alarms} == {
        "cs/cs-one/incoming-bytes",
        "cs/cs-one/incoming-records",
        "cs/cs-one/write-throttled",
    }
    assert all(a["AlarmActions"] == [topic] for a in alarms)
    bytes_alarm = next(a for a in alarms if a["MetricName"] == "IncomingBytes")
    assert bytes_alarm["Threshold"] == pytest.approx(0.8 * 3 * 1_048_576 * 60)

    second = run(["--config", cfg, "--alarm-topic-arn", topic], moto_server)
    assert second.returncode == 0 and "nothing to change" in second.stdout


def test_reports_instead_of_resharding_and_leaves_on_demand_alone(moto_server: MotoServer, tmp_path: Path) -> None:
    clients = local_clients(moto_server.endpoint)
    topic = clients.sns.create_topic(Name="cs-alarms-2")["TopicArn"]
    clients.kinesis.create_stream(StreamName="cs-grown", ShardCount=5)
    clients.kinesis.create_stream(StreamName="cs-od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    put_alarm(clients, "cs2/cs-gone/incoming-bytes", "cs-gone", topic)
    cfg = write(
        tmp_path,
        "  - {name: cs-grown, min_shards: 1, max_shards: 8, desired_shards: 2, encrypt: false}\n"
        "  - {name: cs-od, min_shards: 1, max_shards: 8, desired_shards: 2}\n",
        prefix="cs2",
    )
    result = run(["--config", cfg, "--alarm-topic-arn", topic, "--json"], moto_server)
    rows = by_stream(result)
    assert any("5 open shards, desired_shards is 2: not resharded" in n for n in rows["cs-grown"]["notes"])
    assert rows["cs-od"]["status"] == "unchanged" and "on-demand" in rows["cs-od"]["notes"][0]
    assert len([s for s in clients.kinesis.list_shards(StreamName="cs-grown")["Shards"]]) == 5
    assert json.loads(result.stdout)["orphaned_alarms"] == ["cs2/cs-gone/incoming-bytes"]
    assert clients.cloudwatch.describe_alarms(AlarmNames=["cs2/cs-gone/incoming-bytes"])["MetricAlarms"]
    run(["--config", cfg, "--alarm-topic-arn", topic, "--remove-orphaned-alarms"], moto_server)
    assert not clients.cloudwatch.describe_alarms(AlarmNames=["cs2/cs-gone/incoming-bytes"])["MetricAlarms"]


def test_old_alarm_names_are_renamed_and_another_deployments_are_left(moto_server: MotoServer, tmp_path: Path) -> None:
    """Issue 12 section 7: deployment A (prefix cs8, stream cs8s-orders) and deployment B (prefix cs8-cs8s, stream
    orders) had one alarm name between them, cs8-cs8s-orders-incoming-bytes. create-streams for A renames A's own
    old alarms (its topic, its stream's dimension) and leaves B's, whose name reads the same."""
    clients = local_clients(moto_server.endpoint)
    topic = clients.sns.create_topic(Name="cs8-alarms")["TopicArn"]
    theirs = clients.sns.create_topic(Name="cs8-other-deployment")["TopicArn"]
    clients.kinesis.create_stream(StreamName="cs8s-orders", ShardCount=2)
    put_alarm(clients, "cs8-cs8s-orders-incoming-records", "cs8s-orders", topic)  # A's, old name
    put_alarm(clients, "cs8-cs8s-orders-incoming-bytes", "orders", theirs)  # B's, last put by B
    cfg = write(tmp_path, "  - {name: cs8s-orders, min_shards: 1, max_shards: 8, desired_shards: 2}\n", prefix="cs8")
    row = by_stream(run(["--config", cfg, "--alarm-topic-arn", topic, "--json"], moto_server))["cs8s-orders"]
    assert row["status"] == "changed", row
    assert row["done"][-1] == ("delete cs8-cs8s-orders-incoming-records (renamed cs8/cs8s-orders/incoming-records)"), (
        row
    )
    names = {a["AlarmName"]: a for a in clients.cloudwatch.describe_alarms(AlarmNamePrefix="cs8")["MetricAlarms"]}
    assert sorted(names) == [
        "cs8-cs8s-orders-incoming-bytes",  # B's: untouched
        "cs8/cs8s-orders/incoming-bytes",
        "cs8/cs8s-orders/incoming-records",
        "cs8/cs8s-orders/write-throttled",
    ]
    assert names["cs8-cs8s-orders-incoming-bytes"]["AlarmActions"] == [theirs]
    assert names["cs8-cs8s-orders-incoming-bytes"]["Threshold"] == 1.0  # not retuned to A's count
    again = run(["--config", cfg, "--alarm-topic-arn", topic], moto_server)
    assert again.returncode == 0 and "nothing to change" in again.stdout, again.stdout


def test_on_demand_and_auto_streams_are_created_on_demand(moto_server: MotoServer, tmp_path: Path) -> None:
    """capacity_mode on-demand and auto: CreateStream ON_DEMAND, no ShardCount (moto starts it at 4 shards), with
    the alarms every stream gets, for that count; a second run changes nothing."""
    clients = local_clients(moto_server.endpoint)
    topic = clients.sns.create_topic(Name="cs9-alarms")["TopicArn"]
    cfg = write(
        tmp_path,
        "  - {name: cs9-od, min_shards: 1, max_shards: 8, desired_shards: 2, capacity_mode: on-demand}\n"
        "  - {name: cs9-auto, min_shards: 1, max_shards: 8, desired_shards: 2, capacity_mode: auto}\n",
        prefix="cs9",
    )
    first = by_stream(run(["--config", cfg, "--alarm-topic-arn", topic, "--json"], moto_server))
    assert first["cs9-od"]["done"][0] == "on-demand (capacity_mode on-demand; AWS sets its shard count)"
    assert first["cs9-auto"]["done"][0].startswith("on-demand (capacity_mode auto: no history to judge by")
    for name in ("cs9-od", "cs9-auto"):
        assert first[name]["status"] == "changed", first[name]
        summary = clients.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
        assert summary["EncryptionType"] == "KMS"
        open_shards = len(clients.kinesis.list_shards(StreamName=name)["Shards"])
        assert open_shards == 4  # AWS's (moto's) starting count, not desired_shards
        alarms = clients.cloudwatch.describe_alarms(AlarmNamePrefix=f"cs9/{name}/")["MetricAlarms"]
        assert len(alarms) == 3 and all(a["AlarmActions"] == [topic] for a in alarms)
        bytes_alarm = next(a for a in alarms if a["MetricName"] == "IncomingBytes")
        assert bytes_alarm["Threshold"] == pytest.approx(0.8 * 4 * 1_048_576 * 60)  # retuned from 2 to the open 4
    again = run(["--config", cfg, "--alarm-topic-arn", topic], moto_server)
    assert again.returncode == 0 and "nothing to change" in again.stdout, again.stdout


def test_shard_quota_is_checked_before_any_change(moto_server: MotoServer, tmp_path: Path) -> None:
    clients = local_clients(moto_server.endpoint)
    limit = clients.kinesis.describe_limits()["ShardLimit"]
    cfg = write(
        tmp_path,
        f"  - {{name: cs-huge, min_shards: 1, max_shards: 10000, desired_shards: {limit + 1}}}\n",
        prefix="cs3",
    )
    done = run(["--config", cfg, "--alarm-topic-arn", "arn:aws:sns:us-east-1:123456789012:x"], moto_server)
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert "over its ShardLimit" in message and "Nothing was changed" in message
    assert "cs-huge" not in clients.kinesis.list_streams()["StreamNames"]


def test_on_demand_stream_quota_is_checked_before_any_change(moto_server: MotoServer, tmp_path: Path) -> None:
    """One more capacity_mode on-demand/auto stream than the account's OnDemandStreamCountLimit: refused whole."""
    clients = local_clients(moto_server.endpoint)
    limits = clients.kinesis.describe_limits()
    free = limits["OnDemandStreamCountLimit"] - limits["OnDemandStreamCount"]
    streams = "".join(
        f"  - {{name: cs-od-{i}, min_shards: 1, max_shards: 8, desired_shards: 1, capacity_mode: auto}}\n"
        for i in range(free + 1)
    )
    cfg = write(tmp_path, streams, prefix="cs10")
    done = run(["--config", cfg, "--alarm-topic-arn", "arn:aws:sns:us-east-1:123456789012:x"], moto_server)
    assert done.returncode == 2, done.stdout
    message = " ".join(done.stderr.split())
    assert "over its OnDemandStreamCountLimit" in message and "Nothing was changed" in message
    assert not [n for n in clients.kinesis.list_streams()["StreamNames"] if n.startswith("cs-od-")]


def test_missing_stack_output_says_what_to_pass(moto_server: MotoServer, tmp_path: Path) -> None:
    cfg = write(tmp_path, "  - {name: cs-x, min_shards: 1, max_shards: 8, desired_shards: 1}\n", prefix="cs4")
    done = run(["--config", cfg, "--stack", "no-such-stack"], moto_server)
    assert done.returncode == 2
    said = " ".join(done.stderr.split())
    assert "no stack 'no-such-stack'" in said and "--alarm-topic-arn" in said and "region us-east-1" in said


def test_status_after_create_streams(moto_server: MotoServer, tmp_path: Path) -> None:
    clients = local_clients(moto_server.endpoint)
    topic = clients.sns.create_topic(Name="cs-alarms-5")["TopicArn"]
    from autoscaler.local.setup import create_table, write_burst

    create_table(clients.dynamodb, "status-cd")
    cfg = write(tmp_path, "  - {name: cs-st, min_shards: 1, max_shards: 8, desired_shards: 2}\n", prefix="cs5")
    assert run(["--config", cfg, "--alarm-topic-arn", topic], moto_server).returncode == 0
    write_burst(clients.cloudwatch, "cs-st", bytes_per_minute=0.5 * 2 * 1_048_576 * 60, minutes=3)
    clients.cloudwatch.put_metric_alarm(
        AlarmName="cs5/stranger/incoming-bytes",
        Dimensions=[{"Name": "StreamName", "Value": "stranger"}],
        MetricName="IncomingBytes",
        Namespace="AWS/Kinesis",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    done = subprocess.run(
        [sys.executable, "-m", "autoscaler", "status", "--config", cfg, "--table", "status-cd", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        env={**os.environ, **moto_server.env(), "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    (row,) = report["streams"]
    assert (row["open_shards"], row["mode"], row["alarms_match"]) == (2, "PROVISIONED", True)
    assert row["peak_1h"] == pytest.approx(0.5)  # 0.5 × 2 shards' bytes in each of 3 minutes
    assert report["orphaned_alarms"] == ["cs5/stranger/incoming-bytes"]


def test_alarm_topic_found_from_the_stack_outputs(moto_server: MotoServer, tmp_path: Path) -> None:
    import botocore.session

    cfn = botocore.session.get_session().create_client(
        "cloudformation", region_name="us-east-1", endpoint_url=moto_server.endpoint
    )
    body = {
        "Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}}},
    }
    cfn.create_stack(StackName="cs6-stack", TemplateBody=json.dumps(body))
    topic = cfn.describe_stacks(StackName="cs6-stack")["Stacks"][0]["Outputs"][0]["OutputValue"]
    cfg = write(tmp_path, "  - {name: cs-stacked, min_shards: 1, max_shards: 8, desired_shards: 1}\n", prefix="cs6")
    done = run(["--config", cfg, "--stack", "cs6-stack", "--json"], moto_server)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["alarm_topic_arn"] == topic
    alarms = local_clients(moto_server.endpoint).cloudwatch.describe_alarms(AlarmNamePrefix="cs6/")["MetricAlarms"]
    assert alarms and all(a["AlarmActions"] == [topic] for a in alarms)


@pytest.mark.parametrize(
    ("case", "env", "config", "code", "message"),
    [
        (
            "broken config",
            {},
            "streams:\n  - {name: x, min_shards: 3, max_shards: 1, desired_shards: 1}\n",
            2,
            "line 2, streams[0].min_shards: min_shards (3) is above max_shards (1)",
        ),
        (
            "no credentials",
            {
                "AWS_ACCESS_KEY_ID": "",
                "AWS_SECRET_ACCESS_KEY": "",
                "AWS_SESSION_TOKEN": "",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_CONFIG_FILE": "/dev/null",
                "AWS_EC2_METADATA_DISABLED": "true",
            },
            "streams:\n  - {name: x, min_shards: 1, max_shards: 2, desired_shards: 1}\n",
            3,
            "no AWS credentials",
        ),
        (
            "unknown region",
            {
                "AWS_ENDPOINT_URL": "",
                "AWS_REGION": "xx-nowhere-9",
                "AWS_DEFAULT_REGION": "xx-nowhere-9",
                "AWS_MAX_ATTEMPTS": "1",
            },
            "streams:\n  - {name: x, min_shards: 1, max_shards: 2, desired_shards: 1}\n",
            3,
            "check AWS_REGION",
        ),
    ],
)
def test_operator_errors_say_what_to_fix(
    moto_server: MotoServer, tmp_path: Path, case: str, env: dict[str, str], config: str, code: int, message: str
) -> None:
    path = tmp_path / "streams.yaml"
    path.write_text(config)
    full = {**os.environ, **moto_server.env(), **env, "COLUMNS": "200"}
    full = {k: v for k, v in full.items() if v != ""}
    done = subprocess.run(
        [
            sys.executable,
            "scripts/create_streams.py",
            "--config",
            str(path),
            "--alarm-topic-arn",
            "arn:aws:sns:us-east-1:123456789012:x",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        env=full,
    )
    assert done.returncode == code, f"{case}: {done.stderr}"
    assert message in " ".join(done.stderr.split()), case


def test_a_failing_action_exits_non_zero_and_still_summarises(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process (to make one AWS call fail): the other streams are still handled, the summary printed, exit 1."""
    from typer.testing import CliRunner

    from autoscaler.adapters.aws import provisioning
    from autoscaler.cli import app
    from autoscaler.core.errors import AwsCallFailed

    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    real_apply = provisioning.Provisioning.apply

    def failing(self: provisioning.Provisioning, action: Any, topic: str, progress: Any) -> None:
        if action.stream == "cs-bad" and action.kind.value == "create stream":
            raise AwsCallFailed("CreateStream failed with AccessDeniedException")
        real_apply(self, action, topic, progress)

    monkeypatch.setattr(provisioning.Provisioning, "apply", failing)
    cfg = write(
        tmp_path,
        "  - {name: cs-bad, min_shards: 1, max_shards: 8, desired_shards: 1}\n"
        "  - {name: cs-good, min_shards: 1, max_shards: 8, desired_shards: 1}\n",
        prefix="cs7",
    )
    result = CliRunner().invoke(
        app, ["create-streams", "--config", cfg, "--alarm-topic-arn", "arn:aws:sns:us-east-1:123456789012:x", "--json"]
    )
    assert result.exit_code == 1
    rows = {r["stream"]: r for r in json.loads(result.stdout[result.stdout.index("{") :])["streams"]}
    assert rows["cs-bad"]["status"] == "failed" and rows["cs-good"]["status"] == "changed"
    # the failure is the row's, with AWS's words; no separate error object is printed beside the summary
    assert "AccessDeniedException" in rows["cs-bad"]["error"] and '"error": {' not in result.stderr


def test_a_read_side_stream_gets_its_read_alarms_and_a_second_run_changes_nothing(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """read_side: true adds the three read alarms (issue 15), idempotently; the iterator age is alarmed on Maximum."""
    clients = local_clients(moto_server.endpoint)
    topic = clients.sns.create_topic(Name="cs-read-alarms")["TopicArn"]
    cfg = write(
        tmp_path,
        "  - {name: cs-read, min_shards: 1, max_shards: 8, desired_shards: 2, read_side: true, "
        "max_iterator_age_seconds: 300}\n",
        prefix="cs11",
    )
    first = by_stream(run(["--config", cfg, "--alarm-topic-arn", topic, "--json"], moto_server))
    assert first["cs-read"]["status"] == "changed"
    alarms = {a["AlarmName"]: a for a in clients.cloudwatch.describe_alarms(AlarmNamePrefix="cs11/")["MetricAlarms"]}
    assert set(alarms) == {
        f"cs11/cs-read/{k}"
        for k in (
            "incoming-bytes",
            "incoming-records",
            "write-throttled",
            "read-bytes",
            "read-throttled",
            "iterator-age",
        )
    }
    age = alarms["cs11/cs-read/iterator-age"]
    assert (age["MetricName"], age["Statistic"], age["Threshold"], age["EvaluationPeriods"]) == (
        "GetRecords.IteratorAgeMilliseconds",
        "Maximum",
        300_000.0,
        3,
    )
    # 2 shards' shared reads: 0.8 × 2 × 2 MiB × 60 = 201,326,592 bytes a minute
    assert alarms["cs11/cs-read/read-bytes"]["Threshold"] == 0.8 * 2 * 2 * 1_048_576 * 60
    again = run(["--config", cfg, "--alarm-topic-arn", topic, "--json"], moto_server)
    assert by_stream(again)["cs-read"]["status"] == "unchanged"
    # read_side turned off: its read alarms go (else their notifications are refused every time they fire)
    Path(cfg).write_text(Path(cfg).read_text().replace("read_side: true", "read_side: false"))
    off = by_stream(run(["--config", cfg, "--alarm-topic-arn", topic, "--json"], moto_server))["cs-read"]
    assert off["status"] == "changed" and len(off["done"]) == 3, off
    left = {a["AlarmName"] for a in clients.cloudwatch.describe_alarms(AlarmNamePrefix="cs11/")["MetricAlarms"]}
    assert left == {f"cs11/cs-read/{k}" for k in ("incoming-bytes", "incoming-records", "write-throttled")}
    assert (
        by_stream(run(["--config", cfg, "--alarm-topic-arn", topic, "--json"], moto_server))["cs-read"]["status"]
        == "unchanged"
    )
