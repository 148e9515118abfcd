"""Supervision with a real supervisord: a part that dies comes back, one that cannot start is
FAILED, and stopping the last part leaves no process behind."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from deploy.stack import supervision
from deploy.stack.process import alive
from deploy.stack.supervision import ProgramInfo, SupervisedProcess, Supervisor
from tests.polling import eventually

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"]
CRASHER = [sys.executable, "-c", "import sys; print('cannot start: bad value'); sys.exit(3)"]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """run_dir is a fresh run directory whose supervisord is shut down after the test."""
    yield tmp_path
    supervisor = Supervisor(tmp_path)
    daemon = supervisor.daemon.pid()
    for program in (tmp_path / "supervisor" / "programs").glob("*.json"):
        SupervisedProcess(program.stem, tmp_path).stop()
    supervisor.daemon.stop()
    assert daemon is None or not alive(daemon)


def test_a_killed_part_is_restarted_as_a_new_process(run_dir: Path) -> None:
    part = SupervisedProcess("sleeper", run_dir)
    part.start(SLEEPER, dict(os.environ))
    first = eventually(part.pid, timeout=10)
    eventually(lambda: part.state() == "RUNNING", timeout=supervision.START_SECONDS + 10)
    part.kill()
    second = eventually(lambda: part.pid() not in (None, first) and part.pid(), timeout=15)
    assert not alive(first)
    assert alive(second)
    eventually(lambda: part.log_file.read_text().count("up") == 2, timeout=10)  # one log


def test_stopping_the_last_part_stops_supervisord_too(run_dir: Path) -> None:
    part = SupervisedProcess("sleeper", run_dir)
    part.start(SLEEPER, dict(os.environ))
    pid = eventually(part.pid, timeout=10)
    daemon = Supervisor(run_dir).daemon.pid()
    assert daemon is not None
    assert part.stop() is True
    assert not alive(pid)
    assert not alive(daemon)
    assert part.state() == "STOPPED"
    assert part.stop() is False


def test_a_part_that_cannot_start_ends_failed_with_its_log(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervision, "START_RETRIES", 1)  # one retry (1 s), then FAILED
    part = SupervisedProcess("crasher", run_dir)
    part.start(CRASHER, dict(os.environ))
    eventually(lambda: part.state() == "FAILED", timeout=30, interval=0.2)
    assert part.pid() is None
    assert part.log_tail().count("cannot start: bad value") == 2  # the start and its retry


def test_the_program_file_is_private_and_runs_what_was_started(run_dir: Path) -> None:
    part = SupervisedProcess("sleeper", run_dir)
    part.start(SLEEPER, {**os.environ, "SECRET": "s3cret"})
    pid = eventually(part.pid, timeout=10)
    eventually(lambda: "up" in part.log_tail(), timeout=10)  # exec'd into the part itself
    program = Supervisor(run_dir).program_file("sleeper")
    assert stat.S_IMODE(program.stat().st_mode) == 0o600
    environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"SECRET=s3cret" in environment
    assert Path(f"/proc/{pid}/cwd").resolve() == run_dir.resolve()


def test_program_info_reads_supervisord_records() -> None:
    running = ProgramInfo.read({"statename": "RUNNING", "pid": 42, "start": 1700000000})
    assert (running.state, running.pid, running.started_at) == ("RUNNING", 42, 1700000000.0)
    stopped = ProgramInfo.read({"statename": "FATAL", "pid": 0, "start": 1700000000})
    assert (stopped.pid, stopped.started_at) == (None, None)
    backoff = ProgramInfo.read({"statename": "BACKOFF", "pid": 42, "start": 1})
    assert backoff.pid is None  # between two starts there is no process to signal


def test_a_deep_run_directory_gets_a_short_socket_path(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    path = Supervisor(deep).socket_path
    assert len(str(path)) < 108
    assert Supervisor(deep).socket_path == path  # the same run directory, the same socket
