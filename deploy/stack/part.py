"""Part: the life cycle every piece of the stack shares, so the launcher treats them alike."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from deploy.stack.errors import StackError
from deploy.stack.net import port_in_use
from deploy.stack.supervision import SupervisedProcess
from servers.settings import Settings

# A part in one of these states has exited since it was started (supervisord restarts it from
# BACKOFF), so `stack up` reports it instead of waiting out the start timeout.
EXITED_STATES = frozenset({"BACKOFF", "EXITED", "FAILED", "STOPPED"})


class Part:
    """Part is one process of the stack: prepared once, started, awaited, checked and stopped."""

    name: str = ""
    start_timeout: float = 60.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process = SupervisedProcess(self.name, settings.run_dir, settings.netns)
        self._last_error = "no answer"

    @property
    def state_dir(self) -> Path:
        """state_dir is this part's private directory under the run directory."""
        return self.settings.run_dir / self.name

    def managed(self) -> bool:
        """managed tells whether the stack runs this part (False: an existing server is used)."""
        return True

    def ports(self) -> Sequence[int]:
        """ports lists the ports this part listens on, checked free before it starts."""
        return ()

    def endpoint(self) -> str:
        """endpoint says where the part listens, for `stack up` and `stack status`."""
        return ""

    def prepare(self) -> None:
        """prepare does one-time set-up before the first start (install, format)."""

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command is the argv and environment of the part's process."""
        raise NotImplementedError

    def healthy(self) -> bool:
        """healthy tells whether the part answers like a working instance."""
        raise NotImplementedError

    def after_ready(self) -> None:
        """after_ready runs idempotent set-up that needs the running part (topics, users)."""

    def check_ports(self) -> None:
        """check_ports fails with a clear message when another program holds one of our ports."""
        for port in self.ports():
            if port_in_use(self.settings.host, port):
                raise StackError(
                    f"{self.name}: port {port} on {self.settings.host} is already in use by "
                    f"another program; stop it or choose another port (see ADPLATFORM_*_PORT)"
                )

    def start(self) -> None:
        """start checks the ports are free, prepares and launches the process."""
        self.check_ports()
        self.prepare()
        argv, env = self.command()
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        self.process.start(argv, env, cwd=self.settings.run_dir)

    def wait_ready(self) -> None:
        """wait_ready polls health until the part is ready or explains why it is not."""
        timeout = self.start_timeout if self.managed() else 5.0
        deadline = time.monotonic() + timeout
        while not self._answers():
            exited = self.managed() and self.process.state() in EXITED_STATES
            if exited or time.monotonic() > deadline:
                if not self.managed():
                    raise StackError(
                        f"{self.name}: cannot reach {self.endpoint()}: {self._last_error}"
                    )
                state = "exited during start" if exited else "is not healthy"
                self.process.stop()  # a part that cannot start is not left restarting
                detail = self.process.log_tail()
                raise StackError(
                    f"{self.name} {state} (log: {self.process.log_file})"
                    + (f"\n--- last log lines ---\n{detail}" if detail else "")
                )
            time.sleep(0.2)
        self.after_ready()

    def _answers(self) -> bool:
        """_answers is healthy() with start-up failures (refused connections) read as False."""
        try:
            return self.healthy()
        except Exception as error:
            first_line = (str(error).strip().splitlines() or [""])[0]
            self._last_error = f"{type(error).__name__}: {first_line}"
            return False
