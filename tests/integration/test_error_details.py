"""Errors are data: the details of a refusal, read natively and as Envoy's JSON body.

An invalid campaign names its field in a google.rpc.BadRequest, an unknown id names the
resource in a google.rpc.ResourceInfo, both in the gRPC `grpc-status-details-bin` trailer and
in the JSON error body Envoy's transcoder makes of it (docs/errors.md).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from adplatform.v1 import campaign_service_pb2, campaign_service_pb2_grpc, feedback_service_pb2
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from clients import channels
from deploy.stack import auth
from deploy.stack.envoy import Envoy
from deploy.stack.net import free_port
from servers.errors import ResourceExhaustedError, UnavailableError
from servers.settings import Settings
from servers.status import DomainErrorInterceptor
from tests.integration import campaigns, envoy
from tests.polling import eventually

pytestmark = pytest.mark.integration

BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
RESOURCE_INFO = "type.googleapis.com/google.rpc.ResourceInfo"
FEEDBACK_SERVICE = "adplatform.v1.FeedbackService"


@pytest.fixture(scope="module")
def token(stack: Settings) -> str:
    return auth.mint_token(stack)


@pytest.fixture(scope="module", params=["direct", "envoy"])
def campaign_stub(
    request: pytest.FixtureRequest, stack: Settings, token: str
) -> Iterator[tuple[campaign_service_pb2_grpc.CampaignServiceStub, list[tuple[str, str]]]]:
    """campaign_stub is a native CampaignService stub, straight to the server or via Envoy."""
    if request.param == "direct":
        yield channels.campaigns(stack), []
        return
    with grpc.insecure_channel(f"{stack.host}:{stack.envoy_port}") as channel:
        stub = campaign_service_pb2_grpc.CampaignServiceStub(channel)
        yield stub, [("authorization", f"Bearer {token}")]


def _status(error: grpc.RpcError) -> status_pb2.Status:
    """_status is the google.rpc.Status a gRPC client reads from the details trailer."""
    trailers = dict(error.trailing_metadata() or ())  # type: ignore[attr-defined]
    raw = trailers.get("grpc-status-details-bin")
    assert isinstance(raw, bytes), f"no details trailer in {trailers}"
    return status_pb2.Status.FromString(raw)


def _json_details(body: dict[str, Any], type_url: str) -> dict[str, Any]:
    """_json_details is the one detail of type_url in a JSON error body."""
    found = [detail for detail in body.get("details", []) if detail.get("@type") == type_url]
    assert len(found) == 1, body
    return found[0]


def _invalid_campaign(**overrides: object) -> dict[str, Any]:
    campaign = campaigns.live_campaign(**overrides)
    return json_format.MessageToDict(campaign, preserving_proto_field_name=True)


def test_native_bad_field_carries_a_field_violation(
    stack: Settings,
    campaign_stub: tuple[campaign_service_pb2_grpc.CampaignServiceStub, list[tuple[str, str]]],
) -> None:
    stub, metadata = campaign_stub
    campaign = campaigns.live_campaign(cpc="abc")
    with pytest.raises(grpc.RpcError) as raised:
        stub.CreateCampaign(
            campaign_service_pb2.CreateCampaignRequest(campaign=campaign),
            metadata=metadata,
            timeout=10,
        )
    error = raised.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert error.details().startswith("cpc: ")  # type: ignore[attr-defined]
    status = _status(error)
    assert (status.code, status.message) == (3, error.details())  # type: ignore[attr-defined]
    (detail,) = status.details
    bad = error_details_pb2.BadRequest()
    assert detail.Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["cpc"]
    assert bad.field_violations[0].description
    assert campaigns.get(stack, campaign.campaign_id) is None


def test_native_unknown_campaign_names_the_resource(
    campaign_stub: tuple[campaign_service_pb2_grpc.CampaignServiceStub, list[tuple[str, str]]],
) -> None:
    stub, metadata = campaign_stub
    unknown = str(uuid.uuid4())
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetCampaign(
            campaign_service_pb2.GetCampaignRequest(campaign_id=unknown),
            metadata=metadata,
            timeout=10,
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    (detail,) = _status(raised.value).details
    info = error_details_pb2.ResourceInfo()
    assert detail.Unpack(info)
    assert (info.resource_type, info.resource_name) == ("campaign", unknown)


def test_json_bad_field_is_400_with_a_field_violation(stack: Settings, token: str) -> None:
    body = _invalid_campaign(cpc="abc")
    reply = envoy.call(stack, "POST", "/v1/campaigns", body, token=token)
    assert reply.status == 400, reply.raw
    assert reply.headers.get("content-type", "").startswith("application/json")
    error = reply.json()
    assert error["code"] == 3
    assert error["message"].startswith("cpc: ")  # the human text stays as it was
    bad = _json_details(error, BAD_REQUEST)
    assert [v["field"] for v in bad["field_violations"]] == ["cpc"]
    assert bad["field_violations"][0]["description"] == error["message"].removeprefix("cpc: ")
    assert "grpc-status-details-bin" not in {name.lower() for name in reply.headers}
    assert campaigns.get(stack, str(body["campaign_id"])) is None


def test_json_update_names_the_body_field_by_its_path(stack: Settings, token: str) -> None:
    path = f"/v1/campaigns/{uuid.uuid4()}"
    reply = envoy.call(stack, "PATCH", path, {"campaign_id": "another"}, token=token)
    assert reply.status == 400, reply.raw
    bad = _json_details(reply.json(), BAD_REQUEST)
    assert [v["field"] for v in bad["field_violations"]] == ["campaign.campaign_id"]


def test_json_unknown_campaign_is_404_with_resource_info(stack: Settings, token: str) -> None:
    unknown = str(uuid.uuid4())
    reply = envoy.call(stack, "GET", f"/v1/campaigns/{unknown}", token=token)
    assert reply.status == 404, reply.raw
    error = reply.json()
    assert error["code"] == 5
    assert error["message"] == f"campaign {unknown!r} not found"
    info = _json_details(error, RESOURCE_INFO)
    assert (info["resource_type"], info["resource_name"]) == ("campaign", unknown)


def test_json_unknown_served_ad_is_404_with_resource_info(stack: Settings) -> None:
    request_id = str(uuid.uuid4())
    reply = envoy.call(stack, "POST", "/v1/feedback", {"request_id": request_id, "view": 1})
    assert reply.status == 404, reply.raw
    info = _json_details(reply.json(), RESOURCE_INFO)
    assert (info["resource_type"], info["resource_name"]) == ("served ad", request_id)


# Retryable refusals need a broken dependency, so a stand-in FeedbackService that refuses on
# demand runs behind a real Envoy of its own, configured exactly as the stack's is.

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
REFUSALS: dict[str, BaseException] = {
    "unavailable": UnavailableError("the served ad could not be recorded; retry", retry_after=2),
    "exhausted": ResourceExhaustedError("too many feedback requests; retry", retry_after=1),
    "crash": RuntimeError("secret detail that must not leak"),
}


async def _refuse(request: feedback_service_pb2.SubmitFeedbackRequest, context: Any) -> Any:
    raise REFUSALS[request.request_id]


async def _serve_refusals(port: int, stop: asyncio.Event) -> None:
    """_serve_refusals runs the stand-in FeedbackService behind the real interceptor until stop."""
    server = grpc.aio.server(interceptors=[DomainErrorInterceptor()])
    handler = grpc.unary_unary_rpc_method_handler(
        _refuse,
        request_deserializer=feedback_service_pb2.SubmitFeedbackRequest.FromString,
        response_serializer=feedback_service_pb2.SubmitFeedbackResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(FEEDBACK_SERVICE, {"SubmitFeedback": handler})]
    )
    checks = health.aio.HealthServicer()
    await checks.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        await stop.wait()
    finally:
        await server.stop(None)


def _feedback_healthy(proxy: Envoy) -> bool:
    """_feedback_healthy: Envoy is up and sees the stand-in FeedbackService healthy."""
    try:
        return proxy.upstream_health().get("feedback-service") == "healthy"
    except OSError:  # Envoy's admin interface is not listening yet
        return False


@pytest.fixture(scope="module")
def refusing_envoy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """refusing_envoy is a real Envoy whose FeedbackService refuses as the request id says."""
    ports = {name: free_port() for name in ("envoy_port", "envoy_admin_port", "feedback_port")}
    settings = Settings(run_dir=tmp_path_factory.mktemp("refusing-envoy"), **ports)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    upstream = threading.Thread(
        target=loop.run_until_complete, args=(_serve_refusals(settings.feedback_port, stop),)
    )
    upstream.start()
    proxy = Envoy(settings)
    try:
        proxy.start()
        eventually(lambda: _feedback_healthy(proxy), timeout=30)
        yield settings
    finally:
        proxy.process.stop()
        loop.call_soon_threadsafe(stop.set)
        upstream.join(timeout=10)
        loop.close()


def _refused_feedback(settings: Settings, request_id: str) -> envoy.Reply:
    return envoy.call(settings, "POST", "/v1/feedback", {"request_id": request_id, "view": 1})


def test_json_unavailable_is_503_with_retry_info_and_retry_after(refusing_envoy: Settings) -> None:
    reply = _refused_feedback(refusing_envoy, "unavailable")
    assert reply.status == 503, reply.raw
    assert reply.headers.get("retry-after") == "2"
    error = reply.json()
    assert (error["code"], error["message"]) == (14, str(REFUSALS["unavailable"]))
    assert _json_details(error, RETRY_INFO)["retry_delay"] == "2s"


def test_json_resource_exhausted_is_429_with_retry_info(refusing_envoy: Settings) -> None:
    reply = _refused_feedback(refusing_envoy, "exhausted")
    assert reply.status == 429, reply.raw
    assert reply.headers.get("retry-after") == "1"
    assert _json_details(reply.json(), RETRY_INFO)["retry_delay"] == "1s"


def test_json_internal_error_is_bare(refusing_envoy: Settings) -> None:
    reply = _refused_feedback(refusing_envoy, "crash")
    assert reply.status == 500, reply.raw
    assert reply.json() == {"code": 13, "message": "internal error", "details": []}
    assert "retry-after" not in reply.headers
