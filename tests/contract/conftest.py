"""Implementation fixtures for the contract suites, and the `only_on` marker that makes the matrix explicit.

Each port fixture (kinesis_impl, metrics_impl, alarms_impl, lock_impl) is parametrised over every implementation
listed for it in impls.IMPLS, so each case runs once per implementation. A case that only some implementations can
run says so with its reason:

    @only_on("fake", reason="moto never goes UPDATING")
    @only_on("fake", reason={"moto": "never goes UPDATING", "kinesis-mock": "..."})  # one reason each

and is reported as SKIPPED on the others ("moto: moto never goes UPDATING"), not silently dropped.
CONTRACT_IGNORE_ONLY_ON=1 runs them everywhere: the way to check a reason still holds (each failure it prints is
the reason at work) and whether a new emulator models a behaviour (a pass: add it to the case's only_on list).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.contract.impls import IMPLS, open_impl


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("only_on")
        params = getattr(getattr(item, "callspec", None), "params", {})
        if marker is None or os.environ.get("CONTRACT_IGNORE_ONLY_ON") == "1":
            continue
        for fixture in IMPLS:
            impl = params.get(fixture)
            if impl is not None and impl not in marker.args:
                reason = marker.kwargs["reason"]
                why = reason[impl] if isinstance(reason, dict) else reason
                item.add_marker(pytest.mark.skip(reason=f"{impl}: {why}"))


@pytest.fixture(params=list(IMPLS["kinesis_impl"]))
def kinesis_impl(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from open_impl("kinesis_impl", request.param, request)


@pytest.fixture(params=list(IMPLS["metrics_impl"]))
def metrics_impl(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from open_impl("metrics_impl", request.param, request)


@pytest.fixture(params=list(IMPLS["alarms_impl"]))
def alarms_impl(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from open_impl("alarms_impl", request.param, request)


@pytest.fixture(params=list(IMPLS["lock_impl"]))
def lock_impl(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from open_impl("lock_impl", request.param, request)
