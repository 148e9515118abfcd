"""Tests for deploy.stack.net.free_port: ports a part can still bind a minute later."""

from __future__ import annotations

import socket

import pytest

from deploy.stack import net


def test_free_ports_lie_below_the_ephemeral_range_are_distinct_and_bindable() -> None:
    ports = [net.free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)  # a stack's parts never share one
    assert all(net.LISTEN_FLOOR <= port < net.ephemeral_floor() for port in ports)
    for port in ports[:20]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_taken_or_handed_out_before_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]  # released: bindable, and never handed out
        given = 1024 if free != 1024 else 1025  # handed out before: skipped without a bind
        monkeypatch.setattr(net, "_handed_out", {given})
        draws = iter([busy, given, free])  # the draws' order, as the random choice made them
        monkeypatch.setattr(net, "LISTEN_FLOOR", 1024)
        monkeypatch.setattr(net, "ephemeral_floor", lambda: 65_536)
        monkeypatch.setattr(net._random, "randrange", lambda low, high: next(draws))
        assert net.free_port() == free
        assert net._handed_out == {given, free}
