"""Tests of servers/admission.py: a full server refuses at once, and its count never leaks.

Every check goes through a real in-process gRPC server with the interceptors in the order
servers/runtime.py installs them, so what a client receives is what is tested.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import pydantic
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from servers.admission import ConcurrencyLimitInterceptor
from servers.errors import ValidationError
from servers.metrics import MetricsInterceptor
from servers.settings import Settings, load
from servers.status import DETAILS_KEY, RETRY_AFTER_KEY, DomainErrorInterceptor

SERVICE = "test.Admission"
DEADLINE = 10.0  # far longer than any refusal may take


@dataclass
class Behaviours:
    """Behaviours are the test service's methods: one waits for release, others fail."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: int = 0

    async def wait(self, request: bytes, context: Any) -> bytes:
        self.started += 1
        await self.release.wait()
        return request

    async def crash(self, request: bytes, context: Any) -> bytes:
        raise RuntimeError("boom")

    async def refuse(self, request: bytes, context: Any) -> bytes:
        raise ValidationError("request", "is wrong")


@dataclass
class Running:
    """Running is a started test server: its limiter, behaviours and a channel to it."""

    limiter: ConcurrencyLimitInterceptor
    behaviours: Behaviours
    channel: grpc.aio.Channel

    def method(self, name: str) -> grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]:
        return self.channel.unary_unary(f"/{SERVICE}/{name}")


@asynccontextmanager
async def _server(limit: int) -> AsyncIterator[Running]:
    """_server starts a server limited to limit calls, with health, on a free port."""
    limiter = ConcurrencyLimitInterceptor(limit)
    server = grpc.aio.server(interceptors=[limiter, MetricsInterceptor(), DomainErrorInterceptor()])
    behaviours = Behaviours()
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "Wait": grpc.unary_unary_rpc_method_handler(behaviours.wait),
        "Crash": grpc.unary_unary_rpc_method_handler(behaviours.crash),
        "Refuse": grpc.unary_unary_rpc_method_handler(behaviours.refuse),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Running(limiter, behaviours, channel)
    finally:
        behaviours.release.set()
        await server.stop(None)


async def _eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """_eventually waits until condition holds, failing after within seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def _refused(call: Awaitable[bytes]) -> tuple[grpc.aio.AioRpcError, float]:
    """_refused awaits a call that must fail; returns its error and how long it took."""
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value, time.monotonic() - started


def _shed(method: str) -> float:
    return REGISTRY.get_sample_value("adplatform_rpc_shed_total", {"method": method}) or 0.0


def test_a_full_server_refuses_at_once_with_a_retry_hint_then_serves_again() -> None:
    async def scenario() -> None:
        async with _server(limit=2) as running:
            wait = running.method("Wait")
            held = [asyncio.ensure_future(wait(b"held", timeout=DEADLINE)) for _ in range(2)]
            await _eventually(lambda: running.behaviours.started == 2)
            assert running.limiter.in_flight == 2
            shed_before = _shed("Wait")

            refused, seconds = await _refused(wait(b"third", timeout=DEADLINE))

            assert seconds < 1.0  # at once, not at the deadline
            assert refused.code() == grpc.StatusCode.UNAVAILABLE
            assert refused.details() == "server is at its limit of calls in flight; retry"
            trailers = dict(refused.trailing_metadata() or ())
            assert trailers[RETRY_AFTER_KEY] == "1"
            details = trailers[DETAILS_KEY]
            assert isinstance(details, bytes)
            status = status_pb2.Status.FromString(details)
            assert status.code == grpc.StatusCode.UNAVAILABLE.value[0]
            (detail,) = status.details
            retry = error_details_pb2.RetryInfo()
            assert detail.Unpack(retry)
            assert retry.retry_delay.seconds == 1
            assert running.behaviours.started == 2  # the refused call never ran
            assert _shed("Wait") == shed_before + 1

            running.behaviours.release.set()
            assert await asyncio.gather(*held) == [b"held", b"held"]
            assert running.limiter.in_flight == 0
            assert await wait(b"again", timeout=DEADLINE) == b"again"

    asyncio.run(scenario())


def test_a_behaviour_that_raises_frees_its_place() -> None:
    async def scenario() -> None:
        async with _server(limit=1) as running:
            for name, code in [
                ("Crash", grpc.StatusCode.INTERNAL),
                ("Refuse", grpc.StatusCode.INVALID_ARGUMENT),
            ]:
                for _ in range(3):
                    refused, _ = await _refused(running.method(name)(b"", timeout=DEADLINE))
                    assert refused.code() == code
            assert running.limiter.in_flight == 0
            running.behaviours.release.set()
            assert await running.method("Wait")(b"ok", timeout=DEADLINE) == b"ok"

    asyncio.run(scenario())


def test_a_cancelled_or_expired_call_frees_its_place() -> None:
    async def scenario() -> None:
        async with _server(limit=1) as running:
            wait = running.method("Wait")
            cancelled = wait(b"", timeout=DEADLINE)
            await _eventually(lambda: running.limiter.in_flight == 1)
            cancelled.cancel()
            await _eventually(lambda: running.limiter.in_flight == 0)

            expired, _ = await _refused(wait(b"", timeout=0.2))
            assert expired.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            await _eventually(lambda: running.limiter.in_flight == 0)

            running.behaviours.release.set()
            assert await wait(b"ok", timeout=DEADLINE) == b"ok"

    asyncio.run(scenario())


def test_health_is_answered_while_the_server_is_full() -> None:
    async def scenario() -> None:
        async with _server(limit=1) as running:
            held = asyncio.ensure_future(running.method("Wait")(b"", timeout=DEADLINE))
            await _eventually(lambda: running.limiter.in_flight == 1)
            refused, _ = await _refused(running.method("Wait")(b"", timeout=DEADLINE))
            assert refused.code() == grpc.StatusCode.UNAVAILABLE

            stub = health_pb2_grpc.HealthStub(running.channel)
            for _ in range(3):
                answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=DEADLINE)
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
            assert running.limiter.in_flight == 1
            running.behaviours.release.set()
            await held

    asyncio.run(scenario())


def test_a_limit_of_zero_is_no_limit() -> None:
    async def scenario() -> None:
        async with _server(limit=0) as running:
            wait = running.method("Wait")
            held = [asyncio.ensure_future(wait(b"", timeout=DEADLINE)) for _ in range(50)]
            await _eventually(lambda: running.behaviours.started == 50)
            running.behaviours.release.set()
            assert len(await asyncio.gather(*held)) == 50

    asyncio.run(scenario())


def test_the_setting_defaults_to_2000_and_refuses_a_negative_limit() -> None:
    assert Settings.model_fields["max_inflight_rpcs"].default == 2000
    assert load(max_inflight_rpcs=0).max_inflight_rpcs == 0
    with pytest.raises(pydantic.ValidationError) as error:
        load(max_inflight_rpcs=-1)
    assert "max_inflight_rpcs" in str(error.value)
