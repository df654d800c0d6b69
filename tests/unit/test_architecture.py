"""House rules held by parsing imports: the core stays pure, nothing imports handlers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "autoscaler"
PURE = ["model.py", "capacity.py", "planner.py", "config.py", "ports.py", "service.py", "events.py", "defaults.py",
        "errors.py"]
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
    bad = sorted(m for m in mods if m.split(".")[0] in AWS_LIBS or m.startswith(("autoscaler.aws", "autoscaler.sim",
                                                                                  "autoscaler.handlers")))
    assert not bad, f"{name} imports {bad}: the core must stay pure (move AWS code to autoscaler/aws/)"
    text = path.read_text()
    if name != "config.py":  # config reads the path the edge hands it; only config_path_from_env sees a mapping
        assert "os.environ" not in text, f"{name} reads the environment"
    assert "time.time(" not in text and "datetime.now(" not in text, f"{name} reads the clock"


def test_nothing_imports_handlers() -> None:
    for path in PACKAGE.rglob("*.py"):
        if "handlers" in path.parts:
            continue
        assert not any(m.startswith("autoscaler.handlers") for m in imports(path)), f"{path} imports a handler"


def test_sim_doubles_do_not_use_aws_sdks() -> None:
    for path in (PACKAGE / "sim").rglob("*.py"):
        assert not any(m.split(".")[0] in AWS_LIBS for m in imports(path)), f"{path} imports an AWS SDK"
