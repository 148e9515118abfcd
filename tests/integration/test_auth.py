"""Bearer tokens through the real Envoy: campaign management needs one, devices do not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import jwt
import pytest
from adplatform.v1 import campaign_service_pb2, campaign_service_pb2_grpc
from cryptography.hazmat.primitives import serialization

from deploy.stack import auth
from deploy.stack.services import check_health
from servers.settings import Settings
from tests.integration import envoy

pytestmark = pytest.mark.integration

UNKNOWN_CAMPAIGN = "no-such-campaign-0000"
CAMPAIGN_ROUTES = [
    ("GET", "/v1/campaigns", None),
    ("GET", f"/v1/campaigns/{UNKNOWN_CAMPAIGN}", None),
    ("POST", "/v1/campaigns", {"campaign": {"text": "x"}}),
    ("PATCH", f"/v1/campaigns/{UNKNOWN_CAMPAIGN}", {"campaign": {"text": "x"}}),
    ("POST", f"/v1/campaigns/{UNKNOWN_CAMPAIGN}:stop", {}),
]
DEVICE_ROUTES = [
    ("POST", "/v1/ads:serve", {"user_id": "u-1", "device_type": "iPhone", "city": "Pune"}),
    ("GET", "/ad/user/u-1/serve?device_type=iPhone&city=Pune&state=Maharashtra", None),
    ("POST", "/v1/feedback", {"request_id": "r-1", "view": 1, "click": 0, "acquisition": 0}),
    ("POST", "/ad/r-1/feedback", {"view": 1, "click": 0, "acquisition": 0}),
]


def _assert_rejected(reply: envoy.Reply) -> None:
    """_assert_rejected: Envoy answered 401 itself, with a JSON body."""
    assert reply.status == 401, (reply.status, reply.raw)
    assert reply.headers.get("content-type") == "application/json"
    assert reply.json()["http_status"] == 401


@pytest.fixture(scope="module")
def token(stack: Settings) -> str:
    """token is a valid bearer token minted with the stack's key."""
    return auth.mint_token(stack)


@pytest.fixture(scope="module")
def foreign_key(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """foreign_key are settings whose run directory holds another stack's key."""
    other = Settings(run_dir=tmp_path_factory.mktemp("foreign-auth"))
    auth.ensure_keys(other)
    return other


def _signed(settings: Settings, claims: dict[str, object], kid_from: Settings) -> str:
    """_signed signs claims with settings' key, claiming to be kid_from's key."""
    pem = auth.private_key_file(settings).read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    kid = json.loads(auth.jwks_file(kid_from).read_text())["keys"][0]["kid"]
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})  # type: ignore[arg-type]


