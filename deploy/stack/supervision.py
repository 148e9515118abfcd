"""Supervision: every part of the stack runs under supervisord, which restarts it when it exits.

`stack up` starts one supervisord per run directory (its PID file beside the parts' state, so
`stack down` stops only what the stack started) and asks it, over its XML-RPC socket, to start
each part. When a part exits, supervisord starts it again; a part that exits again within
START_SECONDS of starting counts as a failed start, retried with a growing pause (1 s, 2 s, …),
and after START_RETRIES failed starts in a row it is left FATAL, which `stack status` shows as
FAILED with the last lines of its log. `stack down` stops the parts newest first (SIGTERM to
each part's process group, SIGKILL after STOP_SECONDS) and then supervisord itself.

Why supervisord: operators know it, it is one pure-Python package, and it does the restart,
backoff and budget bookkeeping that a home-made loop would have to reinvent.

A part's argv and environment are written to a program file when the stack starts it;
supervisord runs `python -m deploy.stack.program <file>`, which points stdout and stderr at
the part's log and execs the argv, so a restart runs exactly what `stack up` started.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from deploy.stack.errors import StackError
from deploy.stack.process import ManagedProcess

START_SECONDS = 5  # a part that exits sooner than this after starting failed to start
START_RETRIES = 10  # failed starts in a row before a part is left FAILED (about a minute)
STOP_SECONDS = 20  # SIGTERM, then SIGKILL after this long
RPC_TIMEOUT_SECONDS = STOP_SECONDS + 10  # a stop waits for the part to exit
READY_SECONDS = 15.0

# supervisord's process states (supervisor.states.ProcessStates), by name.
RUNNING_STATES = frozenset({"STARTING", "RUNNING", "BACKOFF"})
LIVE_STATES = frozenset({"STARTING", "RUNNING", "STOPPING"})
FAILED = "FATAL"


@dataclass(frozen=True)
class ProgramInfo:
    """ProgramInfo is what supervisord says about one part."""

    state: str  # STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED, FATAL or UNKNOWN
    pid: int | None
    started_at: float | None  # when the running process started (Unix time)
    description: str

    @classmethod
    def read(cls, record: Mapping[str, Any]) -> ProgramInfo:
        """read turns supervisord's getProcessInfo record into a ProgramInfo."""
        state = str(record.get("statename", "UNKNOWN"))
        pid = int(record.get("pid") or 0)
        start = int(record.get("start") or 0)
        live = state in LIVE_STATES and pid > 0
        return cls(
            state=state,
            pid=pid if live else None,
            started_at=float(start) if live and start else None,
            description=str(record.get("description", "")),
        )


def program_config(name: str, program_file: Path, run_dir: Path) -> str:
    """program_config is the [program:<name>] section that runs one part."""
    return "\n".join(
        [
            f"[program:{name}]",
            f"command={sys.executable} -m deploy.stack.program {program_file}",
            f"directory={run_dir}",
            "autostart=false",
            "autorestart=true",
            f"startsecs={START_SECONDS}",
            f"startretries={START_RETRIES}",
            "stopsignal=TERM",
            f"stopwaitsecs={STOP_SECONDS}",
            "stopasgroup=true",
            "killasgroup=true",
            # The program writes its own log (deploy/stack/program.py); nothing passes through
            # supervisord, which would otherwise copy every line of every part.
            "stdout_logfile=NONE",
            "stderr_logfile=NONE",
            "",
        ]
    )


def supervisord_config(socket_path: Path, state_dir: Path) -> str:
    """supervisord_config is the daemon's own part of the configuration file."""
    return "\n".join(
        [
            "[unix_http_server]",
            f"file={socket_path}",
            "chmod=0700",
            "",
            "[supervisord]",
            "nodaemon=true",
            f"logfile={state_dir / 'supervisord.log'}",
            "logfile_maxbytes=10MB",
            "logfile_backups=1",
            f"pidfile={state_dir / 'supervisord.pid'}",
            f"childlogdir={state_dir}",
            "loglevel=info",
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[include]",
            f"files = {state_dir / 'programs' / '*.conf'}",
            "",
        ]
    )


