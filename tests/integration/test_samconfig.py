"""samconfig.toml against the template and the configs: every environment names a config that exists, is valid,
and whose streams are exactly the ManagedStreamNames its IAM policy is scoped to."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import pytest

from autoscaler.config import load_config

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text())
ENVIRONMENTS = [env for env in SAMCONFIG if env != "version"]


def overrides(env: str) -> dict[str, str]:
    raw = SAMCONFIG[env]["deploy"]["parameters"]["parameter_overrides"]
    return dict(item.split("=", 1) for item in shlex.split(raw))


def test_default_and_prod_environments_exist() -> None:
    assert SAMCONFIG["version"] == 0.1
    assert {"default", "prod"} <= set(ENVIRONMENTS)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_config_matches_its_managed_streams(env: str) -> None:
    params = overrides(env)
    compiled = Path(params["ConfigPath"])
    assert compiled.suffix == ".json" and compiled.parent == Path("config"), (
        f"[{env}] ConfigPath {compiled}: the build compiles config/X.yaml into config/X.json; point at one of those"
    )
    source = ROOT / compiled.with_suffix(".yaml")
    assert source.is_file(), f"[{env}] {source} does not exist"
    names = load_config(source).names
    assert params["ManagedStreamNames"].split(",") == list(names), (
        f"[{env}] ManagedStreamNames must list the streams of {source.name} (IAM is scoped to them): {names}"
    )
    deploy = SAMCONFIG[env]["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM" and deploy["region"]
