"""Ad serving end to end: campaigns through the real pipeline, ServeAd through Envoy and gRPC.

Each test owns its campaigns by targeting a country of its own ("Testland-…") and asking for
ads from there, so the feed's and other tests' campaigns (all India) never take part.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import grpc
import pytest
from adplatform.v1 import ad_server_pb2, ad_server_pb2_grpc, campaign_service_pb2
from sqlalchemy import Engine, delete
from sqlalchemy.dialects.mysql import insert

from clients import channels
from servers.ads import served
from servers.identifiers import PRIVACY_USER_ID
from servers.settings import Settings
from servers.storage.schema import campaigns as campaigns_table
from servers.storage.schema import users
from tests.fixtures.database import served_rows, update_campaign
from tests.integration import campaigns, envoy
from tests.polling import eventually

pytestmark = pytest.mark.integration

# Bids (cpm = 0.0075 cpc + 0.0005 cpa): 0.00004 > 0.0000225 > 0.000008.
DEAR = {"cpc": "0.002", "cpa": "0.05"}
MIDDLE = {"cpc": "0.001", "cpa": "0.03"}
CHEAP = {"cpc": "0.0004", "cpa": "0.01"}
NO_FILL = {
    "request_id": "",
    "campaign_id": "",
    "text": "",
    "category": "",
    "auction_cpm": "",
    "auction_cpc": "",
    "auction_cpa": "",
}


def _cpm(bid: dict[str, str]) -> Decimal:
    return Decimal("0.0075") * Decimal(bid["cpc"]) + Decimal("0.0005") * Decimal(bid["cpa"])


@pytest.fixture
def country() -> str:
    """country is a place only this test's campaigns target."""
    return f"Testland-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def woman(database: Engine) -> Iterator[str]:
    """woman is a profiled user: 30, F, income M, in the users table."""
    user_id = f"adtest-{uuid.uuid4()}"
    profile = {"age": 30, "gender": "F", "income_bucket": "M"}
    row = {"id": user_id, "device_type": "iPhone", "city": "Pune", "state": "Maharashtra"}
    with database.begin() as connection:
        connection.execute(insert(users).values(**row, **profile))
    yield user_id
    with database.begin() as connection:
        connection.execute(delete(users).where(users.c.id == user_id))


DEVICE = {"user_id": "u-anyone", "device_type": "iPhone", "city": "Pune", "state": "Goa"}
FRESH_CONNECTIONS = 10  # each lands on a random worker: all workers answer, but for 2^-9


def serve(stack: Settings, **fields: Any) -> dict[str, Any]:
    """serve asks Envoy for an ad as a device does (POST /v1/ads:serve)."""
    reply = envoy.call(stack, "POST", "/v1/ads:serve", {**DEVICE, **fields})
    assert reply.status == 200, (reply.status, reply.raw)
    answer: dict[str, Any] = reply.json()
    return answer


def serve_grpc(stack: Settings, **fields: Any) -> dict[str, Any]:
    """serve_grpc asks the AdServer directly over a new connection (any of its workers)."""
    request = ad_server_pb2.ServeAdRequest(**{**DEVICE, **fields})
    with grpc.insecure_channel(stack.adserver_target) as channel:
        reply = ad_server_pb2_grpc.AdServerStub(channel).ServeAd(request, timeout=5)
    return {name: getattr(reply, name) for name in NO_FILL}


def answers(stack: Settings, **fields: Any) -> list[dict[str, Any]]:
    """answers asks once through Envoy and once per fresh connection, reaching every worker."""
    return [serve(stack, **fields)] + [
        serve_grpc(stack, **fields) for _ in range(FRESH_CONNECTIONS)
    ]


def settled(
    stack: Settings, check: Callable[[dict[str, Any]], bool], **fields: Any
) -> dict[str, Any]:
    """settled waits until every worker's answer passes check (each refreshes on its own)."""

    def probe() -> dict[str, Any] | None:
        got = answers(stack, **fields)
        return got[0] if all(check(answer) for answer in got) else None

    # Each worker rebuilds its index on its own, at most every RENUMBER_SECONDS and slower
    # on a loaded machine: a deadline, not a pause.
    return eventually(probe, timeout=20)


