"""The broken-config catalogue (tests/config_bad/, issue 6): one problem per streams.yaml, each refused by load_config
with the exact operator-facing message in EXPECTED.json (the file, the line, the field and what to write instead),
and reported by the Lambda's config loader instead of crashing the function.

tests/unit/test_config.py holds the table-driven cases next to the code; this corpus is the catalogue an operator
can read file by file, so some problems appear in both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import autoscaler.config as config_module
from autoscaler.config import load_config, parse_config
from autoscaler.core.errors import ConfigError
from autoscaler.handlers import container

pytestmark = pytest.mark.unit
CORPUS = Path(__file__).resolve().parent.parent / "config_bad"
EXPECTED: dict[str, str] = json.loads((CORPUS / "EXPECTED.json").read_text(encoding="utf-8"))

# Files the code does not refuse with a ConfigError today: the exception that escapes instead, and why. The message
# in EXPECTED.json is the one proposed for the fix. strict xfail with raises=: the fix either passes (XPASS fails
# the run: drop the entry) or fails on the message (a plain failure: align the wording, then drop the entry).
KNOWN_BUGS: dict[str, tuple[type[BaseException], str]] = {}  # both found by this corpus are fixed


def _case(name: str) -> Any:
    if name in KNOWN_BUGS:
        exc, why = KNOWN_BUGS[name]
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, raises=exc, reason=f"bug: {why}"))
    return name


CASES = [_case(n) for n in sorted(EXPECTED)]


@pytest.fixture
def in_corpus(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Load by bare file name, so the messages name the file exactly as EXPECTED.json does (no checkout path)."""
    monkeypatch.chdir(CORPUS)
    config_module._load_cached.cache_clear()
    yield
    config_module._load_cached.cache_clear()


def test_catalogue_has_at_least_20_files_and_lists_each_one() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.is_file() and p.name != "EXPECTED.json"}
    assert len(files) >= 20, f"only {len(files)} broken configs"
    assert sorted(files - set(EXPECTED)) == [], "files missing from EXPECTED.json"
    assert sorted(set(EXPECTED) - files) == [], "EXPECTED.json lists files that do not exist"
    assert set(KNOWN_BUGS) <= files
    for name, message in EXPECTED.items():
        assert message.startswith(name), f"{name}: the message must name the file first"


@pytest.mark.parametrize("name", CASES)
def test_broken_config_is_refused_with_its_exact_message(in_corpus: None, name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(name)
    assert str(info.value) == EXPECTED[name]
    try:
        text = Path(name).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return  # only load_config reads bytes
    with pytest.raises(ConfigError) as direct:  # the same text handed to parse_config says the same thing
        parse_config(text, source=name)
    assert str(direct.value) == EXPECTED[name]


@pytest.mark.parametrize("name", CASES)
def test_lambda_reports_the_broken_config_instead_of_crashing(in_corpus: None, name: str) -> None:
    """container.load is what both handlers run at import: (None, message) keeps every invocation answering."""
    assert container.load({"AUTOSCALER_CONFIG": name}) == (None, EXPECTED[name])


# YAML 1.1 (PyYAML) reads these as the operator most likely meant; they are accepted, not refused.
ACCEPTED_QUIRKS = [
    ("enabled: no", "enabled", False),
    ("enabled: yes", "enabled", True),
    ("enabled: off", "enabled", False),
    ("max_shards: 0x40", "max_shards", 64),
    ("max_shards: 10_000", "max_shards", 10_000),
]


@pytest.mark.parametrize(("line", "field", "value"), ACCEPTED_QUIRKS)
def test_yaml_1_1_spellings_are_accepted_as_values(line: str, field: str, value: object) -> None:
    base = {"name": "orders", "min_shards": "1", "max_shards": "64", "desired_shards": "1"}
    key = line.split(":", 1)[0]
    body = "".join(f"    {k}: {v}\n" for k, v in base.items() if k != key)
    cfg = parse_config("streams:\n  -\n" + body + f"    {line}\n", source="q.yaml")
    assert getattr(cfg.streams[0], field) == value


def test_a_utf8_byte_order_mark_is_accepted(in_corpus: None, tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfstreams:\n  - {name: orders, min_shards: 1, max_shards: 4, desired_shards: 2}\n")
    assert load_config(path).names == ("orders",)
