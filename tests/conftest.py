"""Configuration of the whole test session: shared fixtures and the order the suites run in.

Fixtures more than one suite uses live in plugin modules under tests/fixtures (the session
`stack`, the `database` on its MySQL), registered here so no conftest imports another.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures.stack", "tests.fixtures.database"]

SUITE_ORDER = ("tests/unit/", "tests/integration/", "tests/e2e/")


def _suite_rank(item: pytest.Item) -> tuple[int, bool]:
    """_suite_rank orders fast suites first; the demo, which loads the whole feed, runs last."""
    path = item.nodeid
    rank = next((i for i, prefix in enumerate(SUITE_ORDER) if path.startswith(prefix)), 0)
    return rank, "test_demo.py" in path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pytest_collection_modifyitems runs unit, then integration, then end-to-end tests."""
    items.sort(key=_suite_rank)
