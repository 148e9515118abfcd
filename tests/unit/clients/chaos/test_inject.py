"""Finding and signalling processes: children from /proc, the victim, a freeze always thawed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.chaos.inject import children, descendants, frozen, victim
from clients.chaos.plan import plan
from tests.polling import eventually

# A parent that starts one sleeping child and waits for it.
PARENT = (
    "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import time; time.sleep(60)'])"
)


@pytest.fixture
def family() -> Iterator[subprocess.Popen[bytes]]:
    parent = subprocess.Popen([sys.executable, "-c", PARENT])
    try:
        eventually(lambda: children(parent.pid), timeout=10)
        yield parent
    finally:
        for pid in descendants(parent.pid):
            subprocess.run(["kill", "-9", str(pid)], check=False)
        parent.kill()
        parent.wait()


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


def test_children_and_descendants_come_from_proc(family: subprocess.Popen[bytes]) -> None:
    (child,) = children(family.pid)
    assert descendants(family.pid) == [child]
    assert children(child) == []


def test_the_worker_fault_strikes_a_child_and_the_others_the_part_itself(
    family: subprocess.Popen[bytes],
) -> None:
    worker, kafka = plan(["adserver-worker", "kafka"])
    assert victim(worker, family.pid) == children(family.pid)[0]
    assert victim(kafka, family.pid) == family.pid
    (envoy,) = plan(["envoy"])
    with pytest.raises(RuntimeError, match="no envoy process"):
        victim(envoy, family.pid)


def test_a_freeze_stops_the_part_and_its_children_and_always_thaws(
    family: subprocess.Popen[bytes],
) -> None:
    (child,) = children(family.pid)
    with pytest.raises(KeyError), frozen(family.pid) as pids:
        assert pids == [family.pid, child]
        eventually(lambda: _state(family.pid) == "T" and _state(child) == "T", timeout=5)
        raise KeyError("the run failed mid-freeze")
    eventually(lambda: _state(family.pid) != "T" and _state(child) != "T", timeout=5)
