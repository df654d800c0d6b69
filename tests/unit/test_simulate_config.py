"""Which streams.yaml `simulate` and `backtest` read (issue 14): the one every command reads (--config, then
$AUTOSCALER_CONFIG, then ./config/streams.yaml: cli/common.py find_config), and which it was, said. simulate without
any of --config, $AUTOSCALER_CONFIG or --stream keeps the built-in defaults; backtest, whose --stream names the
CloudWatch stream, falls back to them when no file is found or a file found nearby does not list it."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from autoscaler.cli.simulate import _backtest_config, _simulate_config
from autoscaler.core.errors import ConfigError

pytestmark = pytest.mark.unit

ONE = "streams:\n  - {name: a, min_shards: 1, max_shards: 50, desired_shards: 2}\n"
TWO = ONE + "  - {name: b, min_shards: 1, max_shards: 8, desired_shards: 2}\n"


def here(tmp_path: Path, text: str | None) -> Path:
    """A working directory, with a ./config/streams.yaml holding `text` (None: none)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    if text is not None:
        (cwd / "config").mkdir()
        (cwd / "config" / "streams.yaml").write_text(text)
    return cwd


@pytest.mark.parametrize(
    ("flag", "stream", "env", "local", "path", "found_by", "why"),
    [
        # none of --config, $AUTOSCALER_CONFIG, --stream: the built-in defaults, said so (and the file nearby named)
        (None, None, False, None, None, None, "no --config, $AUTOSCALER_CONFIG or --stream"),
        (None, None, False, TWO, None, None, "config/streams.yaml is here: add --stream NAME"),
        # --stream: the file find_config finds
        (None, "b", False, TWO, "config/streams.yaml", "the current directory", ""),
        # $AUTOSCALER_CONFIG, like every other command, before ./config/streams.yaml; one stream: no --stream needed
        (None, None, True, TWO, "env.yaml", "$AUTOSCALER_CONFIG", ""),
        ("flag.yaml", None, True, TWO, "flag.yaml", "--config", ""),
    ],
)
def test_simulate_reads_the_config_every_command_reads(
    tmp_path: Path,
    flag: str | None,
    stream: str | None,
    env: bool,
    local: str | None,
    path: str | None,
    found_by: str | None,
    why: str,
) -> None:
    cwd = here(tmp_path, local)
    for name in ("env.yaml", "flag.yaml"):
        (tmp_path / name).write_text(ONE)
    environ = {"AUTOSCALER_CONFIG": str(tmp_path / "env.yaml")} if env else {}
    choice = _simulate_config(str(tmp_path / flag) if flag else None, stream, environ, cwd)
    got = choice.path if choice.path is None or choice.path.startswith("config") else Path(choice.path).name
    assert (got, choice.found_by) == (path, found_by)
    assert (choice.config is None) == (path is None)
    assert why in choice.describe()
    assert choice.as_json()["description"] == choice.describe()


def test_simulate_refuses_what_it_cannot_resolve(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no streams\.yaml"):  # --stream, and no file anywhere
        _simulate_config(None, "a", {}, here(tmp_path, None))
    (tmp_path / "two.yaml").write_text(TWO)
    env = {"AUTOSCALER_CONFIG": str(tmp_path / "two.yaml")}
    with pytest.raises(typer.BadParameter, match=r"lists 2 streams: name one with --stream \(a, b\)"):
        _simulate_config(None, None, env, tmp_path)
    with pytest.raises(typer.BadParameter, match=r"'zz' is not in .*two.yaml \(from \$AUTOSCALER_CONFIG\)"):
        _simulate_config(None, "zz", env, tmp_path)


@pytest.mark.parametrize(
    ("env", "local", "stream", "path", "why"),
    [
        (False, None, "a", None, "no --config, $AUTOSCALER_CONFIG or ./config/streams.yaml"),
        (True, None, "a", "env.yaml", ""),
        (False, TWO, "b", "config/streams.yaml", ""),
        # a file found nearby that does not list the stream: a stream not yet onboarded, on the defaults, said so
        (False, TWO, "new", None, "new is not in config/streams.yaml (from the current directory)"),
    ],
)
def test_backtest_reads_the_config_every_command_reads(
    tmp_path: Path, env: bool, local: str | None, stream: str, path: str | None, why: str
) -> None:
    (tmp_path / "env.yaml").write_text(ONE)
    environ = {"AUTOSCALER_CONFIG": str(tmp_path / "env.yaml")} if env else {}
    choice = _backtest_config(None, stream, environ, here(tmp_path, local))
    got = choice.path if choice.path is None or choice.path.startswith("config") else Path(choice.path).name
    assert got == path
    assert why in choice.describe()


def test_backtest_refuses_a_stream_missing_from_the_file_the_operator_named(tmp_path: Path) -> None:
    (tmp_path / "env.yaml").write_text(ONE)
    environ = {"AUTOSCALER_CONFIG": str(tmp_path / "env.yaml")}
    with pytest.raises(typer.BadParameter, match=r"'new' is not in .*env.yaml \(from \$AUTOSCALER_CONFIG\)"):
        _backtest_config(None, "new", environ, tmp_path)
    with pytest.raises(typer.BadParameter, match=r"\(from --config\)"):
        _backtest_config(str(tmp_path / "env.yaml"), "new", {}, tmp_path)
