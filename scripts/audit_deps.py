"""Known vulnerabilities in the locked Lambda dependencies (requirements.lock), from PyPI's advisory data.

pip-audit asks PyPI for each pinned release (/pypi/<name>/<version>/json). Some package proxies serve only the
project document (/pypi/<name>/json), whose `vulnerabilities` cover the latest release alone; pip-audit then skips
every package as "not found on PyPI" and proves nothing. This script asks the release document first and falls back to
the project document when the pinned release is the latest, so the lock is audited either way. A release neither
document can speak for is reported as unaudited: a warning, or a failure with --strict.

Exit status: 0 clean, 1 a known vulnerability, no package audited at all, or (with --strict) any unaudited package,
2 the lock cannot be read.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PYPI = "https://pypi.org/pypi"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")

Fetch = Callable[[str], dict[str, Any] | None]  # URL -> JSON document, None for 404


@dataclass
class Audit:
    name: str
    version: str
    source: str = ""  # "release", "project (latest)", or "" when unaudited
    advisories: list[str] = field(default_factory=list)
    why_unaudited: str = ""


def read_pins(text: str) -> list[tuple[str, str]]:
    """`name==version` lines of a pip requirements file (hash continuation lines and comments ignored)."""
    pins = []
    for line in text.splitlines():
        m = PIN.match(line.strip())
        if m:
            pins.append((m.group(1).lower().replace("_", "-"), m.group(2)))
    return pins


def _advisories(doc: dict[str, Any]) -> list[str] | None:
    """The document's live advisories, or None when it carries no advisory list at all (then it proves nothing)."""
    listed = doc.get("vulnerabilities")
    if not isinstance(listed, list):
        return None
    found = []
    for v in listed:
        if not isinstance(v, dict):
            return None
        if v.get("withdrawn"):
            continue
        ids = [v.get("id", "?"), *(v.get("aliases") or [])]
        fixed = ", ".join(v.get("fixed_in") or []) or "no fix released"
        found.append(f"{' / '.join(ids)} (fixed in {fixed})")
    return found


def audit(name: str, version: str, fetch: Fetch) -> Audit:
    result = Audit(name, version)
    try:
        doc = fetch(f"{PYPI}/{name}/{version}/json")
        if doc is not None:
            found = _advisories(doc)
            if str((doc.get("info") or {}).get("version", "")) != version or found is None:
                result.why_unaudited = "the release document names another version or lists no advisories"
                return result
            result.source, result.advisories = "release", found
            return result
        doc = fetch(f"{PYPI}/{name}/json")
    except (OSError, ValueError) as exc:  # URLError is an OSError; a non-JSON body a ValueError
        result.why_unaudited = f"PyPI unreachable: {exc}"
        return result
    if doc is None:
        result.why_unaudited = "not on PyPI"
        return result
    latest = str((doc.get("info") or {}).get("version", ""))
    if latest != version:
        result.why_unaudited = (
            f"advisory data here covers only the latest release ({latest}); "
            "pip-audit where PyPI's release documents are reachable"
        )
        return result
    found = _advisories(doc)
    if found is None:
        result.why_unaudited = "the project document lists no advisories"
        return result
    result.source, result.advisories = "project (latest)", found
    return result


def fetch_json(url: str) -> dict[str, Any] | None:
    if not url.startswith("https://"):
        raise ValueError(f"refusing a non-https URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - https only, checked above
            doc = json.load(resp)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    if not isinstance(doc, dict):
        raise ValueError(f"{url} answered JSON that is not an object")
    return doc


def main(argv: list[str] | None = None, fetch: Fetch = fetch_json) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", nargs="?", default="requirements.lock")
    parser.add_argument("--strict", action="store_true", help="fail when a package could not be audited")
    args = parser.parse_args(argv)
    try:
        pins = read_pins(Path(args.lock).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"audit: cannot read {args.lock}: {exc}", file=sys.stderr)
        return 2
    if not pins:
        print(f"audit: no name==version pins in {args.lock}", file=sys.stderr)
        return 2
    results = [audit(name, version, fetch) for name, version in pins]
    vulnerable = [r for r in results if r.advisories]
    unaudited = [r for r in results if not r.source]
    for r in results:
        state = "VULNERABLE" if r.advisories else ("unaudited" if not r.source else "clean")
        detail = "; ".join(r.advisories) or r.why_unaudited or f"advisories from the {r.source} document"
        print(f"{r.name:24} {r.version:16} {state:10} {detail}")
    print(
        f"audit: {len(results)} locked packages, {len(results) - len(unaudited)} audited, "
        f"{len(vulnerable)} with known vulnerabilities, {len(unaudited)} unaudited"
    )
    if vulnerable:
        return 1
    if len(unaudited) == len(results):
        print("audit: nothing could be audited: the lock is NOT known to be free of vulnerabilities", file=sys.stderr)
        return 1
    if unaudited and args.strict:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