def served_row(database: Engine, request_id: str) -> dict[str, Any] | None:
    """served_row is the served-ads row of request_id, or None if there is none."""
    return served_rows(database, [request_id]).get(request_id)


def wins(stack: Settings, campaign_id: str, **fields: Any) -> dict[str, Any]:
    """wins waits until every worker has indexed the campaign and it wins the request."""
    return settled(stack, lambda answer: answer["campaign_id"] == campaign_id, **fields)


def test_the_highest_cpm_wins_and_pays_the_scaled_second_price(
    stack: Settings, database: Engine, country: str
) -> None:
    cheap = campaigns.create(stack, target_country=country, **CHEAP)
    dear = campaigns.create(stack, target_country=country, text="the dear one", **DEAR)
    middle = campaigns.create(stack, target_country=country, **MIDDLE)
    price = _cpm(MIDDLE)
    expected = {
        "campaign_id": dear.campaign_id,
        "text": "the dear one",
        "category": dear.category,
        "auction_cpm": price,
        "auction_cpc": Decimal(DEAR["cpc"]) * price / _cpm(DEAR),  # 0.001125, exact
        "auction_cpa": Decimal(DEAR["cpa"]) * price / _cpm(DEAR),  # 0.028125
    }

    def priced(answer: dict[str, Any]) -> dict[str, Any]:
        return {
            # A no fill (the workers not holding the campaigns yet) has empty prices.
            key: Decimal(value) if key.startswith("auction_") and value else value
            for key, value in answer.items()
            if key != "request_id"
        }

    settled(stack, lambda answer: priced(answer) == expected, country=country)
    for _ in range(5):  # and every time after
        answer = serve(stack, country=country)
        assert priced(answer) == expected
        assert uuid.UUID(answer["request_id"]).version == 4
    row = served_row(database, answer["request_id"])
    assert row is not None
    assert row["bid_cpm"] == _cpm(DEAR)
    assert row["auction_cpm"] == price
    assert row["bidders"] == 3
    assert row["campaign_id"] not in {cheap.campaign_id, middle.campaign_id}


def test_a_single_eligible_ad_pays_its_own_bid(stack: Settings, country: str) -> None:
    alone = campaigns.create(stack, target_country=country, **MIDDLE)
    answer = wins(stack, alone.campaign_id, country=country)
    assert Decimal(answer["auction_cpm"]) == _cpm(MIDDLE)
    assert (answer["auction_cpc"], answer["auction_cpa"]) == (MIDDLE["cpc"], MIDDLE["cpa"])


def test_a_targeting_mismatch_gives_no_fill(stack: Settings, country: str) -> None:
    mumbai = campaigns.create(
        stack, target_country=country, target_city="Mumbai", target_device="Android Mobile"
    )
    # The campaign serves its audience (in any spelling), so a no-fill below is targeting.
    wins(stack, mumbai.campaign_id, country=country, city="MUMBAI", device_type="android-mobile")
    for mismatch in ({"city": "Delhi", "device_type": "Android Mobile"}, {"city": "Mumbai"}):
        assert all(answer == NO_FILL for answer in answers(stack, country=country, **mismatch))


def test_the_privacy_user_only_gets_untargeted_ads(
    stack: Settings, database: Engine, country: str, woman: str
) -> None:
    for_women = campaigns.create(
        stack, target_country=country, target_gender="F", text="for women", **DEAR
    )
    for_anyone = campaigns.create(stack, target_country=country, text="for anyone", **CHEAP)
    wins(stack, for_women.campaign_id, country=country, user_id=woman)
    # The privacy id gets no profile even when the users table holds one for it.
    profile = {"age": 30, "gender": "F", "income_bucket": "M", "device_type": "iPhone"}
    with database.begin() as connection:
        connection.execute(delete(users).where(users.c.id == PRIVACY_USER_ID))
        connection.execute(
            insert(users).values(id=PRIVACY_USER_ID, city="Pune", state="Goa", **profile)
        )
    try:
        for user_id in (PRIVACY_USER_ID, f"unknown-{uuid.uuid4()}"):
            wins(stack, for_anyone.campaign_id, country=country, user_id=user_id)
            for _ in range(3):  # every time, on every worker
                for answer in answers(stack, country=country, user_id=user_id):
                    assert answer["campaign_id"] == for_anyone.campaign_id
    finally:
        with database.begin() as connection:
            connection.execute(delete(users).where(users.c.id == PRIVACY_USER_ID))


