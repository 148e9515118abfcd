"""Tests for servers.runtime: when a server listens, when it says SERVING, how it stops."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.stack.net import free_port
from servers import runtime
from servers.settings import Settings

DEADLINE_SECONDS = 10.0


def _settings(port: int) -> Settings:
    return Settings(host="127.0.0.1", adserver_port=port, shutdown_grace_seconds=0.5)


def _refused(port: int) -> bool:
    """_refused tells whether nothing accepts connections on 127.0.0.1:port."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def _status(port: int) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=2
        )
    return int(reply.status)


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """_until polls the async predicate check until it holds, failing after the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_SECONDS
    while loop.time() < deadline:
        with contextlib.suppress(grpc.aio.AioRpcError):
            if await check():
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not {what} within {DEADLINE_SECONDS} s")


async def _lifecycle(reuse_port: bool) -> list[str]:
    """_lifecycle serves a spec waiting on a ready event; returns what was seen, in order."""
    port = free_port()
    ready = threading.Event()
    spec = runtime.ServerSpec("test", port, reuse_port=reuse_port, ready=ready)
    seen: list[str] = []
    server = asyncio.create_task(runtime.serve(_settings(port), spec))
    try:
        if reuse_port:
            # Give the server the time it would take to listen, then check it has not.
            for _ in range(20):
                await asyncio.sleep(0.01)
                assert _refused(port), "a reuse_port server listened before it was ready"
            seen.append("refused while loading")
        else:

            async def not_serving() -> bool:
                return await _status(port) == health_pb2.HealthCheckResponse.NOT_SERVING

            await _until(not_serving, "NOT_SERVING")
            seen.append("NOT_SERVING while loading")
        ready.set()

        async def serving() -> bool:
            return await _status(port) == health_pb2.HealthCheckResponse.SERVING

        await _until(serving, "SERVING")
        seen.append("SERVING once ready")
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
    return seen


def test_a_worker_sharing_its_port_listens_only_once_ready() -> None:
    assert asyncio.run(_lifecycle(reuse_port=True)) == [
        "refused while loading",
        "SERVING once ready",
    ]


def test_a_server_alone_on_its_port_listens_at_once_and_says_not_serving_until_ready() -> None:
    assert asyncio.run(_lifecycle(reuse_port=False)) == [
        "NOT_SERVING while loading",
        "SERVING once ready",
    ]


def test_a_worker_stopped_before_it_was_ready_stops_cleanly() -> None:
    async def stop_while_loading() -> None:
        port = free_port()
        spec = runtime.ServerSpec("test", port, reuse_port=True, ready=threading.Event())
        server = asyncio.create_task(runtime.serve(_settings(port), spec))
        await asyncio.sleep(0.2)
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
        assert _refused(port)

    asyncio.run(stop_while_loading())
