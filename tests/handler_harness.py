"""Loading a Lambda handler module afresh under moto (its clients and config are built at import) and recording
every AWS call its clients make, for the handler tests."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import autoscaler.config as config_module


def load_handler(
    module_name: str, config_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **environ: str
) -> ModuleType:
    """Import `module_name` afresh with `config_text` as its streams.yaml and `environ` set (call inside mock_aws)."""
    path = tmp_path / "streams.yaml"
    path.write_text(config_text)
    monkeypatch.setenv("AUTOSCALER_CONFIG", str(path))
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    config_module._load_cached.cache_clear()
    sys.modules.pop(module_name, None)
    return importlib.import_module(module_name)


class CallRecorder:
    """The operation names of every AWS call made through a loaded handler module's clients, in order."""

    writes_of: frozenset[str] = frozenset()

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.calls: list[str] = []
        for client in module.CLIENTS.all():
            client.meta.events.register("before-call.*.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    @property
    def writes(self) -> list[str]:
        return [c for c in self.calls if c in self.writes_of]


TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
_SEARCH = re.compile(r"SEARCH\('\{KinesisAutoscaler,([^}]*)\} ([^']*)'")


def dashboard_schemas() -> dict[str, frozenset[str]]:
    """Metric name -> the dimension set a dashboard SEARCH schema {KinesisAutoscaler,...} asks for. Such a schema
    matches only metrics with exactly those dimensions."""
    out: dict[str, frozenset[str]] = {}
    for dims, terms in _SEARCH.findall(TEMPLATE.read_text()):
        for name in re.findall(r'MetricName=\\"(\w+)\\"', terms):
            out[name] = frozenset(d.strip() for d in dims.split(","))
    return out


def emitted_metrics(stdout: str) -> set[tuple[str, frozenset[str]]]:
    """(metric name, dimension set) of every EMF line a handler printed."""
    found = set()
    for line in stdout.splitlines():
        if '"_aws"' not in line:
            continue
        for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
            for dims in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    found.add((metric["Name"], frozenset(dims)))
    return found


@contextlib.contextmanager
def log_lines(module: ModuleType, stream: io.TextIOBase | None = None) -> Iterator[io.TextIOBase]:
    """The handler's log lines as written, in `stream` (a StringIO unless given: a strict UTF-8 one, say), at INFO
    (Lambda's default level), for the duration. The Powertools logger outlives the module and is shared by every
    handler of the service, and other tests set its level: the stream (unflushed: a test's captured stdout may be
    closed by now) and the level it had are put back."""
    handler = module.logger.registered_handler
    service_logger = logging.getLogger(module.logger.name)
    saved, handler.stream = handler.stream, stream or io.StringIO()
    level = service_logger.level
    service_logger.setLevel(logging.INFO)
    try:
        yield handler.stream
    finally:
        handler.stream = saved
        service_logger.setLevel(level)