def test_a_stopped_campaign_stops_serving_within_a_second(stack: Settings, country: str) -> None:
    stopping = campaigns.create(stack, target_country=country)
    wins(stack, stopping.campaign_id, country=country)
    started = time.monotonic()
    channels.campaigns(stack).StopCampaign(
        campaign_service_pb2.StopCampaignRequest(campaign_id=stopping.campaign_id), timeout=5
    )
    eventually(lambda: _nobody_serves(stack, country), timeout=1.0, interval=0.02)
    assert time.monotonic() - started < 1.0
    assert _nobody_serves(stack, country)  # and it stays that way


def test_an_exhausted_campaign_stops_serving_within_a_second(
    stack: Settings, database: Engine, country: str
) -> None:
    exhausted = campaigns.create(stack, target_country=country, budget="5")
    wins(stack, exhausted.campaign_id, country=country)
    started = time.monotonic()
    # As a charge spending the rest would:
    update_campaign(database, exhausted.campaign_id, spent=campaigns_table.c.budget)
    try:
        eventually(lambda: _nobody_serves(stack, country), timeout=1.0, interval=0.02)
        assert time.monotonic() - started < 1.0
        assert _nobody_serves(stack, country)  # and it stays that way
    finally:  # nothing was charged: keep MySQL's spent total equal to what was billed
        update_campaign(database, exhausted.campaign_id, spent=Decimal(0))


def _nobody_serves(stack: Settings, country: str) -> bool:
    """_nobody_serves: no fill through Envoy, nor over fresh connections (every worker)."""
    return all(answer == NO_FILL for answer in answers(stack, country=country))


def test_a_slot_spent_to_zero_waits_and_a_stale_slot_is_fresh(
    stack: Settings, database: Engine, country: str
) -> None:
    paced = campaigns.create(stack, target_country=country)
    wins(stack, paced.campaign_id, country=country)

    table = campaigns_table.c
    # This slot's budget is spent:
    update_campaign(database, paced.campaign_id, slot_start=table.slot_start, slot_budget=0)
    settled(stack, lambda answer: answer == NO_FILL, country=country)
    # An old slot's record: the current slot has fresh money.
    update_campaign(database, paced.campaign_id, slot_start=table.window_start, slot_budget=0)
    wins(stack, paced.campaign_id, country=country)