class _UnixConnection(http.client.HTTPConnection):
    """_UnixConnection is an HTTP connection over a Unix socket, with a timeout."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        """connect opens the Unix socket."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    """_UnixTransport carries XML-RPC over supervisord's Unix socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__()
        self.path = path
        self.timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        """make_connection ignores the host: the socket path says where supervisord is."""
        return _UnixConnection(self.path, self.timeout)


class Supervisor:
    """Supervisor is the run directory's supervisord: started once, asked to run the parts."""

    def __init__(self, run_dir: Path, namespace: str | None = None) -> None:
        self.run_dir = run_dir
        self.namespace = namespace  # a cluster host's network namespace: its parts run there
        self.daemon = ManagedProcess("supervisord", run_dir)

    @property
    def state_dir(self) -> Path:
        """state_dir holds the configuration, the program files and supervisord's own log."""
        return self.run_dir / "supervisor"

    @property
    def config_file(self) -> Path:
        """config_file is supervisord.conf."""
        return self.state_dir / "supervisord.conf"

    @property
    def socket_path(self) -> Path:
        """socket_path is the XML-RPC socket; a short path in /tmp when the run dir is deep."""
        path = self.state_dir / "supervisor.sock"
        if len(str(path)) < 100:  # a Unix socket path holds at most 107 bytes
            return path
        digest = hashlib.sha256(str(self.run_dir).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"adplatform-{digest}.sock"

    def program_file(self, name: str) -> Path:
        """program_file holds one part's argv, environment and log file."""
        return self.state_dir / "programs" / f"{name}.json"

    def running(self) -> bool:
        """running tells whether this run directory's supervisord is alive."""
        return self.daemon.running()

    def ensure(self) -> None:
        """ensure starts supervisord unless it already runs."""
        if self.running():
            return
        (self.state_dir / "programs").mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(supervisord_config(self.socket_path, self.state_dir))
        self.socket_path.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.config_file)]
        if self.namespace is not None:  # `ip netns exec` execs supervisord: the PID is its own
            argv = ["ip", "netns", "exec", self.namespace, *argv]
        self.daemon.start(argv, dict(os.environ), cwd=self.run_dir)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                self._call("supervisor.getState")
                return
            except OSError:
                if not self.running() or time.monotonic() > deadline:
                    raise StackError(
                        f"supervisord did not start (log: {self.daemon.log_file})\n"
                        + self.daemon.log_tail()
                    ) from None
                time.sleep(0.1)

    def add(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log_file: Path
    ) -> None:
        """add records what supervisord runs for a part and makes supervisord know the part.

        The program file is readable by its owner only: the environment may hold secrets.
        """
        self.ensure()
        record = {"argv": list(argv), "env": dict(env), "cwd": str(cwd), "log": str(log_file)}
        _write_private(self.program_file(name), json.dumps(record))
        section = program_config(name, self.program_file(name), self.run_dir)
        _write_private(self.program_file(name).with_suffix(".conf"), section)
        added, changed, _ = cast(
            list[list[str]], cast(list[object], self._call("supervisor.reloadConfig"))[0]
        )
        if name in changed:
            self._call("supervisor.removeProcessGroup", name)
        if name in added or name in changed:
            self._call("supervisor.addProcessGroup", name)

    def info(self, name: str) -> ProgramInfo | None:
        """info is supervisord's account of a part; None when supervisord is not running."""
        if not self.running():
            return None
        try:
            record = self._call("supervisor.getProcessInfo", name)
        except (OSError, xmlrpc.client.Fault):
            return None
        return ProgramInfo.read(cast(Mapping[str, Any], record))

    def start(self, name: str) -> None:
        """start asks supervisord to run a part (without waiting: the part checks its health)."""
        self._control("supervisor.startProcess", name, "ALREADY_STARTED", "start")

    def stop(self, name: str) -> None:
        """stop asks supervisord to stop a part and waits until it has exited."""
        self._control("supervisor.stopProcess", name, "NOT_RUNNING", "stop")

    def _control(self, method: str, name: str, already: str, verb: str) -> None:
        """_control starts or stops a part; a part already in the wanted state is no error."""
        try:
            self._call(method, name, verb == "stop")  # stops wait, starts do not
        except xmlrpc.client.Fault as fault:
            if already not in fault.faultString:
                raise StackError(
                    f"{name}: supervisord could not {verb} it: {fault.faultString}"
                ) from None

    def shutdown_if_idle(self) -> None:
        """shutdown_if_idle stops supervisord once none of its parts runs any more."""
        if not self.running():
            return
        try:
            records = cast(list[Mapping[str, Any]], self._call("supervisor.getAllProcessInfo"))
        except OSError:
            records = []
        if any(ProgramInfo.read(record).state in RUNNING_STATES for record in records):
            return
        self.daemon.stop(grace_seconds=STOP_SECONDS + 5)
        self.socket_path.unlink(missing_ok=True)

    def _call(self, method: str, *args: object) -> object:
        """_call invokes one supervisord XML-RPC method with the stack's timeout."""
        transport = _UnixTransport(str(self.socket_path), RPC_TIMEOUT_SECONDS)
        with xmlrpc.client.ServerProxy("http://localhost", transport=transport) as proxy:
            function: Any = proxy
            for part in method.split("."):
                function = getattr(function, part)
            return function(*args)


