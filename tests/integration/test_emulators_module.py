"""autoscaler/local/emulators.py without its npm packages: a clear error naming `make emulators`, no process left."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoscaler.local.emulators import Dynalite, EmulatorMissing, KinesisMock

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("cls", [KinesisMock, Dynalite])
def test_a_missing_emulator_says_to_run_make_emulators(cls: type[KinesisMock] | type[Dynalite], tmp_path: Path) -> None:
    server = cls(directory=tmp_path)  # an emulators/ folder with no node_modules
    with pytest.raises(EmulatorMissing, match="make emulators"):
        server.start()
    assert server.proc is None


def test_kinesis_mock_gets_short_updating_durations_and_moto_s_account() -> None:
    env = KinesisMock(updating_seconds=1.5, shard_limit=7).environment()
    assert env["SPLIT_SHARD_DURATION"] == env["MERGE_SHARDS_DURATION"] == env["UPDATE_SHARD_COUNT_DURATION"] == "1500ms"
    assert (env["SHARD_LIMIT"], env["AWS_ACCOUNT_ID"]) == ("7", "123456789012")
    assert env["KINESIS_MOCK_PLAIN_PORT"] != env["KINESIS_MOCK_TLS_PORT"]
