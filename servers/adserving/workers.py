"""Workers: fork N copies of a server process before any gRPC object exists, and supervise them.

Each worker runs its own grpc.aio server on the same port (SO_REUSEPORT), so the kernel
spreads connections over the workers and every core serves. The parent only supervises: it
forwards SIGTERM/SIGINT to the workers and waits for them; if a worker dies on its own, it
stops the others and exits non-zero, so the stack sees one failed process, not a half-dead
one. A worker whose parent dies is sent SIGTERM by the kernel (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def supervise(
    count: int,
    work: Callable[[], None],
    grace_seconds: float,
    after_fork: Callable[[], None] = lambda: None,
) -> int:
    """supervise runs work() in count forked workers until they stop; returns the exit status.

    after_fork runs in the parent once every worker exists (threads are safe from then on).
    A worker still running grace_seconds after a stop was requested is killed.
    """
    children: dict[int, int] = {}  # pid -> worker number
    stopping = False
    failed = False

    def stop(signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            signal.alarm(max(1, round(grace_seconds)) + 1)
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def kill(signum: int, frame: FrameType | None) -> None:
        for pid in list(children):
            log.error("worker pid %d did not stop in time; killing it", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    for signum in _STOP_SIGNALS:
        signal.signal(signum, stop)
    signal.signal(signal.SIGALRM, kill)
    parent = os.getpid()
    for number in range(count):
        if stopping:
            break
        pid = os.fork()
        if pid == 0:
            _worker(work, parent)
        children[pid] = number
        log.info("worker %d started (pid %d)", number, pid)
    if not stopping:
        after_fork()

    while children:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        number = children.pop(pid, -1)
        code = os.waitstatus_to_exitcode(status)
        if not stopping:
            log.error("worker %d (pid %d) exited with %d; stopping the others", number, pid, code)
            failed = True
            stop()
        elif code != 0:
            log.warning("worker %d (pid %d) stopped with %d", number, pid, code)
            failed = failed or code not in (-signal.SIGTERM, -signal.SIGINT)
    signal.alarm(0)
    return 1 if failed else 0


def _worker(work: Callable[[], None], parent: int) -> None:
    """_worker runs work in a forked child and exits the child; it never returns."""
    for signum in (*_STOP_SIGNALS, signal.SIGALRM):
        signal.signal(signum, signal.SIG_DFL)
    code = 0
    try:
        _die_with_parent(parent)
        work()
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        log.exception("worker failed")
        code = 1
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _die_with_parent(parent: int) -> None:
    """_die_with_parent asks Linux to send this process SIGTERM when its parent exits."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)
