"""The layers as rules, parsed from the imports (every import, module-level or inside a function), failing with the
offending edge:

    core      imports only core
    config    core, config                      events   core, events
    app       core, config, events, app          (app.ports is the ports every adapter implements)
    adapters  core, config, events, app.ports, their own package (aws/ or fakes/); runtime.py nothing
    simulator core, config, events, app, adapters.fakes, simulator
    local     everything but cli, handlers and the simulator
    handlers  everything but cli, local and the simulator (the fleet function's estimator excepted: EXCEPTIONS)
    cli       everything but handlers
    nothing imports handlers or cli; no import cycle between modules

and the core, app, config and events stay pure: no AWS SDK, no os.environ, no wall clock.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "autoscaler"
AWS_LIBS = ("boto3", "botocore", "aws_lambda_powertools", "moto")

# layer -> the layers it may import (its own included)
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "config": frozenset({"core", "config"}),
    "events": frozenset({"core", "events"}),
    "ports": frozenset({"core", "config", "events", "ports"}),
    "app": frozenset({"core", "config", "events", "ports", "app"}),
    "adapters.aws": frozenset({"core", "config", "events", "ports", "adapters.aws"}),
    "adapters.fakes": frozenset({"core", "config", "events", "ports", "adapters.fakes"}),
    "adapters.runtime": frozenset(),
    "simulator": frozenset({"core", "config", "events", "ports", "app", "adapters.fakes", "simulator"}),
    "local": frozenset(
        {"core", "config", "events", "ports", "app", "adapters.aws", "adapters.fakes", "adapters.runtime", "local"}
    ),
    "handlers": frozenset({"core", "config", "events", "ports", "app", "adapters.aws", "adapters.runtime", "handlers"}),
    "cli": frozenset(
        {
            "core",
            "config",
            "events",
            "ports",
            "app",
            "adapters.aws",
            "adapters.fakes",
            "adapters.runtime",
            "simulator",
            "local",  # `kinesis-autoscaler local`: the local stack's processes (docs/architecture.md)
            "cli",
        }
    ),
    "root": frozenset({"cli"}),  # autoscaler/__main__.py: `python -m autoscaler`
}
# Edges that cross a rule on purpose, each with its reason.
EXCEPTIONS = {
    ("autoscaler.adapters.aws.provisioning", "autoscaler.app.onboarding"): (
        "create-streams' adapter executes the onboarding plan's actions: the plan's types are its input"
    ),
    ("autoscaler.handlers.scale_down", "autoscaler.simulator.estimator"): (
        "capacity_mode auto's evidence is the stream's history replayed by the simulator (EstimatorPort): the fleet "
        "function's composition root builds it; no other handler reaches the simulator (scale-up's cold start)"
    ),
}
PURE_LAYERS = ("core", "config", "events", "ports", "app")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if module == "autoscaler.app.ports":
        return "ports"
    if len(parts) < 2 or parts[1] in ("__main__", "__init__"):
        return "root"
    if parts[1] == "adapters":
        return f"adapters.{parts[2]}" if len(parts) > 2 else "adapters.aws"
    return parts[1]


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, `from package import submodule` resolved to the submodule."""
    known = modules()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known]
            yield from subs or [node.module]


def edges() -> Iterator[tuple[str, str]]:
    for name, path in modules().items():
        for target in imports(path):
            if target == "autoscaler" or target.startswith("autoscaler."):
                yield name, target


def test_every_import_follows_the_layer_rules() -> None:
    broken = []
    for source, target in edges():
        if (source, target) in EXCEPTIONS:
            continue
        src, dst = layer(source), layer(target)
        if dst not in ALLOWED[src]:
            broken.append(f"{source} ({src}) imports {target} ({dst})")
    assert not broken, "layer rules broken:\n  " + "\n  ".join(sorted(broken))


def test_the_rules_catch_an_offending_edge() -> None:
    """The rule table bites: an adapter importing the simulator, the core importing config, an app module importing
    a handler are each refused."""
    assert "simulator" not in ALLOWED[layer("autoscaler.adapters.aws.history")]
    assert "config" not in ALLOWED[layer("autoscaler.core.model")]
    assert "handlers" not in ALLOWED[layer("autoscaler.app.scale_up")]
    assert all("handlers" not in ALLOWED[k] for k in ALLOWED if k != "handlers")
    assert all("cli" not in ALLOWED[k] for k in ALLOWED if k not in ("cli", "root"))


def test_every_exception_is_still_an_edge() -> None:
    present = set(edges())
    stale = [edge for edge in EXCEPTIONS if edge not in present]
    assert not stale, f"exceptions no longer needed: {stale}"


def test_no_import_cycle() -> None:
    """Tarjan's strongly connected components over the module graph: any component of two or more is a cycle."""
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for source, target in edges():
        if target in graph and target != source:
            graph[source].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def attributes(path: Path) -> set[str]:
    """Every `name.attr` used in the code (docstrings and comments do not count)."""
    return {
        f"{node.value.id}.{node.attr}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    }


@pytest.mark.parametrize("layer_name", PURE_LAYERS)
def test_pure_layers_have_no_aws_sdk_clock_or_environment(layer_name: str) -> None:
    checked = 0
    for name, path in modules().items():
        if layer(name) != layer_name:
            continue
        checked += 1
        sdk = sorted(m for m in imports(path) if m.split(".")[0] in AWS_LIBS)
        assert not sdk, f"{name} imports {sdk}: AWS code belongs in autoscaler/adapters/aws/"
        used = attributes(path)
        assert not used & {"os.environ", "os.getenv"}, f"{name} reads the environment: take it as a parameter"
        assert not used & {"time.time", "time.monotonic", "datetime.now", "datetime.utcnow"}, f"{name} reads the clock"
    assert checked, f"no module in layer {layer_name}"


def test_fakes_and_simulator_use_no_aws_sdk() -> None:
    for name, path in modules().items():
        if layer(name) in ("adapters.fakes", "simulator"):
            assert not any(m.split(".")[0] in AWS_LIBS for m in imports(path)), f"{name} imports an AWS SDK"
