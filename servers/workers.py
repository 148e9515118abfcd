"""Workers: fork N copies of a server process before any gRPC object exists; replace one that dies.

Each worker runs its own grpc.aio server on the same port (SO_REUSEPORT), so the kernel
spreads connections over the workers and every core serves. The parent only supervises:

- a worker that exits on its own is replaced after a short backoff while the others keep
  serving (Envoy retries the calls the dead worker dropped: docs/reliability.md, "Serving
  through a dead worker");
- more than RestartPolicy.budget deaths within RestartPolicy.window_seconds means something is
  wrong beyond one worker: the parent stops the rest and exits non-zero, so the process
  supervisor restarts the whole AdServer;
- SIGTERM/SIGINT is forwarded to every worker at once; a worker still running grace_seconds
  later is killed. A worker whose parent dies is sent SIGTERM by the kernel (PR_SET_PDEATHSIG).

Forking a replacement while the parent also exports metrics is safe because the parent never
has a second thread. fork() copies only the calling thread: a lock another thread held at that
moment (logging, stdio, prometheus_client's, the allocator's) would stay locked forever in the
child. So the parent exports the workers' merged metrics from its own single-threaded loop — a
selector over the exporter's socket and the signal wake-up pipe (servers/exporter.py)
— instead of prometheus_client's exporter thread, and never creates a gRPC object (gRPC starts
threads of its own). Every fork, the tenth replacement as much as the first worker, starts from
the state the first one had. Signals are blocked across fork() so a child never runs the
parent's handlers before it has installed its own. (Weighed and left: a fork server forked
before any thread, which is clean too but makes the workers its children, not ours to wait
for; pausing an exporter thread around fork(), which still leaves whatever its requests
locked.)
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import selectors
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Protocol

from servers import exporter as merged_metrics

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PARENT_SIGNALS = {*_STOP_SIGNALS, signal.SIGCHLD}
# A worker that ended this way was asked to stop (or stopped with its parent): not a failure.
_STOPPED = (0, -signal.SIGTERM, -signal.SIGINT)


@dataclass(frozen=True)
class RestartPolicy:
    """RestartPolicy says how fast a dead worker is replaced and when replacing stops.

    The n-th death within window_seconds is replaced after first_delay * 2^(n-1) seconds (at
    most max_delay); death number budget + 1 within the window ends the whole process.
    """

    budget: int = 5
    window_seconds: float = 60.0
    first_delay: float = 0.25
    max_delay: float = 8.0


class RestartBudget:
    """RestartBudget applies a RestartPolicy to the deaths seen so far; time is passed in."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self._deaths: deque[float] = deque()

    def death(self, now: float) -> float | None:
        """death records a worker's death at now: the delay before its replacement, or None.

        None means the budget is spent: more than `budget` deaths within the window.
        """
        self._deaths.append(now)
        while self._deaths and self._deaths[0] <= now - self.policy.window_seconds:
            self._deaths.popleft()
        recent = len(self._deaths)
        if recent > self.policy.budget:
            return None
        return float(min(self.policy.max_delay, self.policy.first_delay * 2 ** (recent - 1)))


class Exporter(Protocol):
    """Exporter is something the parent serves from its loop: a socket and what to do on it."""

    def fileno(self) -> int:
        """fileno is the socket to watch for a new request."""
        ...

    def handle(self) -> None:
        """handle answers the request waiting on the socket."""
        ...

    def close(self) -> None:
        """close releases the socket (a worker closes its copy right after fork)."""
        ...


def supervise_exporting(
    name: str, count: int, work: Callable[[], None], *, host: str, port: int, grace_seconds: float
) -> int:
    """supervise_exporting supervises count workers and exports their merged metrics on port.

    The workers record metrics into files under PROMETHEUS_MULTIPROC_DIR; the parent exports
    their sum on the one metrics port from its own loop (no thread: it forks replacements).
    A taken port stops the server with a message naming it, before any worker starts.
    """
    try:
        merged = merged_metrics.MergedExporter(host, port)
    except OSError as error:
        raise SystemExit(
            f"{name}: cannot export metrics on {host}:{port} ({error.strerror})"
        ) from None
    try:
        return supervise(
            count,
            work,
            grace_seconds=grace_seconds,
            exporters=[merged],
            on_exit=merged_metrics.mark_dead,
        )
    finally:
        merged.close()


def supervise(
    count: int,
    work: Callable[[], None],
    grace_seconds: float,
    *,
    policy: RestartPolicy = RestartPolicy(),
    exporters: Sequence[Exporter] = (),
    on_exit: Callable[[int], None] = lambda pid: None,
) -> int:
    """supervise runs work() in count forked workers, replacing any that dies; the exit status.

    exporters are served by the parent between events; on_exit(pid) runs in the parent once a
    worker has exited, for whatever that worker leaves behind (its metric files).
    """
    supervisor = _Supervisor(
        count,
        work,
        grace_seconds=grace_seconds,
        policy=policy,
        exporters=exporters,
        on_exit=on_exit,
    )
    return supervisor.run()


