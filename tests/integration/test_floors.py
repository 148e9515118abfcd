"""Floors and the transparent auction end to end: ServeAd's bid_floor and GET /v1/ads/{id}.

Each test owns its campaigns by targeting a country of its own, as test_adserver.py does.
Bids (cpm = 0.0075 cpc + 0.0005 cpa): dear 0.00004 > middle 0.0000225 > cheap 0.000008.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from servers.settings import Settings
from tests.integration import campaigns, envoy
from tests.polling import eventually

pytestmark = pytest.mark.integration

DEAR = {"cpc": "0.002", "cpa": "0.05"}
MIDDLE = {"cpc": "0.001", "cpa": "0.03"}
CHEAP = {"cpc": "0.0004", "cpa": "0.01"}
DEAR_CPM, MIDDLE_CPM, CHEAP_CPM = Decimal("0.00004"), Decimal("0.0000225"), Decimal("0.000008")
FRESH_CONNECTIONS = 8  # each a new HTTP connection to Envoy, spread over both AdServer workers


@pytest.fixture
def country() -> str:
    """country is a place only this test's campaigns target."""
    return f"Testland-{uuid.uuid4().hex[:10]}"


def serve(stack: Settings, country: str, **fields: Any) -> dict[str, Any]:
    """serve asks Envoy for an ad in country as a device does."""
    body = {"user_id": "u-floors", "device_type": "iPhone", "country": country, **fields}
    reply = envoy.call(stack, "POST", "/v1/ads:serve", body)
    assert reply.status == 200, (reply.status, reply.raw)
    answer: dict[str, Any] = reply.json()
    return answer


def three_bidders(stack: Settings, country: str) -> str:
    """three_bidders stores dear, middle and cheap; waits until every worker serves all three."""
    dear = campaigns.create(stack, target_country=country, **DEAR)
    campaigns.create(stack, target_country=country, **MIDDLE)
    campaigns.create(stack, target_country=country, **CHEAP)

    def indexed() -> bool:
        # With no floor, dear wins among all three once every worker holds them.
        got = [serve(stack, country) for _ in range(FRESH_CONNECTIONS)]
        return all(
            a.get("campaign_id") == dear.campaign_id
            and _get(stack, a["request_id"])["bidders"] == 3
            for a in got
        )

    eventually(indexed, timeout=20)
    return dear.campaign_id


def _get(stack: Settings, request_id: str) -> dict[str, Any]:
    reply = envoy.call(stack, "GET", f"/v1/ads/{request_id}")
    assert reply.status == 200, (reply.status, reply.raw)
    answer: dict[str, Any] = reply.json()
    return answer


def test_a_floor_above_every_bid_is_no_fill(stack: Settings, country: str) -> None:
    three_bidders(stack, country)
    for _ in range(FRESH_CONNECTIONS):
        answer = serve(stack, country, bid_floor=str(DEAR_CPM + Decimal("0.0000000001")))
        assert answer.get("request_id", "") == ""


def test_the_price_is_the_higher_of_runner_up_and_floor(stack: Settings, country: str) -> None:
    dear = three_bidders(stack, country)
    # A floor under middle: middle is the runner-up and sets the price; cheap does not enter.
    low = serve(stack, country, bid_floor="0.00001")
    assert (low["campaign_id"], Decimal(low["auction_cpm"])) == (dear, MIDDLE_CPM)
    shown = _get(stack, low["request_id"])
    assert Decimal(shown["runner_up_cpm"]) == MIDDLE_CPM
    assert Decimal(shown["floor_cpm"]) == Decimal("0.00001")
    assert Decimal(shown["bid_cpm"]) == DEAR_CPM
    assert shown["bidders"] == 2
    # A floor between middle and dear: dear enters alone and pays the floor, scaled.
    floor = Decimal("0.00003")
    high = serve(stack, country, bid_floor=str(floor))
    assert (high["campaign_id"], Decimal(high["auction_cpm"])) == (dear, floor)
    assert Decimal(high["auction_cpc"]) == Decimal(DEAR["cpc"]) * floor / DEAR_CPM
    assert Decimal(high["auction_cpa"]) == Decimal(DEAR["cpa"]) * floor / DEAR_CPM
    shown = _get(stack, high["request_id"])
    assert shown.get("runner_up_cpm", "") == ""  # alone
    assert Decimal(shown["floor_cpm"]) == floor
    assert Decimal(shown["auction_cpm"]) == floor
    assert shown["bidders"] == 1
    assert shown["campaign_id"] == dear and shown["request_id"] == high["request_id"]
    assert shown["served_at"].endswith("Z")
    # No floor: today's second price, recorded with a floor of 0 and the runner-up.
    plain = serve(stack, country)
    shown = _get(stack, plain["request_id"])
    assert Decimal(shown["auction_cpm"]) == MIDDLE_CPM == Decimal(shown["runner_up_cpm"])
    assert Decimal(shown.get("floor_cpm", "0")) == 0
    assert shown["bidders"] == 3


@pytest.mark.parametrize("floor", ["abc", "-1", "1e-5", "0.00000000001", "100000000000000"])
def test_a_bad_bid_floor_is_400_naming_it(stack: Settings, floor: str) -> None:
    reply = envoy.call(stack, "POST", "/v1/ads:serve", {"user_id": "u-floors", "bid_floor": floor})
    assert reply.status == 400, reply.raw
    assert reply.json()["message"].startswith("bid_floor: ")


def test_an_unknown_served_ad_is_404_and_a_malformed_id_400(stack: Settings) -> None:
    unknown = envoy.call(stack, "GET", f"/v1/ads/{uuid.uuid4()}")
    assert unknown.status == 404, unknown.raw
    malformed = envoy.call(stack, "GET", "/v1/ads/not-a-request-id")
    assert malformed.status == 400, malformed.raw
    assert malformed.json()["message"].startswith("request_id: ")
