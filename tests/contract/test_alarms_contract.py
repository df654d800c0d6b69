"""AlarmsPort contract: the same cases on FakeAlarms and on AlarmsAdapter over moto's CloudWatch.

Alarm state is where moto is loose: new alarms start OK and PutMetricAlarm resets the state to OK. AWS's PutMetricAlarm
reference: "When this operation creates an alarm, the alarm state is immediately set to INSUFFICIENT_DATA" and "When
updating an existing alarm, its StateValue is left unchanged". Those cases are fake-only; the adapter does nothing to
the state beyond calling PutMetricAlarm, so on AWS they hold by the documented behaviour.
"""

from __future__ import annotations

import pytest

from autoscaler.app.ports import AlarmInfo
from autoscaler.core.capacity import AlarmSpec, alarm_specs
from autoscaler.core.errors import AlarmNotFound
from tests.contract.impls import AlarmsHarness, only_on

pytestmark = [pytest.mark.integration, pytest.mark.contract]
TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms"
OTHER_TOPIC = "arn:aws:sns:us-east-1:123456789012:other"
MiB = 1_048_576
MOTO_STATE = "moto resets an alarm to OK on PutMetricAlarm (AWS keeps its state)"


def specs(shards: int) -> list[AlarmSpec]:
    """The stream's three scale-up alarms at `shards` shards: bytes, records, throttling."""
    return alarm_specs(
        "kinesis-autoscaler",
        "orders",
        shards,
        scale_up_threshold=0.8,
        period_seconds=60,
        evaluation_periods=2,
        datapoints_to_alarm=2,
    )


@pytest.fixture
def alarms(alarms_impl: AlarmsHarness) -> AlarmsHarness:
    alarms_impl.port.ensure_alarms(specs(4), [TOPIC])
    return alarms_impl


def names() -> list[str]:
    return [s.name for s in specs(4)]


def test_ensure_alarms_creates_each_alarm_as_specified(alarms: AlarmsHarness) -> None:
    bytes_alarm = specs(4)[0]
    # 0.8 × 4 shards × 1 MiB/s × 60 s = 201,326,592 bytes a minute
    assert bytes_alarm.threshold == pytest.approx(0.8 * 4 * MiB * 60)
    got = alarms.port.get_alarms(names())
    assert {n: (a.threshold, a.period_seconds) for n, a in got.items()} == {
        s.name: (s.threshold, s.period_seconds) for s in specs(4)
    }
    assert alarms.config(bytes_alarm.name) == {
        "metric": bytes_alarm.metric_name,
        "stream": "orders",
        "threshold": bytes_alarm.threshold,
        "period": 60,
        "evaluation_periods": 2,
        "datapoints_to_alarm": 2,
        "comparison": bytes_alarm.comparison,
        "description": bytes_alarm.description,
        "actions": [TOPIC],
    }


@only_on("fake", reason="moto starts new alarms OK (AWS: INSUFFICIENT_DATA until evaluated)")
def test_a_new_alarm_starts_insufficient_data(alarms: AlarmsHarness) -> None:
    assert {a.state for a in alarms.port.get_alarms(names()).values()} == {"INSUFFICIENT_DATA"}


def test_get_alarms_leaves_missing_names_out(alarms: AlarmsHarness) -> None:
    first = names()[0]
    got = alarms.port.get_alarms([first, "kinesis-autoscaler/gone/incoming-bytes"])
    assert list(got) == [first]
    assert alarms.port.get_alarms([]) == {}


def test_ensure_alarms_overwrites_an_existing_alarm(alarms: AlarmsHarness) -> None:
    alarms.port.ensure_alarms(specs(8), [OTHER_TOPIC])
    bytes8 = specs(8)[0]
    # 0.8 × 8 × 1 MiB/s × 60 s = 402,653,184: the threshold follows the shard count, the actions the call
    assert alarms.port.get_alarms([bytes8.name])[bytes8.name].threshold == pytest.approx(402_653_184.0)
    assert alarms.config(bytes8.name)["actions"] == [OTHER_TOPIC]
    assert alarms.config(bytes8.name)["description"] == bytes8.description


def test_put_thresholds_changes_only_the_threshold(alarms: AlarmsHarness) -> None:
    first = names()[0]
    before = alarms.config(first)
    alarms.port.put_thresholds({first: 402_653_184.0})
    assert alarms.config(first) == {**before, "threshold": 402_653_184.0}
    assert alarms.port.get_alarms([first])[first].threshold == 402_653_184.0


def test_put_thresholds_of_a_missing_alarm_raises_alarm_not_found(alarms: AlarmsHarness) -> None:
    with pytest.raises(AlarmNotFound):
        alarms.port.put_thresholds({"kinesis-autoscaler/gone/incoming-bytes": 1.0})


@only_on("fake", reason=MOTO_STATE)
def test_put_thresholds_keeps_the_state(alarms: AlarmsHarness) -> None:
    first = names()[0]
    alarms.set_state(first, "ALARM")
    alarms.port.put_thresholds({first: 402_653_184.0})
    assert alarms.port.get_alarms([first])[first] == AlarmInfo(first, 402_653_184.0, 60, "ALARM")


@only_on("fake", reason=MOTO_STATE)
def test_ensure_alarms_keeps_the_state_of_an_existing_alarm(alarms: AlarmsHarness) -> None:
    first = names()[0]
    alarms.set_state(first, "ALARM")
    alarms.port.ensure_alarms(specs(8), [TOPIC])
    assert alarms.port.get_alarms([first])[first].state == "ALARM"


def test_set_ok_moves_each_alarm_to_ok(alarms: AlarmsHarness) -> None:
    first, second, third = names()
    alarms.set_state(first, "ALARM")
    alarms.set_state(second, "ALARM")
    alarms.port.set_ok([first, second], "retuned to 8 shards")
    got = alarms.port.get_alarms(names())
    assert (got[first].state, got[second].state) == ("OK", "OK")
    assert got[third].state != "ALARM"  # not named: left as it was


def test_set_ok_of_a_missing_alarm_raises_alarm_not_found(alarms: AlarmsHarness) -> None:
    with pytest.raises(AlarmNotFound):
        alarms.port.set_ok(["kinesis-autoscaler/gone/incoming-bytes"], "retuned")


def test_alarmed_lists_only_the_alarms_in_alarm_under_the_prefix(alarms: AlarmsHarness) -> None:
    first, second, third = names()
    other = alarm_specs(
        "kinesis-autoscaler-eu",  # a prefix that extends ours: "kinesis-autoscaler/" does not match it
        "orders",
        4,
        scale_up_threshold=0.8,
        period_seconds=60,
        evaluation_periods=2,
        datapoints_to_alarm=2,
    )
    alarms.port.ensure_alarms(other, [OTHER_TOPIC])
    alarms.set_state(first, "ALARM")
    alarms.set_state(third, "ALARM")
    alarms.set_state(other[0].name, "ALARM")
    alarms.set_state(second, "OK")
    assert alarms.port.alarmed("kinesis-autoscaler/") == sorted([first, third])
    assert alarms.port.alarmed("kinesis-autoscaler/orders/") == sorted([first, third])
    assert alarms.port.alarmed("kinesis-autoscaler/payments/") == []
