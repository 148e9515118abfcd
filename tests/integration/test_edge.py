"""The HTTP edge refuses what it cannot use: unknown fields, oversize bodies, floods.

Most tests use the session stack's Envoy; the rate limit ones start a second Envoy with a
low limit in front of the same servers (tests/integration/envoy.py's extra_envoy), which
costs seconds where a stack of its own would cost minutes.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from adplatform.v1 import ad_server_pb2, ad_server_pb2_grpc
from google.protobuf import json_format

from deploy.stack import auth
from servers.settings import Settings
from tests.integration import campaigns, envoy

pytestmark = pytest.mark.integration

SERVE = {"user_id": "u-1", "device_type": "iPhone", "city": "Pune", "state": "Maharashtra"}
FEEDBACK = {"request_id": str(uuid.uuid4()), "view": 1, "click": 0, "acquisition": 0}
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


@pytest.fixture(scope="module")
def token(stack: Settings) -> str:
    return auth.mint_token(stack)


def _campaign(**overrides: object) -> dict[str, object]:
    """_campaign is a valid campaign as JSON, as a campaign manager would post it."""
    campaign = campaigns.live_campaign()
    body = json_format.MessageToDict(campaign, preserving_proto_field_name=True)
    body.update(overrides)
    return body


def _violations(reply: envoy.Reply, description: str = "unknown field") -> list[str]:
    """_violations are the fields a 400's google.rpc.BadRequest names, in order."""
    assert reply.status == 400, (reply.status, reply.raw)
    status = reply.json()
    assert status["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    (detail,) = [d for d in status["details"] if d["@type"] == BAD_REQUEST]
    violations = detail.get("field_violations", detail.get("fieldViolations"))
    assert all(v["description"] == description for v in violations), violations
    return [v["field"] for v in violations]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/v1/ads:serve", {**SERVE, "citty": "Pune"}, "citty"),
        ("POST", "/v1/feedback", {**FEEDBACK, "clicked": 1}, "clicked"),
        ("POST", f"/ad/{FEEDBACK['request_id']}/feedback", {"view": 1, "viewed": 1}, "viewed"),
    ],
)
def test_unknown_device_field_is_400_naming_it(
    stack: Settings, method: str, path: str, body: object, field: str
) -> None:
    reply = envoy.call(stack, method, path, body)
    assert _violations(reply) == [field]
    assert field in reply.json()["message"]


def test_wrapped_campaign_is_400_naming_the_wrapper(stack: Settings, token: str) -> None:
    body = _campaign()
    reply = envoy.call(stack, "POST", "/v1/campaigns", {"campaign": body}, token=token)
    assert _violations(reply) == ["campaign"]
    assert campaigns.get(stack, str(body["campaign_id"])) is None


def test_nested_unknown_field_is_named_by_its_path(stack: Settings, token: str) -> None:
    body = _campaign(target_age_range={"start": 1, "end": 2, "x": 3})
    reply = envoy.call(stack, "POST", "/v1/campaigns", body, token=token)
    assert _violations(reply) == ["target_age_range.x"]
    assert campaigns.get(stack, str(body["campaign_id"])) is None


def test_update_with_unknown_field_is_400(stack: Settings, token: str) -> None:
    path = "/v1/campaigns/no-such-campaign-edge"
    reply = envoy.call(stack, "PATCH", path, {"budgett": "5"}, token=token)
    assert _violations(reply) == ["budgett"]


def test_every_unknown_field_is_named(stack: Settings) -> None:
    reply = envoy.call(stack, "POST", "/v1/ads:serve", {"citty": "Pune", **SERVE, "age": 3})
    assert _violations(reply) == ["citty", "age"]


def test_escaped_keys_are_read_as_json_reads_them(stack: Settings) -> None:
    known = b'{"user_id": "u-1", "c\\u0069ty": "Pune"}'
    assert envoy.call(stack, "POST", "/v1/ads:serve", known).status == 200
    unknown = b'{"user_id": "u-1", "c\\u0069tty": "Pune"}'
    assert _violations(envoy.call(stack, "POST", "/v1/ads:serve", unknown)) == ["citty"]