class _Supervisor:
    """_Supervisor is the parent's single-threaded loop: reap, replace, export, stop."""

    def __init__(
        self,
        count: int,
        work: Callable[[], None],
        *,
        grace_seconds: float,
        policy: RestartPolicy,
        exporters: Sequence[Exporter],
        on_exit: Callable[[int], None],
    ) -> None:
        self.count = count
        self.work = work
        self.grace_seconds = grace_seconds
        self.budget = RestartBudget(policy)
        self.exporters = exporters
        self.on_exit = on_exit
        self.parent = os.getpid()
        self.children: dict[int, int] = {}  # pid -> worker number
        self.replacements: dict[int, float] = {}  # worker number -> monotonic time due
        self.stopping = False
        self.kill_at: float | None = None
        self.failed = False

    def run(self) -> int:
        """run forks the workers and supervises them until every one has stopped."""
        wake_read, wake_write = os.pipe()
        for fd in (wake_read, wake_write):
            os.set_blocking(fd, False)
        selector = selectors.DefaultSelector()
        selector.register(wake_read, selectors.EVENT_READ)
        for exporter in self.exporters:
            selector.register(exporter.fileno(), selectors.EVENT_READ, exporter)
        self._inherited = (selector, wake_read, wake_write)
        previous = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        for signum in _STOP_SIGNALS:
            signal.signal(signum, self._stop_signal)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # wakes the selector
        try:
            for number in range(self.count):
                self._fork(number)
            while True:
                self._reap()
                self._act(time.monotonic())
                if not self.children and (self.stopping or not self.replacements):
                    break
                for key, _ in selector.select(self._timeout(time.monotonic())):
                    if key.data is None:
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake_read, 512)
                    else:
                        key.data.handle()
        finally:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.set_wakeup_fd(previous)
            selector.close()
            os.close(wake_read)
            os.close(wake_write)
        return 1 if self.failed else 0

    def _stop_signal(self, signum: int, frame: FrameType | None) -> None:
        """_stop_signal handles SIGTERM/SIGINT: stop every worker now (not at the next loop)."""
        self._stop()

    def _stop(self) -> None:
        """_stop asks every worker to stop, cancels replacements and sets the kill deadline."""
        if not self.stopping:
            self.stopping = True
            self.kill_at = time.monotonic() + self.grace_seconds
            self.replacements.clear()
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def _reap(self) -> None:
        """_reap collects every worker that has exited and decides what follows."""
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            number = self.children.pop(pid, -1)
            code = os.waitstatus_to_exitcode(status)
            self.on_exit(pid)
            if self.stopping:
                if code not in _STOPPED:
                    log.warning("worker %d (pid %d) stopped with %d", number, pid, code)
                    self.failed = True
                continue
            delay = self.budget.death(time.monotonic())
            if delay is None:
                log.error(
                    "worker %d (pid %d) exited with %d: more than %d deaths in %.0f s; stopping",
                    number,
                    pid,
                    code,
                    self.budget.policy.budget,
                    self.budget.policy.window_seconds,
                )
                self.failed = True
                self._stop()
            else:
                log.error(
                    "worker %d (pid %d) exited with %d; replacing it in %.2f s",
                    number,
                    pid,
                    code,
                    delay,
                )
                self.replacements[number] = time.monotonic() + delay

    def _act(self, now: float) -> None:
        """_act forks the replacements that are due, or kills workers past the grace period."""
        if self.stopping:
            if self.kill_at is not None and now >= self.kill_at:
                for pid in list(self.children):
                    log.error("worker pid %d did not stop in time; killing it", pid)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.kill_at = None
            return
        for number, due in sorted(self.replacements.items()):
            if due <= now:
                del self.replacements[number]
                self._fork(number)

    def _timeout(self, now: float) -> float | None:
        """_timeout is how long the loop may wait for an event: until the next thing due."""
        due = [*self.replacements.values()] if not self.stopping else []
        if self.kill_at is not None:
            due.append(self.kill_at)
        return max(0.0, min(due) - now) if due else None

    def _fork(self, number: int) -> None:
        """_fork starts worker `number`, with signals blocked so the child starts clean."""
        signal.pthread_sigmask(signal.SIG_BLOCK, _PARENT_SIGNALS)
        try:
            # Checked and recorded while no handler can run: a stop that arrives around the
            # fork either prevents it or reaches the new worker too.
            if self.stopping:
                return
            pid = os.fork()
            if pid == 0:
                _worker(self.work, self.parent, self._close_in_child)
            self.children[pid] = number
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _PARENT_SIGNALS)
        log.info("worker %d started (pid %d)", number, pid)

    def _close_in_child(self) -> None:
        """_close_in_child drops what only the parent uses: its handlers, pipe and sockets."""
        for signum in (*_PARENT_SIGNALS, signal.SIGALRM):
            signal.signal(signum, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        selector, wake_read, wake_write = self._inherited
        selector.close()
        os.close(wake_read)
        os.close(wake_write)
        for exporter in self.exporters:
            exporter.close()


def _worker(work: Callable[[], None], parent: int, reset: Callable[[], None]) -> None:
    """_worker runs work in a forked child and exits the child; it never returns."""
    code = 0
    try:
        reset()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _PARENT_SIGNALS)
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
