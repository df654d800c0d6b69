"""requirements.lock (the Lambda package's pins) and scripts/audit_deps.py, the lock's vulnerability audit."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("audit_deps", ROOT / "scripts" / "audit_deps.py")
assert _spec and _spec.loader
audit_deps = importlib.util.module_from_spec(_spec)
sys.modules["audit_deps"] = audit_deps  # dataclasses look their module up there
_spec.loader.exec_module(audit_deps)


def _lock_entries() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) from requirements.lock."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
        if m:
            current = m.group(1).lower().replace("_", "-")
            entries[current] = (m.group(2), 0)
        elif current and "--hash=sha256:" in line:
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
    return entries


def test_every_requirement_is_pinned_in_the_lock_within_its_range() -> None:
    lock = _lock_entries()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        req = Requirement(line)
        name = req.name.lower().replace("_", "-")
        assert name in lock, f"{name} is in requirements.txt but not in requirements.lock: run make lock"
        assert req.specifier.contains(lock[name][0]), f"{name}=={lock[name][0]} is outside {req.specifier}: make lock"


def test_every_pin_carries_hashes_so_the_build_can_require_them() -> None:
    lock = _lock_entries()
    assert len(lock) >= 10  # the runtime closure: powertools, pydantic(-core), botocore and theirs
    assert all(hashes >= 1 for _, hashes in lock.values()), lock


def test_the_package_is_built_from_the_lock_with_hashes_required() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes --no-deps --requirement requirements.lock" in makefile


LOCK = "foo==1.0 \\\n    --hash=sha256:ab\n    # via bar\nbar_baz==2.1\n# comment==9\n"


def test_pins_are_read_from_a_hashed_lock_with_names_normalised() -> None:
    assert audit_deps.read_pins(LOCK) == [("foo", "1.0"), ("bar-baz", "2.1")]


def _pypi(docs: dict[str, dict[str, Any] | None]) -> Any:
    asked: list[str] = []

    def fetch(url: str) -> dict[str, Any] | None:
        asked.append(url)
        return docs.get(url)

    fetch.asked = asked  # type: ignore[attr-defined]
    return fetch


VULN = {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-1"], "fixed_in": ["1.1"]}


def test_a_release_with_an_advisory_fails_the_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lock").write_text(LOCK)
    fetch = _pypi(
        {
            "https://pypi.org/pypi/foo/1.0/json": {"info": {"version": "1.0"}, "vulnerabilities": [VULN]},
            "https://pypi.org/pypi/bar-baz/2.1/json": {"info": {"version": "2.1"}, "vulnerabilities": []},
        }
    )
    assert audit_deps.main([str(tmp_path / "lock")], fetch=fetch) == 1
    out = capsys.readouterr().out
    assert "foo" in out and "VULNERABLE" in out and "PYSEC-2099-1 / CVE-2099-1 (fixed in 1.1)" in out
    assert "2 locked packages, 2 audited, 1 with known vulnerabilities, 0 unaudited" in out


def test_a_withdrawn_advisory_does_not_count(tmp_path: Path) -> None:
    (tmp_path / "lock").write_text("foo==1.0\n")
    withdrawn = {**VULN, "withdrawn": "2099-02-01"}
    fetch = _pypi({"https://pypi.org/pypi/foo/1.0/json": {"info": {"version": "1.0"}, "vulnerabilities": [withdrawn]}})
    assert audit_deps.main([str(tmp_path / "lock")], fetch=fetch) == 0


def test_without_release_documents_the_latest_release_is_audited_from_the_project_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "lock").write_text(LOCK)
    fetch = _pypi(
        {
            "https://pypi.org/pypi/foo/json": {"info": {"version": "1.0"}, "vulnerabilities": [VULN]},
            "https://pypi.org/pypi/bar-baz/json": {"info": {"version": "3.0"}, "vulnerabilities": []},
        }
    )
    assert audit_deps.main([str(tmp_path / "lock")], fetch=fetch) == 1  # foo 1.0 is the latest: its advisory counts
    out = capsys.readouterr().out
    assert "bar-baz" in out and "advisory data here covers only the latest release (3.0)" in out
    assert fetch.asked == [
        "https://pypi.org/pypi/foo/1.0/json",
        "https://pypi.org/pypi/foo/json",
        "https://pypi.org/pypi/bar-baz/2.1/json",
        "https://pypi.org/pypi/bar-baz/json",
    ]


def test_an_unaudited_package_warns_and_fails_only_when_strict(tmp_path: Path) -> None:
    (tmp_path / "lock").write_text(LOCK)
    fetch = _pypi({"https://pypi.org/pypi/foo/1.0/json": {"info": {"version": "1.0"}, "vulnerabilities": []}})
    assert audit_deps.main([str(tmp_path / "lock")], fetch=fetch) == 0  # bar-baz unaudited: listed, not fatal
    assert audit_deps.main([str(tmp_path / "lock"), "--strict"], fetch=fetch) == 1


def test_nothing_audited_fails_even_without_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lock").write_text(LOCK)

    def unreachable(url: str) -> dict[str, Any] | None:
        raise OSError("Name or service not known")

    assert audit_deps.main([str(tmp_path / "lock")], fetch=unreachable) == 1
    assert "nothing could be audited" in capsys.readouterr().err
    assert audit_deps.audit("foo", "1.0", unreachable).why_unaudited == "PyPI unreachable: Name or service not known"


@pytest.mark.parametrize(
    "doc",
    [
        {"info": {"version": "1.0"}},  # no advisory list: proves nothing
        {"info": {"version": "9.9"}, "vulnerabilities": []},  # a proxy answering with another release
        {"info": {"version": "1.0"}, "vulnerabilities": ["PYSEC-1"]},  # not advisory objects
    ],
)
def test_a_release_document_that_cannot_speak_for_the_pin_is_not_counted_clean(doc: dict[str, Any]) -> None:
    result = audit_deps.audit("foo", "1.0", _pypi({"https://pypi.org/pypi/foo/1.0/json": doc}))
    assert result.source == "" and result.advisories == [] and result.why_unaudited


def test_a_lock_that_cannot_be_read_or_pins_nothing_is_an_error(tmp_path: Path) -> None:
    assert audit_deps.main([str(tmp_path / "missing")], fetch=_pypi({})) == 2
    (tmp_path / "empty").write_text("# nothing\nfoo>=1\n")
    assert audit_deps.main([str(tmp_path / "empty")], fetch=_pypi({})) == 2


def test_only_https_urls_are_fetched() -> None:
    with pytest.raises(ValueError, match="non-https"):
        audit_deps.fetch_json("file:///etc/passwd")
