"""Processes the stack starts, tracked by PID files so that `down` stops only what it started.

Each process runs in its own session (process group), so stopping it reaches the children it
spawned and nothing else. A PID file records the process start time too: a recycled PID that
now belongs to someone else is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def alive(pid: int) -> bool:
    """alive tells whether pid is a running (not exited, not zombie) process."""
    return _start_ticks(pid) is not None


def _reap(pid: int) -> None:
    """_reap collects the exit status of a child we started in this process, if it was ours."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _start_ticks(pid: int) -> int | None:
    """_start_ticks reads a process's start time (clock ticks since boot) from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces; fields after the closing parenthesis are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited; only its parent has not reaped it
        return None
    return int(fields[19])


@dataclass(frozen=True)
class ManagedProcess:
    """ManagedProcess is one long-running part of the stack: how to start it and where it logs."""

    name: str
    run_dir: Path

    @property
    def pid_file(self) -> Path:
        """pid_file records the PID and start time of the running process."""
        return self.run_dir / "pids" / f"{self.name}.json"

    @property
    def log_file(self) -> Path:
        """log_file receives the process's stdout and stderr."""
        return self.run_dir / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        """pid is the PID of our running process, or None when it is not running."""
        try:
            record = json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        pid = int(record["pid"])
        if _start_ticks(pid) != record.get("start_ticks"):
            return None
        return pid

    def running(self) -> bool:
        """running tells whether the process we started is still alive."""
        return self.pid() is not None

    def start(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> int:
        """start launches the process detached in its own session and records its PID."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            child = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        record = {"pid": child.pid, "start_ticks": _start_ticks(child.pid), "argv": list(argv)}
        self.pid_file.write_text(json.dumps(record))
        return child.pid

    def stop(self, grace_seconds: float = 15.0) -> bool:
        """stop sends SIGTERM to the process group, then SIGKILL after the grace period.

        Returns True when a running process was stopped.
        """
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self._signal_group(pid, signal.SIGTERM)
        if not self._wait_exit(pid, grace_seconds):
            self._signal_group(pid, signal.SIGKILL)
            self._wait_exit(pid, 5)
        self.pid_file.unlink(missing_ok=True)
        return True

    @staticmethod
    def _wait_exit(pid: int, timeout: float) -> bool:
        """_wait_exit waits up to timeout seconds for pid to exit, reaping it if it is our child."""
        deadline = time.monotonic() + timeout
        while True:
            _reap(pid)
            # Gone from /proc, not merely a zombie: a zombie leader's threads may still hold
            # its sockets open for a moment, and a restart needs the port.
            if not Path(f"/proc/{pid}").exists():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def kill(self) -> None:
        """kill ends the process abruptly with SIGKILL (fault tests)."""
        pid = self.pid()
        if pid is not None:
            self.kill_group(pid)

    @classmethod
    def kill_group(cls, pid: int) -> None:
        """kill_group sends SIGKILL to the session pid leads and waits until pid is gone."""
        cls._signal_group(pid, signal.SIGKILL)
        cls._wait_exit(pid, 5)

    @staticmethod
    def _signal_group(pid: int, signum: int) -> None:
        """_signal_group signals the session the process leads, i.e. it and its children."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)

    def log_tail(self, lines: int = 20) -> str:
        """log_tail returns the last lines of the process's log, for error messages."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
