"""One server, in this process, on a free port: how servicer tests run what they test.

`call(build, stack, body)` builds the server with its module's `build(config)` (the one the
server process runs), serves it with servers.runtime in this thread's event loop, calls
body with a channel to it from a worker thread, then stops the server as a SIGTERM would.
The loop runs in the main thread because runtime.serve installs signal handlers, which only
the main thread may; the body is plain blocking gRPC, in a thread so the loop keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.stack.net import free_port
from servers import runtime
from servers.settings import Settings

T = TypeVar("T")
Build = Callable[[Settings], runtime.ServerSpec]
SERVING_SECONDS = 60.0  # the AdServer loads every stored campaign before it serves


def settings_for(stack: Settings) -> Settings:
    """settings_for are the stack's settings (its MariaDB, Kafka) with the servers on free ports.

    The stack's own servers keep their ports; a short grace keeps each test's stop quick.
    """
    ports = {name: free_port() for name in ("campaign_port", "adserver_port", "feedback_port")}
    return stack.model_copy(update={**ports, "shutdown_grace_seconds": 1.0})


def call(
    build: Build, settings: Settings, body: Callable[[grpc.Channel], T], *, background: bool = True
) -> T:
    """call runs body(channel) against the server build(settings) makes, serving meanwhile.

    background=False leaves out the server's background tasks (the FeedbackService's outbox
    relay: the stack's own relay publishes what the test's calls record).
    """
    spec = build(settings)
    spec.metrics_port = None  # a Prometheus exporter cannot be stopped; the registry is enough
    if not background:
        spec.background = ()
    return asyncio.run(_serve_while(settings, spec, body))


async def _serve_while(
    settings: Settings, spec: runtime.ServerSpec, body: Callable[[grpc.Channel], T]
) -> T:
    """_serve_while serves spec until it answers SERVING, runs body, then stops the server."""
    target = f"{settings.host}:{spec.port}"
    server = asyncio.create_task(runtime.serve(settings, spec))
    try:
        await _until_serving(target, server)
        return await asyncio.to_thread(_with_channel, target, body)
    finally:
        server.cancel()  # what runtime.serve does on SIGTERM: drain, stop, run on_stop
        with contextlib.suppress(asyncio.CancelledError):
            await server


def _with_channel(target: str, body: Callable[[grpc.Channel], T]) -> T:
    """_with_channel calls body with a fresh channel to target, closed after."""
    with grpc.insecure_channel(target) as channel:
        return body(channel)


async def _until_serving(target: str, server: asyncio.Task[None]) -> None:
    """_until_serving polls the server's health until SERVING, failing if it stops first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SERVING_SECONDS
    request = health_pb2.HealthCheckRequest()
    async with grpc.aio.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while loop.time() < deadline:
            if server.done():
                server.result()  # raises what stopped it
                raise AssertionError(f"the server at {target} stopped before serving")
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await health.Check(request, timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(0.05)
    raise AssertionError(f"the server at {target} was not SERVING within {SERVING_SECONDS}s")
