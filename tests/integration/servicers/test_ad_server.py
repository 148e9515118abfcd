"""The AdServer's ServeAd in this process, over campaigns the test stores itself.

The server loads every stored campaign before it reports SERVING, so a campaign stored
before it starts is in its index: the auction, the no-fill answer and the served-ad record
are the servicer's and its libraries', with no Envoy, Ad Manager or other worker involved.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import grpc
import pytest
from adplatform.v1 import ad_server_pb2, ad_server_pb2_grpc
from sqlalchemy import Engine

from servers.adserving.server import build
from servers.settings import Settings
from tests.fixtures.database import served_rows
from tests.integration.servicers import inprocess, stored

pytestmark = pytest.mark.integration

DEVICE = {"user_id": "u-servicer", "device_type": "iPhone", "city": "Pune", "state": "Goa"}
# Bids (cpm = 0.0075 cpc + 0.0005 cpa): the dear one's 0.00004 beats the cheap one's 0.000008.
DEAR = {"cpc": "0.002", "cpa": "0.05"}
CHEAP = {"cpc": "0.0004", "cpa": "0.01"}


@pytest.fixture
def settings(stack: Settings) -> Settings:
    """settings are the stack's, with this test's AdServer on a free port."""
    return inprocess.settings_for(stack)


def _serve(settings: Settings, *countries: str) -> list[ad_server_pb2.ServeAdResponse]:
    """_serve asks one in-process AdServer for an ad in each country, in turn."""

    def ask(channel: grpc.Channel) -> list[ad_server_pb2.ServeAdResponse]:
        stub = ad_server_pb2_grpc.AdServerStub(channel)
        return [
            stub.ServeAd(ad_server_pb2.ServeAdRequest(**DEVICE, country=country), timeout=10)
            for country in countries
        ]

    return inprocess.call(build, settings, ask)


def test_the_highest_bid_wins_pays_the_second_price_and_is_recorded(
    settings: Settings, database: Engine
) -> None:
    country = stored.country()
    dear = stored.campaign(database, settings, target_country=country, text="dear", **DEAR)
    stored.campaign(database, settings, target_country=country, **CHEAP)

    (answer,) = _serve(settings, country)

    assert (answer.campaign_id, answer.text) == (dear.spec.campaign_id, "dear")
    price = Decimal("0.000008")  # the cheap one's bid, paid by the dear one
    assert Decimal(answer.auction_cpm) == price
    assert Decimal(answer.auction_cpc) == Decimal(DEAR["cpc"]) * price / Decimal("0.00004")
    row = served_rows(database, [answer.request_id]).get(answer.request_id)
    assert row is not None, "the served ad was not recorded by the time it was answered"
    assert (row["campaign_id"], row["user_id"]) == (dear.spec.campaign_id, DEVICE["user_id"])
    assert (row["country"], row["city"], row["bidders"]) == (country, "Pune", 2)
    assert row["auction_cpm"] == price and row["bid_cpm"] == Decimal("0.00004")
    assert row["served_at"] <= datetime.now(UTC).replace(tzinfo=None)


def test_a_country_no_campaign_targets_gets_no_fill_and_no_record(
    settings: Settings, database: Engine
) -> None:
    targeted = stored.campaign(database, settings)  # in a country of its own
    nowhere = stored.country()

    filled, empty = _serve(settings, targeted.spec.targeting.country, nowhere)

    assert filled.campaign_id == targeted.spec.campaign_id
    assert empty == ad_server_pb2.ServeAdResponse()  # every field empty, no request id
    assert set(served_rows(database, [filled.request_id])) == {filled.request_id}
