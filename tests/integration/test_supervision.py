"""Supervision on the real stack: a part that dies comes back by itself, and nothing else dies.

Each test kills one part with SIGKILL, as a crash or the OOM killer would, and never runs
`stack up`: supervision must restart it, and every other part must be the process it was.
"""

from __future__ import annotations

import pytest

from deploy.stack import launcher
from servers.settings import Settings
from tests.integration import parts

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", ["feedback-writer", "campaign-service", "envoy"])
def test_a_killed_part_comes_back_without_stack_up(stack: Settings, name: str) -> None:
    before = parts.processes(stack)
    part = next(part for part in launcher.all_parts(stack) if part.name == name)
    part.process.kill()
    parts.restarted(stack, name, before, timeout=240)
    parts.unchanged_except(stack, before, name)
    row = next(row for row in launcher.status(stack) if row.name == name)
    assert row.state in {"STARTING", "RUNNING"}
    assert row.started_at is not None


def test_status_says_every_part_runs_under_supervision(stack: Settings) -> None:
    rows = [row for row in launcher.status(stack) if row.managed]
    assert rows
    assert {row.state for row in rows} <= {"STARTING", "RUNNING"}
    assert all(row.pid is not None and row.started_at is not None for row in rows)
