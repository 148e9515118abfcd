"""Tests for servers.workers: dead workers are replaced, the budget ends it, stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.stack.net import free_port
from deploy.stack.process import alive
from servers.workers import RestartBudget, RestartPolicy
from tests.polling import eventually

# Each worker listens on the shared port (SO_REUSEPORT) and answers a connection with its pid,
# records its pid, counts its start in the merged metrics and waits for SIGTERM, as a server
# does. The parent exports the merged metrics on a port of its own.
SUPERVISOR = """
import os, signal, socket, sys
from pathlib import Path
from prometheus_client import Counter
from servers import exporter, workers

pids = Path(sys.argv[1])
port, metrics_port, budget = (int(arg) for arg in sys.argv[2:5])
STARTS = Counter("test_worker_starts_total", "workers started")

def work() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen()
    STARTS.inc()
    (pids / str(os.getpid())).write_text("up")
    while True:
        connection, _ = listener.accept()
        connection.sendall(str(os.getpid()).encode())
        connection.close()

policy = workers.RestartPolicy(budget=budget, window_seconds=60, first_delay=0.05, max_delay=0.2)
merged = exporter.MergedExporter("127.0.0.1", metrics_port)
sys.exit(workers.supervise(
    2, work, grace_seconds=2, policy=policy, exporters=[merged], on_exit=exporter.mark_dead
))
"""


@dataclass
class Workers:
    """Workers is a running supervisor: the parent, where its workers say they are, and ports."""

    parent: subprocess.Popen[bytes]
    pids_dir: Path
    port: int
    metrics_port: int

    def pids(self) -> set[int]:
        """pids are the workers running now (started, and not dead)."""
        return {int(path.name) for path in self.pids_dir.iterdir() if alive(int(path.name))}

    def answer(self) -> int:
        """answer is the pid of the worker that took one connection to the shared port."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
            return int(connection.recv(32))

    def metrics(self) -> str:
        """metrics is the parent's merged export."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return str(reply.read().decode())


def _start(tmp_path: Path, budget: int) -> Workers:
    """_start runs the supervisor; a free port taken by another socket before the workers bind
    it (the machine is busy) is given up for another, at most three times."""
    pids_dir, metrics_dir = tmp_path / "pids", tmp_path / "metrics"
    pids_dir.mkdir()
    metrics_dir.mkdir()
    for attempt in range(3):
        port, metrics_port = free_port(), free_port()
        parent = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SUPERVISOR,
                str(pids_dir),
                *map(str, (port, metrics_port, budget)),
            ],
            start_new_session=True,
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        )
        running = Workers(parent, pids_dir, port, metrics_port)
        try:
            eventually(lambda started=running: len(started.pids()) == 2)
            return running
        except AssertionError:
            if attempt == 2:
                raise
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait(10)
            for path in pids_dir.iterdir():
                path.unlink()
    raise AssertionError("unreachable")


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Workers]:
    """supervisor runs two workers with a budget of 3 deaths a minute."""
    running = _start(tmp_path, budget=3)
    yield running
    if running.parent.poll() is None:
        os.killpg(running.parent.pid, signal.SIGKILL)
        running.parent.wait(5)


def test_a_killed_worker_is_replaced_and_the_port_still_served(supervisor: Workers) -> None:
    first = supervisor.pids()
    victim, survivor = sorted(first)
    os.kill(victim, signal.SIGKILL)

    def replacements() -> set[int]:
        return supervisor.pids() - first

    replacement = eventually(replacements, timeout=10)
    assert supervisor.pids() == {survivor, *replacement}
    assert supervisor.parent.poll() is None
    answers = {supervisor.answer() for _ in range(40)}
    assert victim not in answers
    assert answers <= supervisor.pids()


def test_a_dead_workers_metrics_stay_in_the_merged_export(supervisor: Workers) -> None:
    os.kill(min(supervisor.pids()), signal.SIGKILL)
    first = supervisor.pids()
    eventually(lambda: len(supervisor.pids()) == 2 and supervisor.pids() != first)
    # Two workers started, then the replacement: the dead one's start is still counted.
    eventually(lambda: "test_worker_starts_total 3.0" in supervisor.metrics())


def _kill_one_not_in(supervisor: Workers, seen: set[int]) -> int:
    """_kill_one_not_in SIGKILLs a running worker not killed before and waits until it is gone."""

    def fresh() -> set[int]:
        return supervisor.pids() - seen

    victim = min(eventually(fresh, timeout=10))
    os.kill(victim, signal.SIGKILL)
    eventually(lambda: not alive(victim))
    return victim


def test_more_deaths_than_the_budget_stop_everything_and_fail(supervisor: Workers) -> None:
    seen: set[int] = set()
    for _ in range(4):  # the 4th death within the minute is one more than the budget of 3
        seen.add(_kill_one_not_in(supervisor, seen))
    assert supervisor.parent.wait(10) == 1
    eventually(lambda: not supervisor.pids())


def test_sigterm_stops_every_worker_and_exits_zero(supervisor: Workers) -> None:
    pids = supervisor.pids()
    supervisor.parent.send_signal(signal.SIGTERM)
    assert supervisor.parent.wait(10) == 0
    eventually(lambda: not any(alive(pid) for pid in pids))


def test_sigterm_while_a_replacement_is_due_stops_everything(supervisor: Workers) -> None:
    victim = min(supervisor.pids())
    os.kill(victim, signal.SIGKILL)
    # Reaped by the parent (gone from /proc, not just a zombie): it knows, and the replacement
    # is now due (its first backoff is 0.25 s).
    eventually(lambda: not Path(f"/proc/{victim}").exists())
    supervisor.parent.send_signal(signal.SIGTERM)
    assert supervisor.parent.wait(10) == 0
    eventually(lambda: not supervisor.pids())


def test_workers_do_not_outlive_a_killed_parent(supervisor: Workers) -> None:
    pids = supervisor.pids()
    supervisor.parent.kill()  # the parent only: the workers must notice by themselves
    supervisor.parent.wait(5)
    eventually(lambda: not any(alive(pid) for pid in pids))


POLICY = RestartPolicy(budget=3, window_seconds=60, first_delay=0.5, max_delay=3)


def test_backoff_doubles_with_each_recent_death_up_to_the_cap() -> None:
    budget = RestartBudget(RestartPolicy(budget=10, first_delay=0.5, max_delay=3))
    assert [budget.death(float(t)) for t in range(6)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_one_death_more_than_the_budget_within_the_window_gives_up() -> None:
    budget = RestartBudget(POLICY)
    assert [budget.death(t) for t in (0.0, 10.0, 20.0)] == [0.5, 1.0, 2.0]
    assert budget.death(30.0) is None


def test_deaths_older_than_the_window_are_forgotten() -> None:
    budget = RestartBudget(POLICY)
    for t in (0.0, 10.0, 20.0):
        budget.death(t)
    assert budget.death(65.0) == 2.0  # 0.0 left the window: 10, 20 and 65 remain
    assert budget.death(200.0) == 0.5  # a quiet spell resets the backoff


@given(st.lists(st.floats(min_value=0, max_value=1000), min_size=1, max_size=30))
def test_a_delay_is_given_exactly_while_the_window_holds_at_most_the_budget(
    offsets: list[float],
) -> None:
    budget = RestartBudget(POLICY)
    times: list[float] = []
    for now in sorted(offsets):
        times.append(now)
        recent = [t for t in times if t > now - POLICY.window_seconds]
        delay = budget.death(now)
        if len(recent) > POLICY.budget:
            assert delay is None
        else:
            assert delay is not None and POLICY.first_delay <= delay <= POLICY.max_delay