def test_known_fields_are_still_served(stack: Settings) -> None:
    assert envoy.call(stack, "POST", "/v1/ads:serve", SERVE).status == 200
    camel = {"userId": "u-1", "deviceType": "iPhone", "city": "Pune"}  # proto3 JSON names
    assert envoy.call(stack, "POST", "/v1/ads:serve", camel).status == 200
    assert envoy.call(stack, "GET", "/ad/user/u-1/serve?city=Pune&device_type=iPhone").status == 200


def test_valid_campaign_with_nested_fields_is_created(stack: Settings, token: str) -> None:
    body = _campaign(target_age_range={"start": 18, "end": 40})
    reply = envoy.call(stack, "POST", "/v1/campaigns", body, token=token)
    assert reply.status == 200, reply.raw
    assert reply.json()["campaign"]["campaign_id"] == body["campaign_id"]


def test_malformed_json_is_still_refused(stack: Settings) -> None:
    reply = envoy.call(stack, "POST", "/v1/ads:serve", b'{"user_id": ')
    assert reply.status == 400, reply.raw


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/ad/user/u-1/serve?citty=Pune", "citty"),
        ("/ad/user/u-1/serve?city=Pune&city.name=x", "city.name"),
        ("/v1/campaigns?page_sise=3", "page_sise"),
    ],
)
def test_unknown_query_parameter_is_400_naming_it(
    stack: Settings, token: str, path: str, field: str
) -> None:
    assert _violations(envoy.call(stack, "GET", path, token=token)) == [field]


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/v1/campaigns/%F4%90%80%80", "campaign_id"),  # beyond U+10FFFF
        ("POST", "/v1/campaigns/fz-1%C3:stop", "campaign_id"),  # a truncated sequence
        ("GET", "/ad/user/%C0%AF/serve", "user_id"),  # an overlong "/"
        ("GET", "/v1/campaigns?page_token=%C3", "page_token"),
        ("GET", "/ad/user/u-1/serve?city=%ED%A0%80", "city"),  # a surrogate
    ],
)
def test_text_that_is_not_utf8_is_400_naming_it(
    stack: Settings, token: str, method: str, path: str, field: str
) -> None:
    body = {} if method == "POST" else None
    reply = envoy.call(stack, method, path, body, token=token)
    assert _violations(reply, "must be UTF-8") == [field]


def test_a_body_field_that_contradicts_the_path_is_refused(stack: Settings, token: str) -> None:
    target = campaigns.create(stack)
    bystander = campaigns.create(stack)
    path = f"/v1/campaigns/{target.campaign_id}:stop"
    reply = envoy.call(stack, "POST", path, {"campaign_id": bystander.campaign_id}, token=token)
    assert reply.status == 400, reply.raw
    assert campaigns.get(stack, bystander.campaign_id).status == "ACTIVE"  # type: ignore[union-attr]
    assert campaigns.get(stack, target.campaign_id).status == "ACTIVE"  # type: ignore[union-attr]


def test_a_query_too_long_for_the_servers_is_refused_not_throttled(
    stack: Settings, token: str
) -> None:
    # gRPC servers refuse oversize metadata as RESOURCE_EXHAUSTED, which a client reads as
    # "retry later"; Envoy refuses such a request first, as what it is.
    reply = envoy.call(stack, "GET", "/v1/campaigns?filter=" + "c" * 20_000, token=token)
    assert reply.status == 431, reply.raw
    near = envoy.call(stack, "GET", "/v1/campaigns?filter=" + "c" * 12_000, token=token)
    assert near.status == 400, near.raw  # reaches the server, which names the field
    assert "filter" in near.raw.decode()


def test_utf8_path_and_query_pass(stack: Settings) -> None:
    assert envoy.call(stack, "GET", "/ad/user/%C3%A9%F0%9F%98%80/serve?city=Pune").status == 200


