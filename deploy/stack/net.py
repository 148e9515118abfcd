"""Small network checks the stack uses before starting a part and while waiting for it."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from pathlib import Path

# Listening ports are chosen from LISTEN_FLOOR up to the kernel's ephemeral range, which
# outgoing connections draw their local ports from (ip_local_port_range).
LISTEN_FLOOR = 20_000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_ATTEMPTS = 200
_handed_out: set[int] = set()
_random = random.SystemRandom()


def port_in_use(host: str, port: int) -> bool:
    """port_in_use tells whether something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def ephemeral_floor() -> int:
    """ephemeral_floor is the lowest port outgoing connections get (32768 if unknown)."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port(host: str = "127.0.0.1") -> int:
    """free_port is a TCP port unused on host, below the ephemeral range, not handed out before.

    A port from bind(host, 0) lies in the ephemeral range, so in the minute between choosing it
    and a part binding it (while Kafka, Spark and MariaDB open connections) an outgoing
    connection could take it as its local port, and the part would fail to start. Ports below
    the range are never taken that way; those this process handed out are not handed out again.
    """
    ceiling = ephemeral_floor()
    for _ in range(_ATTEMPTS if ceiling > LISTEN_FLOOR else 0):
        port = _random.randrange(LISTEN_FLOOR, ceiling)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a range too narrow
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
