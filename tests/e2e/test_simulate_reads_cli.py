"""`kinesis-autoscaler simulate` with a read model, as a subprocess (stdout a pipe, not a TTY): the read options, the
JSON read fields, the table's read columns, and the errors an operator can fix. No timed assertions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autoscaler.simulator.synthetic import read_bound
from autoscaler.simulator.trace import write_csv
from tests.e2e.test_simulate_cli import cli

pytestmark = pytest.mark.e2e
READ_FIELDS = (
    "read_throttled_bytes_fraction",
    "read_throttled_calls_fraction",
    "read_throttled_minutes",
    "max_iterator_age_seconds",
    "minutes_readers_behind",
    "read_catch_up_minutes",
)


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bench's read-bound trace (4 days of writes at a modest share of their shards) as a CSV."""
    path = tmp_path_factory.mktemp("reads") / "read_bound.csv"
    write_csv(read_bound().trace, path)
    return path


def run_json(trace: Path, *extra: str) -> dict[str, Any]:
    done = cli(["simulate", "--trace", str(trace), "--capacity-mode", "provisioned", "--json", *extra])
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_read_options_add_the_read_fields_without_renaming_any(trace: Path) -> None:
    data = run_json(trace, "--read-consumers", "3", "--lagging-consumer", "2040:30")
    assert data["read_model"] == {"consumers": 3, "lagging_consumer": [{"start_minute": 2040, "minutes": 30}]}
    for name, row in data["policies"].items():
        for field in ("throttled_bytes_fraction", "shard_hours", "cost_usd", "cost_vs_on_demand", *READ_FIELDS):
            assert field in row, (name, field)
    auto, od, oracle = data["policies"]["autoscaler"], data["policies"]["on-demand"], data["policies"]["oracle"]
    # the built-in defaults told of 3 consumers manage them; the pause is the worst age of every policy (30 min)
    assert auto["read_side"] is True
    assert auto["read_throttled_bytes_fraction"] < 0.01
    assert auto["max_iterator_age_seconds"] == od["max_iterator_age_seconds"] == 1800.0
    assert oracle["read_throttled_bytes_fraction"] == 0.0
    assert auto["read_catch_up_minutes"] is not None


def test_read_side_off_runs_the_autoscaler_write_only(trace: Path) -> None:
    on = run_json(trace, "--read-consumers", "3", "--policy", "autoscaler")["policies"]["autoscaler"]
    off = run_json(trace, "--read-consumers", "3", "--read-side", "off", "--policy", "autoscaler")
    row = off["policies"]["autoscaler"]
    assert row["read_side"] is False
    assert row["read_throttled_bytes_fraction"] > 4 * on["read_throttled_bytes_fraction"]
    assert any(n.startswith("read_side is off: the autoscaler sized for writes only") for n in row["notes"])


def test_a_config_with_read_side_declares_the_readers(trace: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text(
        "streams:\n  - {name: a, min_shards: 1, max_shards: 64, desired_shards: 2, read_side: true, "
        "read_consumers: 3}\n"
    )
    data = run_json(trace, "--config", str(cfg), "--policy", "autoscaler")
    assert data["read_model"] == {"consumers": 3, "lagging_consumer": []}
    assert data["policies"]["autoscaler"]["read_side"] is True


def test_the_table_shows_the_reads_and_says_who_reads(trace: Path) -> None:
    done = cli(["simulate", "--trace", str(trace), "--read-consumers", "3", "--policy", "autoscaler,on-demand"])
    assert done.returncode == 0, done.stderr
    for column in ("throttled reads", "worst iterator age", "min readers behind"):
        assert column in done.stdout
    assert "reads: 3 polling consumers each reading every record; the autoscaler scales for them" in done.stderr
    plain = cli(["simulate", "--trace", str(trace), "--policy", "autoscaler"])
    assert plain.returncode == 0, plain.stderr
    assert "throttled reads" not in plain.stdout and "reads:" not in plain.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lagging-consumer", "100:30"], "--lagging-consumer needs polling consumers to lag"),
        (["--read-consumers", "3", "--lagging-consumer", "soon"], "--lagging-consumer 'soon': write START:MINUTES"),
        (["--read-consumers", "3", "--lagging-consumer", "10:0"], "MINUTES ≥ 1"),
        (["--read-consumers", "3", "--lagging-consumer", "9000:5"], "after the trace's 5,760 minutes"),
        (["--read-consumers", "51"], "--read-consumers 51: within 0..50"),
        (["--read-consumers", "3", "--read-side", "maybe"], "--read-side 'maybe': on or off"),
    ],
)
def test_bad_read_options_say_what_to_fix(trace: Path, args: list[str], message: str) -> None:
    done = cli(["simulate", "--trace", str(trace), *args])
    assert done.returncode == 2
    assert message in done.stderr
