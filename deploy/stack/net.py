"""Small network checks the stack uses before starting a part and while waiting for it."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def port_in_use(host: str, port: int) -> bool:
    """port_in_use tells whether something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    """free_port asks the kernel for a currently unused TCP port on host."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """wait_until polls check until it is true or timeout seconds pass; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except Exception:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