def test_every_served_ad_is_in_mysql_when_the_response_arrives(
    stack: Settings, database: Engine, country: str
) -> None:
    campaign = campaigns.create(stack, target_country=country, target_city="Pune")
    wins(stack, campaign.campaign_id, country=country, city="pune")

    def serve_and_look(number: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
        answer = serve(stack, country=country, city="Pune", user_id=f"u-{number}")
        return answer, served_row(database, answer["request_id"])

    with ThreadPoolExecutor(16) as pool:  # concurrent requests share group commits
        results = list(pool.map(serve_and_look, range(64)))
    for number, (answer, row) in enumerate(results):
        assert row is not None, answer
        assert row["campaign_id"] == answer["campaign_id"] == campaign.campaign_id
        assert row["user_id"] == f"u-{number}"
        assert (row["city"], row["country"], row["device_type"]) == ("Pune", country, "iPhone")
        prices = (row["auction_cpm"], row["auction_cpc"], row["auction_cpa"])
        assert prices == tuple(Decimal(answer[f"auction_{k}"]) for k in ("cpm", "cpc", "cpa"))
        assert row["target_location"] == f"Pune, All, {country}"
        assert row["served_at"] <= datetime.now(UTC).replace(tzinfo=None)
        assert row["campaign_end_time"] - row["campaign_start_time"] == timedelta(days=3)


def test_the_compatibility_route_answers_like_the_classic_simulator(
    stack: Settings, database: Engine
) -> None:
    city = f"Testcity-{uuid.uuid4().hex[:10]}"
    campaigns.create(stack, target_city=city)  # India: the route's home country
    path = f"/ad/user/u-classic/serve?device_type=android-mobile&city={city}&state=Goa"

    def answer() -> dict[str, Any] | None:
        reply = envoy.call(stack, "GET", path)
        assert reply.status == 200, reply.raw
        body: dict[str, Any] = reply.json()
        return body if body["request_id"] else None

    body = eventually(answer, timeout=5)
    assert isinstance(body["text"], str) and body["text"]
    assert set(body) >= {"text", "request_id"}
    row = served_row(database, body["request_id"])
    assert row is not None
    assert (row["user_id"], row["city"], row["country"]) == ("u-classic", city, "India")
    assert row["device_type"] == "Android Mobile"


@pytest.mark.parametrize("spelled", ["Android+Mobile", "Android%20Mobile"])
def test_a_form_encoded_space_in_the_query_is_a_space(
    stack: Settings, database: Engine, spelled: str
) -> None:
    # HTTP clients write a space in a query string as "+": "Android+Mobile" must reach the
    # campaigns targeting Android Mobile, not a device of that name.
    city = f"Testcity-{uuid.uuid4().hex[:10]}"
    campaigns.create(stack, target_city=city, target_device="Android Mobile")
    path = f"/ad/user/u-form/serve?device_type={spelled}&city={city}&state=Goa"

    def answer() -> dict[str, Any] | None:
        reply = envoy.call(stack, "GET", path)
        assert reply.status == 200, reply.raw
        body: dict[str, Any] = reply.json()
        return body if body["request_id"] else None

    body = eventually(answer, timeout=20)
    row = served_row(database, body["request_id"])
    assert row is not None and row["device_type"] == "Android Mobile"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": "", "city": "Pune"}, "user_id"),
        ({"user_id": "x" * 65}, "user_id"),
        ({"user_id": "u1", "device_type": "d" * 33}, "device_type"),
        ({"user_id": "u1", "city": "c" * 101}, "city"),
        ({"user_id": "u1", "device_type": "İ" * 32}, "device_type"),  # 64 once lower-cased
        ({"user_id": "u1", "state": "Goa\u0000"}, "state"),
        ({"user_id": "u\n1"}, "user_id"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(
    stack: Settings, body: dict[str, str], field: str
) -> None:
    reply = envoy.call(stack, "POST", "/v1/ads:serve", body)
    assert reply.status == 400, reply.raw
    assert reply.json()["message"].startswith(field)


def test_served_ads_are_stored_exactly_whatever_their_text(
    stack: Settings, database: Engine
) -> None:
    now = datetime.now(UTC)
    awkward = ["o'brien", 'say "hi"', "back\\slash", "50% off %s %(x)s", "Münch\u00e9n\n;--", ""]
    ads = [
        served.ServedAd(
            request_id=str(uuid.uuid4()),
            campaign_id=f"served-{uuid.uuid4()}",
            user_id=text_value,
            device_type="iPhone",
            city=text_value,
            state="Tamil Nadu",
            country="India",
            auction_cpm=Decimal("0.0000225"),
            auction_cpc=Decimal("1E-10"),
            auction_cpa=Decimal("12345678901234.0123456789"),
            bid_cpm=Decimal(0),
            bidders=32767,
            target_age_start=20,
            target_age_end=45,
            target_location="All, All, India",
            target_gender="F",
            target_income_bucket="All",
            target_device="All",
            campaign_start_time=now.astimezone(timezone(timedelta(hours=5, minutes=30))),
            campaign_end_time=now + timedelta(days=1),
            served_at=now.replace(microsecond=0),
        )
        for text_value in awkward
    ]
    with database.begin() as connection:
        served.record(connection, ads)
    with database.connect() as connection:
        assert [served.find(connection, ad.request_id) for ad in ads] == ads
