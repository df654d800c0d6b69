"""House rules held by parsing imports: the core stays pure, nothing imports handlers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "autoscaler"
PURE = [
    "model.py",
    "capacity.py",
    "planner.py",
    "config.py",
    "ports.py",
    "service.py",
    "events.py",
    "defaults.py",
    "errors.py",
]
AWS_LIBS = ("boto3", "botocore", "aws_lambda_powertools", "moto")


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("name", PURE)
def test_core_has_no_aws_sdk_clock_or_environment(name: str) -> None:
    path = PACKAGE / name
    mods = imports(path)
    bad = sorted(
        m
        for m in mods
        if m.split(".")[0] in AWS_LIBS or m.startswith(("autoscaler.aws", "autoscaler.sim", "autoscaler.handlers"))
    )
    assert not bad, f"{name} imports {bad}: the core must stay pure (move AWS code to autoscaler/aws/)"
    used = attributes(path)
    assert not used & {"os.environ", "os.getenv"}, f"{name} reads the environment: take it as a parameter"
    assert not used & {"time.time", "time.monotonic", "datetime.now", "datetime.utcnow"}, f"{name} reads the clock"


def attributes(path: Path) -> set[str]:
    """Every `name.attr` used in the code (docstrings and comments do not count)."""
    return {
        f"{node.value.id}.{node.attr}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    }


def test_nothing_imports_handlers() -> None:
    for path in PACKAGE.rglob("*.py"):
        if "handlers" in path.parts:
            continue
        assert not any(m.startswith("autoscaler.handlers") for m in imports(path)), f"{path} imports a handler"


def test_sim_doubles_do_not_use_aws_sdks() -> None:
    for path in (PACKAGE / "sim").rglob("*.py"):
        assert not any(m.split(".")[0] in AWS_LIBS for m in imports(path)), f"{path} imports an AWS SDK"
