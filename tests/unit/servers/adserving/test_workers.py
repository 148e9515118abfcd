"""Tests for servers.adserving.workers: forked workers stop together, and never linger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.stack.process import alive
from tests.polling import eventually

# A worker records its pid, then waits for SIGTERM and exits cleanly, as a server does.
SUPERVISOR = """
import os, signal, sys
from pathlib import Path
from servers.adserving import workers

def work() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    (Path(sys.argv[1]) / str(os.getpid())).write_text("up")
    while True:
        signal.pause()

sys.exit(workers.supervise(2, work, grace_seconds=2))
"""


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], list[int]]]:
    """supervisor runs two workers; yields the parent process and the workers' pids."""
    parent = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(tmp_path)], start_new_session=True
    )

    def started() -> list[int] | None:
        pids = [int(path.name) for path in tmp_path.iterdir()]
        return pids if len(pids) == 2 else None

    pids = eventually(started)
    yield parent, pids
    if parent.poll() is None:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(5)


def test_sigterm_stops_every_worker_and_exits_zero(
    supervisor: tuple[subprocess.Popen[bytes], list[int]],
) -> None:
    parent, pids = supervisor
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(10) == 0
    eventually(lambda: not any(alive(pid) for pid in pids))


def test_a_dead_worker_takes_the_others_down_and_fails(
    supervisor: tuple[subprocess.Popen[bytes], list[int]],
) -> None:
    parent, pids = supervisor
    os.kill(pids[0], signal.SIGKILL)
    assert parent.wait(10) == 1
    eventually(lambda: not alive(pids[1]))


def test_workers_do_not_outlive_a_killed_parent(
    supervisor: tuple[subprocess.Popen[bytes], list[int]],
) -> None:
    parent, pids = supervisor
    parent.kill()  # the parent only: the workers must notice by themselves
    parent.wait(5)
    eventually(lambda: not any(alive(pid) for pid in pids))
