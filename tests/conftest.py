"""Session fixtures shared by the suites that need the real stack (integration and e2e).

`stack` is here, not in tests/integration/conftest.py, so tests/integration and tests/e2e
share one stack per session instead of starting one each; its settings (free ports in the
run directory) come from tests/integration/conftest.py's stack_settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.stack import launcher
from deploy.stack.process import alive
from deploy.stack.supervision import Supervisor
from servers.settings import Settings
from tests.integration.conftest import stack_settings

SUITE_ORDER = ("tests/unit/", "tests/integration/", "tests/e2e/")


def _suite_rank(item: pytest.Item) -> tuple[int, bool]:
    """_suite_rank orders fast suites first; the demo, which loads the whole feed, runs last."""
    path = item.nodeid
    rank = next((i for i, prefix in enumerate(SUITE_ORDER) if path.startswith(prefix)), 0)
    return rank, "test_demo.py" in path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pytest_collection_modifyitems runs unit, then integration, then end-to-end tests."""
    items.sort(key=_suite_rank)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """stack is a running local stack for the whole session; yields its settings."""
    kept = os.environ.get("ADPLATFORM_TEST_STACK_DIR")
    run_dir = Path(kept).resolve() if kept else tmp_path_factory.mktemp("stack")
    settings = stack_settings(run_dir)
    try:
        launcher.up(settings, report=lambda line: None)
    except BaseException:
        launcher.down(settings, report=lambda line: None)
        raise
    yield settings
    if os.environ.get("ADPLATFORM_TEST_KEEP_STACK") == "1":
        return
    pids = [row.pid for row in launcher.status(settings) if row.pid]
    pids.append(Supervisor(settings.run_dir).daemon.pid())
    launcher.down(settings, report=lambda line: None)
    survivors = [pid for pid in pids if pid is not None and alive(pid)]
    assert not survivors, f"stack down left processes behind: {survivors}"
