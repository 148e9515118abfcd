"""Injecting faults into the running stack: find the process, signal it, wait until it serves.

A part's process is found through the stack's own records (`part.process.pid()`, the same
PID `stack status` shows), never by name. A freeze is always thawed: SIGCONT is sent on the
way out of `frozen()`, whatever ends it (an error, Ctrl-C, SIGTERM), and once more at exit
for anything still stopped.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from clients.chaos.plan import Fault
from deploy.stack import launcher
from deploy.stack.part import Part
from deploy.stack.process import alive
from servers.settings import Settings

POLL_SECONDS = 0.2
_frozen: set[int] = set()


class Parts(Protocol):
    """Parts is what a run strikes: the stack's parts, or a cluster's (clients/chaos/cluster.py)."""

    settings: Settings

    def pid(self, name: str) -> int | None: ...

    def healthy(self, name: str) -> bool: ...

    def unhealthy(self) -> list[str]: ...


class Stack:
    """Stack is the running stack's parts by name, read the way `stack status` reads them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.parts: dict[str, Part] = {part.name: part for part in launcher.all_parts(settings)}

    def pid(self, name: str) -> int | None:
        """pid is the part's process as the stack recorded it (None: not running)."""
        return self.parts[name].process.pid()

    def healthy(self, name: str) -> bool:
        """healthy asks the part's own health check; an error reads as not healthy."""
        try:
            return bool(self.parts[name].healthy())
        except Exception:
            return False

    def unhealthy(self) -> list[str]:
        """unhealthy names the managed parts that are not running and healthy now."""
        rows = launcher.status(self.settings)
        return [row.name for row in rows if row.managed and not (row.pid and row.healthy)]


def children(pid: int) -> list[int]:
    """children lists pid's child processes, from every thread's /proc children list."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in task.read_text().split()]
    return sorted(set(found))


def descendants(pid: int) -> list[int]:
    """descendants lists pid's children, their children and so on."""
    found, queue = [], children(pid)
    while queue:
        child = queue.pop()
        found.append(child)
        queue += children(child)
    return found


def command_name(pid: int) -> str:
    """command_name is the process's short name (/proc/<pid>/comm), "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def victim(fault: Fault, part_pid: int) -> int:
    """victim is the process the fault's signal goes to, found from the part's own PID."""
    if fault.target == "worker":
        workers = children(part_pid)
        if not workers:
            raise RuntimeError(f"{fault.part} (pid {part_pid}) has no worker to kill")
        return workers[0]
    if fault.target == "envoy":  # the Envoy binary, beneath the launcher's shell if there is one
        for pid in (part_pid, *descendants(part_pid)):
            if command_name(pid) == "envoy":
                return pid
        raise RuntimeError(f"no envoy process under pid {part_pid}")
    return part_pid


def kill(fault: Fault, part_pid: int) -> int:
    """kill sends SIGKILL as the fault says; returns the PID it was sent to."""
    pid = victim(fault, part_pid)
    if fault.target == "group":
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    else:
        os.kill(pid, signal.SIGKILL)
    return pid


def _thaw_all() -> None:
    """_thaw_all sends SIGCONT to every process this run froze and did not thaw yet."""
    for pid in list(_frozen):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        _frozen.discard(pid)


atexit.register(_thaw_all)


@contextlib.contextmanager
def frozen(part_pid: int) -> Iterator[list[int]]:
    """frozen stops the part's process and its descendants with SIGSTOP until the block ends."""
    pids = [part_pid, *descendants(part_pid)]
    try:
        for pid in pids:
            _frozen.add(pid)
            os.kill(pid, signal.SIGSTOP)
        yield pids
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
            _frozen.discard(pid)


def thaw_on_sigterm() -> None:
    """thaw_on_sigterm makes SIGTERM end the run like Ctrl-C, so every freeze is undone."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def wait_back(
    stack: Parts,
    fault: Fault,
    pid_before: int | None,
    struck: int | None,
    timeout: float,
) -> tuple[float | None, int | None]:
    """wait_back polls until the part serves again; returns (when, its pid) or (None, pid).

    Served again: healthy by its own check, the struck process gone after a kill, a new
    process in its place (a new worker under the AdServer, or the part itself restarted).
    """
    deadline = time.monotonic() + timeout
    workers = stack.settings.adserver_workers
    pid = None
    while time.monotonic() < deadline:
        pid = stack.pid(fault.part)
        replaced = pid is not None and _replaced(fault, pid, pid_before, struck, workers)
        if pid is not None and replaced and stack.healthy(fault.part):
            return time.monotonic(), _shown(fault, pid, struck)
        time.sleep(POLL_SECONDS)
    return None, None if pid is None else _shown(fault, pid, struck)


def _replaced(
    fault: Fault, pid: int, pid_before: int | None, struck: int | None, workers: int
) -> bool:
    """_replaced tells whether the struck process has been replaced (a freeze replaces none)."""
    if struck is None:
        return True
    if alive(struck):
        return False
    if fault.target == "worker":
        current = children(pid)
        return len(current) >= workers and struck not in current
    return pid != pid_before


def _shown(fault: Fault, pid: int, struck: int | None) -> int:
    """_shown is the PID the table shows after: the new worker for a worker, else the part."""
    if fault.target == "worker":
        fresh = [child for child in children(pid) if child != struck]
        return max(fresh) if fresh else pid
    return pid
