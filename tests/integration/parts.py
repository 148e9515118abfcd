"""What a fault test checks about the stack's processes: who died, who came back, by itself.

A fault test takes `before = processes(stack)` before its fault and, after it, asserts with
`unchanged_except(stack, before, ...)` that every other part is still the very process it was
(nothing else died) and with `restarted(...)` that supervision brought the faulted part back,
healthy, without anyone running `stack up`.
"""

from __future__ import annotations

import subprocess
from typing import Any

from deploy.stack import launcher
from servers.settings import Settings
from tests.polling import eventually

Processes = dict[str, int | None]
HEALTH_SECONDS = 30.0  # for parts whose health reflects another's recovery


def processes(stack: Settings) -> Processes:
    """processes maps each managed part to the PID of its running process."""
    return {row.name: row.pid for row in launcher.status(stack) if row.managed}


def unchanged_except(stack: Settings, before: Processes, *faulted: str) -> None:
    """unchanged_except asserts every part but the faulted ones is the same process, healthy.

    The PIDs must match at once; health may take a few seconds to say so, because a part's
    health can see another's (Envoy reports its upstreams' health checks, every 2 s).
    """
    rows = {row.name: row for row in launcher.status(stack) if row.managed}
    changed = {
        name: (pid, rows[name].pid if name in rows else None)
        for name, pid in before.items()
        if name not in faulted and (name not in rows or rows[name].pid != pid)
    }
    assert not changed, f"parts died or restarted besides {faulted}: {changed} (before, now)"

    def all_healthy() -> bool:
        rows = [row for row in launcher.status(stack) if row.managed]
        unhealthy = [row.name for row in rows if row.name not in faulted and not row.healthy]
        assert not unhealthy, f"parts unhealthy besides {faulted}: {unhealthy}"
        return True

    eventually(all_healthy, timeout=HEALTH_SECONDS, interval=0.5)
    unchanged = {row.name: row.pid for row in launcher.status(stack) if row.name in before}
    assert all(unchanged[name] == before[name] for name in before if name not in faulted)


def restarted(stack: Settings, name: str, before: Processes, timeout: float = 120) -> int:
    """restarted waits until supervision has replaced the part's process and it is healthy."""

    def replaced() -> int | None:
        row = next(row for row in launcher.status(stack) if row.name == name)
        if row.pid is not None and row.pid != before[name] and row.healthy:
            return row.pid
        return None

    pid: int = eventually(replaced, timeout=timeout, interval=0.2)
    return pid


def stop_process(process: subprocess.Popen[Any], grace: float) -> None:
    """stop_process ends a process a test started: SIGTERM, and SIGKILL if grace runs out."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