def _write_private(path: Path, text: str) -> None:
    """_write_private replaces a file atomically with text only its owner may read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    partial.replace(path)


@dataclass(frozen=True)
class SupervisedProcess:
    """SupervisedProcess is one part as supervisord runs it: started, watched, restarted, stopped.

    A run directory started by an earlier version of the stack has PID files and no
    supervisord; those processes are still found and stopped (`legacy`).
    """

    name: str
    run_dir: Path
    namespace: str | None = None  # the network namespace of the host it runs on, if not ours

    @property
    def supervisor(self) -> Supervisor:
        """supervisor is the run directory's supervisord."""
        return Supervisor(self.run_dir, self.namespace)

    @property
    def legacy(self) -> ManagedProcess:
        """legacy is the same part as a PID file records it, when no supervisord started it."""
        return ManagedProcess(self.name, self.run_dir)

    @property
    def log_file(self) -> Path:
        """log_file receives the part's stdout and stderr (the same file across restarts)."""
        return self.legacy.log_file

    def info(self) -> ProgramInfo | None:
        """info is supervisord's account of the part; None when supervisord does not know it."""
        return self.supervisor.info(self.name)

    def state(self) -> str:
        """state is RUNNING, STARTING, BACKOFF (restarting), FAILED, STOPPED or EXITED."""
        info = self.info()
        if info is None:
            return "RUNNING" if self.legacy.running() else "STOPPED"
        return "FAILED" if info.state == FAILED else info.state

    def pid(self) -> int | None:
        """pid is the PID of the part's running process, or None."""
        info = self.info()
        if info is None:
            return self.legacy.pid()
        return info.pid

    def running(self) -> bool:
        """running tells whether the part's process is alive now."""
        return self.pid() is not None

    def start(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> None:
        """start hands the part to supervisord, which runs it and restarts it when it exits."""
        supervisor = self.supervisor
        supervisor.add(self.name, argv, env, cwd or self.run_dir, self.log_file)
        supervisor.start(self.name)

    def stop(self, grace_seconds: float = STOP_SECONDS) -> bool:
        """stop stops the part and keeps it stopped; True when it was running.

        supervisord itself exits with the last part it ran, so nothing is left behind.
        """
        was_running = self.legacy.stop(grace_seconds)
        info = self.info()
        if info is not None and info.state in RUNNING_STATES:
            self.supervisor.stop(self.name)
            was_running = True
        self.supervisor.shutdown_if_idle()
        return was_running

    def kill(self) -> None:
        """kill ends the part abruptly with SIGKILL, as a crash would; supervisord restarts it."""
        self.legacy.kill()
        pid = self.pid()
        if pid is not None:
            ManagedProcess.kill_group(pid)

    def log_tail(self, lines: int = 20) -> str:
        """log_tail returns the last lines of the part's log, for error messages."""
        return self.legacy.log_tail(lines)