def _assert_too_large(reply: envoy.Reply, settings: Settings) -> None:
    """_assert_too_large: Envoy answered 413 with a Status saying the limit."""
    assert reply.status == 413, (reply.status, reply.raw[:200])
    status = reply.json()
    assert status["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert str(settings.max_request_bytes) in status["message"]


def _padded(size: int) -> bytes:
    """_padded is a valid ServeAd body of exactly `size` bytes (blanks are valid JSON)."""
    head = b'{"user_id": "u-1", "city": "Pune"'
    return head + b" " * (size - len(head) - 1) + b"}"


def _chunked(settings: Settings, body: bytes) -> envoy.Reply:
    """_chunked posts a ServeAd body without a content-length, in 8 KiB chunks."""
    connection = http.client.HTTPConnection(settings.host, settings.envoy_port, timeout=10)
    try:
        chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))
        connection.request(
            "POST",
            "/v1/ads:serve",
            body=chunks,
            headers={"content-type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return envoy.Reply(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def test_body_at_the_limit_is_served(stack: Settings) -> None:
    reply = envoy.call(stack, "POST", "/v1/ads:serve", _padded(stack.max_request_bytes))
    assert reply.status == 200, reply.raw[:200]


@pytest.mark.parametrize("over", [1, 3 * 64 * 1024])
def test_body_over_the_limit_is_413(stack: Settings, over: int) -> None:
    body = _padded(stack.max_request_bytes + over)
    _assert_too_large(envoy.call(stack, "POST", "/v1/ads:serve", body), stack)
    _assert_too_large(_chunked(stack, body), stack)


# The rate limit, on an Envoy of its own --------------------------------------------------

RATE = 1
BURST = 3


@pytest.fixture(scope="module")
def throttled(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """throttled is a second Envoy in front of the stack, allowing 1 device call a second."""
    directory: Path = tmp_path_factory.mktemp("throttled-envoy")
    with envoy.extra_envoy(
        stack, directory, device_rate_limit_per_second=RATE, device_rate_limit_burst=BURST
    ) as settings:
        yield settings


def _until_throttled(settings: Settings, path: str, body: object) -> envoy.Reply:
    """_until_throttled sends one client's calls until Envoy refuses one (at most BURST + 3).

    Until then the server answers (the unknown feedback request id with 404).
    """
    for _ in range(BURST + 3):
        reply = envoy.call(settings, "POST", path, body)
        if reply.status == 429:
            return reply
        assert reply.status in {200, 404}, reply.raw
    raise AssertionError(f"no 429 after {BURST + 3} calls to {path}")


@pytest.mark.parametrize(("path", "body"), [("/v1/ads:serve", SERVE), ("/v1/feedback", FEEDBACK)])
def test_flooding_client_gets_429_with_retry_after(
    throttled: Settings, path: str, body: object
) -> None:
    reply = _until_throttled(throttled, path, body)
    assert reply.headers["retry-after"] == "1"
    status = reply.json()
    assert status["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    (retry,) = status["details"]
    assert retry["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
    assert retry.get("retry_delay", retry.get("retryDelay")) == "1s"

    time.sleep(1.1)  # as retry-after says: the bucket has refilled
    assert envoy.call(throttled, "POST", path, body).status in {200, 404}


def test_native_grpc_shares_the_limit(throttled: Settings) -> None:
    _until_throttled(throttled, "/v1/ads:serve", SERVE)
    target = f"{throttled.host}:{throttled.envoy_port}"
    with grpc.insecure_channel(target) as channel:
        stub = ad_server_pb2_grpc.AdServerStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ServeAd(ad_server_pb2.ServeAdRequest(user_id="u-1"), timeout=5)
    error = refused.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    metadata = dict(error.initial_metadata()) | dict(error.trailing_metadata())  # trailers-only
    assert metadata["retry-after"] == "1"


def test_each_client_address_has_its_own_bucket(throttled: Settings) -> None:
    _until_throttled(throttled, "/v1/ads:serve", SERVE)
    # The address is the connection's, not one the client claims.
    claimed = {"x-forwarded-for": "10.1.2.3"}
    assert envoy.call(throttled, "POST", "/v1/ads:serve", SERVE, headers=claimed).status == 429
    # 127.0.0.2 is another client on the loopback network, with a bucket of its own.
    connection = http.client.HTTPConnection(
        throttled.host, throttled.envoy_port, timeout=10, source_address=("127.0.0.2", 0)
    )
    try:
        connection.request("POST", "/v1/ads:serve", body=json.dumps(SERVE).encode())
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_campaign_routes_are_not_rate_limited(throttled: Settings, token: str) -> None:
    replies = [envoy.call(throttled, "GET", "/v1/campaigns", token=token) for _ in range(BURST + 3)]
    assert {reply.status for reply in replies} == {200}