def _claims(**changes: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "iss": auth.ISSUER,
        "aud": auth.AUDIENCE,
        "sub": "campaign-manager",
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    claims.update(changes)
    return claims


@pytest.mark.parametrize(("method", "path", "body"), CAMPAIGN_ROUTES)
def test_campaign_routes_without_token_are_401_json(
    stack: Settings, method: str, path: str, body: object
) -> None:
    _assert_rejected(envoy.call(stack, method, path, body))


def test_rejection_says_how_to_authenticate(stack: Settings) -> None:
    reply = envoy.call(stack, "GET", "/v1/campaigns")
    _assert_rejected(reply)
    assert reply.headers.get("www-authenticate", "").startswith("Bearer")


def test_malformed_token_is_401(stack: Settings) -> None:
    _assert_rejected(envoy.call(stack, "GET", "/v1/campaigns", token="not-a-jwt"))
    _assert_rejected(envoy.call(stack, "GET", "/v1/campaigns", token="a.b.c"))


def test_expired_token_is_401(stack: Settings) -> None:
    expired = auth.mint_token(stack, now=datetime.now(UTC) - timedelta(hours=13))
    _assert_rejected(envoy.call(stack, "GET", "/v1/campaigns", token=expired))


def test_token_signed_by_another_key_is_401(stack: Settings, foreign_key: Settings) -> None:
    forged = _signed(foreign_key, _claims(), kid_from=stack)
    _assert_rejected(envoy.call(stack, "GET", "/v1/campaigns", token=forged))
    foreign = auth.mint_token(foreign_key)
    _assert_rejected(envoy.call(stack, "GET", f"/v1/campaigns/{UNKNOWN_CAMPAIGN}", token=foreign))


def test_token_from_another_issuer_is_401(stack: Settings) -> None:
    token = _signed(stack, _claims(iss="someone-else"), kid_from=stack)
    _assert_rejected(envoy.call(stack, "GET", "/v1/campaigns", token=token))


def test_token_for_another_audience_is_403_json(stack: Settings) -> None:
    # Envoy's jwt_authn answers a valid token for another audience with 403, not 401.
    token = _signed(stack, _claims(aud="another-audience"), kid_from=stack)
    reply = envoy.call(stack, "GET", "/v1/campaigns", token=token)
    assert reply.status == 403, reply.raw
    assert reply.json()["http_status"] == 403


def test_unsigned_token_is_401(stack: Settings) -> None:
    unsigned = jwt.encode(_claims(), key=None, algorithm="none")  # type: ignore[arg-type]
    _assert_rejected(envoy.call(stack, "GET", "/v1/campaigns", token=unsigned))


def test_token_only_counts_in_the_authorization_header(stack: Settings, token: str) -> None:
    _assert_rejected(envoy.call(stack, "GET", f"/v1/campaigns?access_token={token}"))
    _assert_rejected(envoy.call(stack, "GET", "/v1/campaigns", headers={"authorization": token}))


@pytest.mark.parametrize(
    "path",
    [
        "//v1/campaigns",
        "/v1//campaigns",
        "/v1/./campaigns",
        "/x/../v1/campaigns",
        "/v1/%63ampaigns",
    ],
)
def test_other_spellings_of_the_path_do_not_slip_past(stack: Settings, path: str) -> None:
    reply = envoy.call(stack, "GET", path)
    assert reply.status in {401, 404}, (reply.status, reply.raw)
    assert reply.status != 200


def test_valid_token_reaches_campaign_service(stack: Settings, token: str) -> None:
    listed = envoy.call(stack, "GET", "/v1/campaigns", token=token)
    assert listed.status == 200, listed.raw
    assert isinstance(listed.json(), dict)

    unknown = envoy.call(stack, "GET", f"/v1/campaigns/{UNKNOWN_CAMPAIGN}", token=token)
    assert unknown.status == 404, unknown.raw
    assert unknown.json()["code"] == grpc.StatusCode.NOT_FOUND.value[0]  # from the server


@pytest.mark.parametrize(("method", "path", "body"), DEVICE_ROUTES)
def test_device_routes_need_no_token(stack: Settings, method: str, path: str, body: object) -> None:
    reply = envoy.call(stack, method, path, body)
    assert reply.status != 401, reply.raw


@pytest.mark.parametrize("upstream", ["campaign-service", "adserver", "feedback-service"])
def test_health_checks_through_envoy_need_no_token(stack: Settings, upstream: str) -> None:
    assert check_health(f"{stack.host}:{stack.envoy_port}", authority=upstream)


@pytest.fixture(params=[None, "campaign-service"], ids=["public", "pinned"])
def campaigns_via_envoy(
    request: pytest.FixtureRequest, stack: Settings
) -> Iterator[campaign_service_pb2_grpc.CampaignServiceStub]:
    """campaigns_via_envoy is a native gRPC CampaignService stub through Envoy's listener."""
    authority = request.param
    options = [("grpc.default_authority", authority)] if authority else []
    with grpc.insecure_channel(f"{stack.host}:{stack.envoy_port}", options=options) as channel:
        yield campaign_service_pb2_grpc.CampaignServiceStub(channel)


def test_native_grpc_without_token_is_unauthenticated(
    campaigns_via_envoy: campaign_service_pb2_grpc.CampaignServiceStub,
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        campaigns_via_envoy.ListCampaigns(campaign_service_pb2.ListCampaignsRequest(), timeout=5)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]


def test_native_grpc_with_bad_token_is_unauthenticated(
    campaigns_via_envoy: campaign_service_pb2_grpc.CampaignServiceStub, foreign_key: Settings
) -> None:
    metadata = [("authorization", f"Bearer {auth.mint_token(foreign_key)}")]
    with pytest.raises(grpc.RpcError) as raised:
        campaigns_via_envoy.GetCampaign(
            campaign_service_pb2.GetCampaignRequest(campaign_id=UNKNOWN_CAMPAIGN),
            metadata=metadata,
            timeout=5,
        )
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]


def test_native_grpc_with_token_reaches_campaign_service(
    campaigns_via_envoy: campaign_service_pb2_grpc.CampaignServiceStub, token: str
) -> None:
    metadata = [("authorization", f"Bearer {token}")]
    campaigns_via_envoy.ListCampaigns(
        campaign_service_pb2.ListCampaignsRequest(), metadata=metadata, timeout=5
    )
    with pytest.raises(grpc.RpcError) as raised:
        campaigns_via_envoy.GetCampaign(
            campaign_service_pb2.GetCampaignRequest(campaign_id=UNKNOWN_CAMPAIGN),
            metadata=metadata,
            timeout=5,
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]


def test_stack_keeps_its_key(stack: Settings, token: str) -> None:
    """The key material is created once: preparing Envoy again keeps tokens valid."""
    before = auth.private_key_file(stack).read_bytes()
    auth.ensure_keys(stack)
    assert auth.private_key_file(stack).read_bytes() == before
    assert envoy.call(stack, "GET", "/v1/campaigns", token=token).status == 200
    assert Path(auth.jwks_file(stack)).is_file()
