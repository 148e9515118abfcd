"""The simulator's Envoy transport speaks the classic routes, reuses its connections and tells
transient failures (worth a retry) from permanent ones; a Simulation retries a transient serve
with a new auction and a transient feedback with the same request id.

A small aiohttp server stands in for Envoy here: these are the client's own rules; the real
routes through the real Envoy are the integration and end-to-end suites'.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from clients.simulator.behaviour import Behaviour, Person
from clients.simulator.run import Simulation
from clients.simulator.transports import Ad, EnvoyTransport, Receipt, TransientError
from deploy.stack.net import free_port
from servers.settings import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def envoy_like(handler: Handler) -> AsyncIterator[EnvoyTransport]:
    """envoy_like serves every request with handler and yields a transport pointed at it."""
    port = free_port()
    server = web.Server(handler)
    runner = web.ServerRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    transport = EnvoyTransport(Settings(host="127.0.0.1", envoy_port=port), connections=4)
    try:
        yield transport
    finally:
        await transport.close()
        await runner.cleanup()


def test_serve_asks_the_classic_route_and_reads_the_ad() -> None:
    seen: list[tuple[str, str, dict[str, str]]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, dict(request.query)))
        return web.json_response({"request_id": "r-1", "campaign_id": "c-1", "text": "hi"})

    async def scenario() -> Ad:
        async with envoy_like(handler) as transport:
            return await transport.serve("u/1 é", "Android Mobile", "New Delhi", "Delhi")

    ad = asyncio.run(scenario())
    assert ad == Ad("r-1", "c-1", "hi")
    query = {"device_type": "Android Mobile", "city": "New Delhi", "state": "Delhi"}
    assert seen == [("GET", "/ad/user/u/1 é/serve", query)]


@pytest.mark.parametrize("flags", [(1, 0, 0), (1, 1, 0), (1, 1, 1)])
def test_feedback_posts_the_reaction_as_json_and_reads_the_receipt_exactly(
    flags: tuple[int, int, int],
) -> None:
    bodies: list[tuple[str, str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        bodies.append((request.path, request.content_type, json.loads(await request.read())))
        reply = {
            "campaign_id": "c-1",
            "user_action": "VIEW",
            "expenditure": "0.0000225",
            "duplicate": False,
        }
        return web.json_response(reply)

    async def scenario() -> Receipt:
        async with envoy_like(handler) as transport:
            return await transport.feedback("r-1", flags)

    receipt = asyncio.run(scenario())
    assert receipt == Receipt("c-1", "VIEW", Decimal("0.0000225"), False)
    view, click, acquisition = flags
    reaction = {"view": view, "click": click, "acquisition": acquisition}
    assert bodies == [("/ad/r-1/feedback", "application/json", reaction)]


@pytest.mark.parametrize(("status", "error"), [(503, TransientError), (429, TransientError)])
def test_a_busy_platform_is_transient(status: int, error: type[Exception]) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text="busy")

    async def scenario() -> None:
        async with envoy_like(handler) as transport:
            await transport.serve("u-1", "iPhone", "Pune", "Maharashtra")

    with pytest.raises(error, match=f"HTTP {status}"):
        asyncio.run(scenario())


def test_a_refused_request_is_permanent() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"message": "user_id is too long"}, status=400)

    async def scenario() -> None:
        async with envoy_like(handler) as transport:
            await transport.serve("u-1", "iPhone", "Pune", "Maharashtra")

    with pytest.raises(RuntimeError, match="HTTP 400"):
        asyncio.run(scenario())


def test_no_listener_is_transient() -> None:
    async def scenario() -> None:
        transport = EnvoyTransport(Settings(host="127.0.0.1", envoy_port=free_port()), 2)
        try:
            await transport.serve("u-1", "iPhone", "Pune", "Maharashtra")
        finally:
            await transport.close()

    with pytest.raises(TransientError):
        asyncio.run(scenario())


def test_calls_reuse_kept_alive_connections() -> None:
    peers: set[object] = set()

    async def handler(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        return web.json_response({"request_id": "", "campaign_id": "", "text": ""})

    async def scenario() -> None:
        async with envoy_like(handler) as transport:
            for _ in range(3):  # three rounds of four devices at once, on four connections
                serves = [transport.serve("u", "iPhone", "Pune", "Maharashtra") for _ in range(4)]
                await asyncio.gather(*serves)

    asyncio.run(scenario())
    assert len(peers) <= 4


class FlakyPlatform:
    """FlakyPlatform fails the first serve and the first two tries of each feedback."""

    def __init__(self) -> None:
        self.serves = 0
        self.feedbacks: list[str] = []

    async def serve(self, user_id: str, device_type: str, city: str, state: str) -> Ad:
        self.serves += 1
        if self.serves == 1:
            raise TransientError("UNAVAILABLE: warming up")
        return Ad(f"r-{self.serves}", "c-1", "an ad")

    async def feedback(self, request_id: str, flags: tuple[int, int, int]) -> Receipt:
        self.feedbacks.append(request_id)
        if self.feedbacks.count(request_id) < 3:
            raise TransientError("HTTP 503: busy")
        return Receipt("c-1", "VIEW", Decimal("0.01"), False)

    async def close(self) -> None:
        pass


def test_a_simulation_retries_a_serve_anew_and_a_feedback_with_its_request_id() -> None:
    platform = FlakyPlatform()
    behaviour = Behaviour([Person("u-1", "iPhone", 30)], seed=1)
    simulation = Simulation(platform, behaviour, duration=0.05, concurrency=1, rate=None)
    stats = asyncio.run(simulation.run())
    assert stats.requests >= 1 and stats.feedback == stats.filled == stats.requests
    # every feedback was tried three times with one request id, and only then counted
    assert platform.feedbacks == [rid for rid in dict.fromkeys(platform.feedbacks) for _ in "abc"]
    assert stats.spend == Decimal("0.01") * stats.feedback
    assert stats.errors == {"UNAVAILABLE": 1, "HTTP 503": 2 * stats.feedback}
    assert stats.retries == 1 + 2 * stats.feedback
