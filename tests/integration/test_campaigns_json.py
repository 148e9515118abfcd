"""Campaign management as campaign managers call it: JSON through Envoy with a bearer token."""

from __future__ import annotations

import uuid

import pytest
from google.protobuf import json_format

from deploy.stack import auth
from servers.settings import Settings
from tests.integration import campaigns, envoy
from tests.polling import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def token(stack: Settings) -> str:
    return auth.mint_token(stack)


def _body(**overrides: object) -> dict[str, object]:
    """_body is a valid campaign as JSON, as a campaign manager would post it."""
    campaign = campaigns.live_campaign()
    body = json_format.MessageToDict(campaign, preserving_proto_field_name=True)
    body.update(overrides)
    return body


def test_create_update_stop_through_envoy(stack: Settings, token: str) -> None:
    body = _body()
    created = envoy.call(stack, "POST", "/v1/campaigns", body, token=token)
    assert created.status == 200, created.raw
    campaign_id = created.json()["campaign"]["campaign_id"]

    def read() -> dict[str, object] | None:
        reply = envoy.call(stack, "GET", f"/v1/campaigns/{campaign_id}", token=token)
        return reply.json()["campaign"] if reply.status == 200 else None

    stored = eventually(lambda: (c := read()) and c["status"] == "ACTIVE" and c, timeout=2.0)
    assert stored["remaining_budget"] == body["budget"]

    patched = envoy.call(
        stack, "PATCH", f"/v1/campaigns/{campaign_id}", {"budget": "1500"}, token=token
    )
    assert patched.status == 200, patched.raw
    eventually(lambda: (c := read()) and c["budget"] == "1500", timeout=5)

    stopped = envoy.call(
        stack, "POST", f"/v1/campaigns/{campaign_id}:stop", {"reason": "done"}, token=token
    )
    assert stopped.status == 200, stopped.raw
    eventually(lambda: (c := read()) and c["status"] == "INACTIVE", timeout=5)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cpc": "0.0.1"}, "cpc"),
        ({"budget": "-5"}, "budget"),
        ({"target_income_bucket": "Z"}, "target_income_bucket"),
    ],
)
def test_bad_field_is_400_naming_it(
    stack: Settings, token: str, overrides: dict[str, object], field: str
) -> None:
    body = _body(**overrides)
    reply = envoy.call(stack, "POST", "/v1/campaigns", body, token=token)
    assert reply.status == 400, reply.raw
    assert reply.json()["message"].startswith(f"{field}:")
    assert campaigns.get(stack, str(body["campaign_id"])) is None


def test_unknown_id_is_404(stack: Settings, token: str) -> None:
    reply = envoy.call(stack, "GET", f"/v1/campaigns/{uuid.uuid4()}", token=token)
    assert reply.status == 404
    assert reply.json()["code"] == 5


def test_no_token_is_401(stack: Settings) -> None:
    reply = envoy.call(stack, "POST", "/v1/campaigns", _body())
    assert reply.status == 401
