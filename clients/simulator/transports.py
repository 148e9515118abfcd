"""Transports: how a simulated device reaches the platform, gRPC direct or JSON through Envoy.

The Envoy transport speaks the classic simulator's routes: GET /ad/user/{id}/serve and
POST /ad/{request_id}/feedback. Both raise TransientError for errors a device should retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from urllib.parse import quote

import grpc
import httpx
from adplatform.v1 import (
    ad_server_pb2,
    ad_server_pb2_grpc,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
)

from servers.settings import Settings

TIMEOUT = 5.0
RETRYABLE_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
}
RETRYABLE_HTTP = {429, 502, 503, 504}


class TransientError(Exception):
    """TransientError is a failure worth retrying (the platform or network is briefly away)."""


@dataclass(frozen=True, slots=True)
class Ad:
    """Ad is a served ad as a device sees it; an empty request_id means no fill."""

    request_id: str
    campaign_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Receipt:
    """Receipt is the platform's answer to a feedback."""

    campaign_id: str
    user_action: str
    expenditure: Decimal
    duplicate: bool


class Transport(Protocol):
    """Transport is one way to call ServeAd and SubmitFeedback."""

    async def serve(self, user_id: str, device_type: str, city: str, state: str) -> Ad:
        """serve asks for an ad."""
        ...

    async def feedback(self, request_id: str, flags: tuple[int, int, int]) -> Receipt:
        """feedback reports what the user did."""
        ...

    async def close(self) -> None:
        """close releases connections."""
        ...


class GrpcTransport:
    """GrpcTransport calls the AdServer and FeedbackService directly over gRPC."""

    def __init__(self, settings: Settings) -> None:
        self.ad_channel = grpc.aio.insecure_channel(settings.adserver_target)
        self.feedback_channel = grpc.aio.insecure_channel(settings.feedback_target)
        self.ads = ad_server_pb2_grpc.AdServerStub(self.ad_channel)
        self.feedbacks = feedback_service_pb2_grpc.FeedbackServiceStub(self.feedback_channel)

    async def serve(self, user_id: str, device_type: str, city: str, state: str) -> Ad:
        """serve calls AdServer.ServeAd."""
        request = ad_server_pb2.ServeAdRequest(
            user_id=user_id, device_type=device_type, city=city, state=state
        )
        try:
            reply = await self.ads.ServeAd(request, timeout=TIMEOUT)
        except grpc.aio.AioRpcError as error:
            raise _classify(error) from error
        return Ad(reply.request_id, reply.campaign_id, reply.text)

    async def feedback(self, request_id: str, flags: tuple[int, int, int]) -> Receipt:
        """feedback calls FeedbackService.SubmitFeedback."""
        view, click, acquisition = flags
        request = feedback_service_pb2.SubmitFeedbackRequest(
            request_id=request_id, view=view, click=click, acquisition=acquisition
        )
        try:
            reply = await self.feedbacks.SubmitFeedback(request, timeout=TIMEOUT)
        except grpc.aio.AioRpcError as error:
            raise _classify(error) from error
        return Receipt(
            reply.campaign_id, reply.user_action, Decimal(reply.expenditure), reply.duplicate
        )

    async def close(self) -> None:
        """close closes both channels."""
        await self.ad_channel.close()
        await self.feedback_channel.close()


def _classify(error: grpc.aio.AioRpcError) -> Exception:
    """_classify turns a gRPC error into TransientError or a permanent RuntimeError."""
    message = f"{error.code().name}: {error.details()}"
    return TransientError(message) if error.code() in RETRYABLE_CODES else RuntimeError(message)


class EnvoyTransport:
    """EnvoyTransport calls the classic JSON routes through Envoy, as devices in the field do."""

    def __init__(self, settings: Settings, connections: int) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.client = httpx.AsyncClient(base_url=settings.envoy_url, timeout=TIMEOUT, limits=limits)

    async def _json(self, method: str, path: str, body: object = None) -> dict[str, object]:
        try:
            reply = await self.client.request(method, path, json=body)
        except httpx.TransportError as error:
            raise TransientError(f"{type(error).__name__}: {error}") from error
        if reply.status_code in RETRYABLE_HTTP:
            raise TransientError(f"HTTP {reply.status_code}: {reply.text[:200]}")
        if reply.status_code != 200:
            raise RuntimeError(f"HTTP {reply.status_code}: {reply.text[:200]}")
        document: dict[str, object] = reply.json()
        return document

    async def serve(self, user_id: str, device_type: str, city: str, state: str) -> Ad:
        """serve calls GET /ad/user/{user_id}/serve."""
        query = httpx.QueryParams(device_type=device_type, city=city, state=state)
        body = await self._json("GET", f"/ad/user/{quote(user_id, safe='')}/serve?{query}")
        return Ad(str(body["request_id"]), str(body["campaign_id"]), str(body["text"]))

    async def feedback(self, request_id: str, flags: tuple[int, int, int]) -> Receipt:
        """feedback calls POST /ad/{request_id}/feedback."""
        view, click, acquisition = flags
        body = await self._json(
            "POST",
            f"/ad/{quote(request_id, safe='')}/feedback",
            {"view": view, "click": click, "acquisition": acquisition},
        )
        return Receipt(
            str(body["campaign_id"]),
            str(body["user_action"]),
            Decimal(str(body["expenditure"])),
            bool(body["duplicate"]),
        )

    async def close(self) -> None:
        """close closes the connection pool."""
        await self.client.aclose()
