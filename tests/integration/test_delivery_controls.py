"""Delivery controls through Envoy: pacing modes, daily budgets and dayparts, end to end.

Campaign managers create and patch campaigns as JSON; devices ask for ads and report
clicks; the stack's two AdServer workers must both honour a campaign's daypart and its
daily budget (each test's campaigns target a country of their own, so no other campaign
enters their auctions).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from google.protobuf import json_format

from deploy.stack import auth
from servers.campaigns.dayparts import DAYS
from servers.settings import Settings
from tests.integration import campaigns, envoy
from tests.integration.test_adserver import NO_FILL, answers, serve
from tests.polling import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def token(stack: Settings) -> str:
    return auth.mint_token(stack)


@pytest.fixture
def country() -> str:
    """country is a place only this test's campaigns target."""
    return f"Dayland-{uuid.uuid4().hex[:10]}"


def body(**overrides: object) -> dict[str, Any]:
    """body is a valid live campaign as a campaign manager posts it, with fields overridden."""
    document = json_format.MessageToDict(
        campaigns.live_campaign(), preserving_proto_field_name=True
    )
    document.update(overrides)
    return document


def create(stack: Settings, token: str, **overrides: object) -> dict[str, Any]:
    """create posts a campaign and waits until the Ad Manager has applied it."""
    sent = body(**overrides)
    reply = envoy.call(stack, "POST", "/v1/campaigns", sent, token=token)
    assert reply.status == 200, reply.raw
    return read_when(stack, token, str(sent["campaign_id"]), lambda c: c["status"] == "ACTIVE")


def read_when(stack: Settings, token: str, campaign_id: str, check: Any) -> dict[str, Any]:
    """read_when polls GET /v1/campaigns/{id} until check passes on the campaign."""

    def probe() -> dict[str, Any] | None:
        reply = envoy.call(stack, "GET", f"/v1/campaigns/{campaign_id}", token=token)
        if reply.status != 200:
            return None
        campaign: dict[str, Any] = reply.json()["campaign"]
        return campaign if check(campaign) else None

    return eventually(probe, timeout=20)


def settled(stack: Settings, check: Any, **fields: Any) -> dict[str, Any]:
    """settled waits until every worker's answer passes check (each refreshes on its own).

    A longer deadline than test_adserver's: an update goes through Kafka and the Ad Manager
    first, and the machine may be busy.
    """

    def probe() -> dict[str, Any] | None:
        got = answers(stack, **fields)
        return got[0] if all(check(answer) for answer in got) else None

    return eventually(probe, timeout=20)


def wins(stack: Settings, campaign_id: str, **fields: Any) -> dict[str, Any]:
    """wins waits until every worker has indexed the campaign and it wins the request."""
    return settled(stack, lambda answer: answer["campaign_id"] == campaign_id, **fields)


def local_now(stack: Settings) -> datetime:
    return datetime.now(ZoneInfo(stack.timezone))


def test_controls_are_stored_and_read_back_canonical(stack: Settings, token: str) -> None:
    campaign = create(
        stack,
        token,
        pacing="asap",
        daily_budget="12.5",
        frequency_cap={"max_impressions": 4, "period": "hour"},
        dayparts=[
            {"days": ["monday", "Friday", "MONDAY"], "start_hour": 9, "end_hour": 17},
            {"start_hour": 20, "end_hour": 24},
        ],
    )
    assert campaign["pacing"] == "ASAP"
    assert campaign["daily_budget"] == "12.5"
    assert campaign["frequency_cap"] == {"max_impressions": 4, "period": "HOUR"}
    assert campaign["dayparts"] == [
        {"days": ["MONDAY", "FRIDAY"], "start_hour": 9, "end_hour": 17},
        {"days": [], "start_hour": 20, "end_hour": 24},
    ]
    assert campaign["spent_today"] == "0"
    plain = create(stack, token)
    assert (plain["pacing"], plain["daily_budget"], plain["dayparts"]) == ("EVEN", "", [])
    assert "frequency_cap" not in plain or not plain["frequency_cap"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"pacing": "FAST"}, "pacing"),
        ({"daily_budget": "0"}, "daily_budget"),
        ({"daily_budget": "abc"}, "daily_budget"),
        ({"frequency_cap": {"max_impressions": 3, "period": "week"}}, "frequency_cap.period"),
        (
            {"frequency_cap": {"max_impressions": 2000000, "period": "DAY"}},
            "frequency_cap.max_impressions",
        ),
        (
            {"dayparts": [{"start_hour": 1, "end_hour": 2}, {"start_hour": 9, "end_hour": 9}]},
            "dayparts[1].end_hour",
        ),
        ({"dayparts": [{"days": ["FUNDAY"], "start_hour": 1, "end_hour": 2}]}, "dayparts[0].days"),
        ({"spent_today": "5"}, "campaign.spent_today"),
    ],
)
def test_bad_controls_are_400_naming_the_field(
    stack: Settings, token: str, overrides: dict[str, object], field: str
) -> None:
    sent = body(**overrides)
    reply = envoy.call(stack, "POST", "/v1/campaigns", sent, token=token)
    assert reply.status == 400, reply.raw
    assert reply.json()["message"].startswith(f"{field}:"), reply.raw
    assert campaigns.get(stack, str(sent["campaign_id"])) is None


def test_outside_its_daypart_a_campaign_never_serves(
    stack: Settings, token: str, country: str
) -> None:
    now = local_now(stack)
    if now.hour == 23 and now.minute >= 50:
        now += timedelta(minutes=15)  # keep clear of a daypart ending at midnight
    today, later = DAYS[now.weekday()], DAYS[(now.weekday() + 3) % 7]
    inside = create(
        stack,
        token,
        target_country=country,
        cpc="0.0004",
        dayparts=[{"days": [today], "start_hour": now.hour, "end_hour": min(24, now.hour + 2)}],
    )
    outside = create(  # the higher bid: it would win every auction it entered
        stack,
        token,
        target_country=country,
        cpc="0.04",
        dayparts=[{"days": [later], "start_hour": 0, "end_hour": 24}],
    )
    wins(stack, inside["campaign_id"], country=country)
    for _ in range(3):
        for answer in answers(stack, country=country):
            assert answer["campaign_id"] == inside["campaign_id"]
    assert outside["campaign_id"] != inside["campaign_id"]


def click(stack: Settings, request_id: str) -> dict[str, Any]:
    reply = envoy.call(
        stack, "POST", "/v1/feedback", {"request_id": request_id, "view": 1, "click": 1}
    )
    assert reply.status == 200, reply.raw
    answer: dict[str, Any] = reply.json()
    return answer


def test_a_campaign_at_its_daily_budget_stops_until_tomorrow_and_a_patch_lifts_it(
    stack: Settings, token: str, country: str
) -> None:
    capped = create(
        stack,
        token,
        target_country=country,
        pacing="ASAP",
        cpc="0.0015",
        cpa="0",
        daily_budget="0.002",
    )
    campaign_id = capped["campaign_id"]
    first = wins(stack, campaign_id, country=country)["request_id"]
    second = serve(stack, country=country)["request_id"]
    assert click(stack, first)["expenditure"] == "0.0015"  # a lone bidder pays its bid
    assert click(stack, second)["expenditure"] == "0.0005"  # only what is left today
    stored = read_when(stack, token, campaign_id, lambda c: c["spent_today"] == "0.002")
    assert (stored["status"], stored["spent"]) == ("ACTIVE", "0.002")
    settled(stack, lambda answer: answer == NO_FILL, country=country)
    for _ in range(3):
        assert all(answer == NO_FILL for answer in answers(stack, country=country))

    # Lifting the daily budget with an update mask: the mask clears what the body leaves out.
    reply = envoy.call(
        stack,
        "PATCH",
        f"/v1/campaigns/{campaign_id}?update_mask=dailyBudget,pacing,frequencyCap,dayparts",
        {"pacing": "even", "frequency_cap": {"max_impressions": 100000, "period": "day"}},
        token=token,
    )
    assert reply.status == 200, reply.raw
    patched = read_when(stack, token, campaign_id, lambda c: c["daily_budget"] == "")
    assert patched["pacing"] == "EVEN"
    assert patched["frequency_cap"] == {"max_impressions": 100000, "period": "DAY"}
    assert (patched["spent_today"], patched["status"]) == ("0.002", "ACTIVE")
    assert Decimal(patched["current_slot_budget"]) > 0
    wins(stack, campaign_id, country=country)


def test_the_largest_controls_are_stored_exactly(stack: Settings, token: str) -> None:
    most = [
        {"days": list(DAYS), "start_hour": hour % 24, "end_hour": hour % 24 + 1}
        for hour in range(50)
    ]
    largest = "99999999999999.9999999999"  # DECIMAL(24,10)'s largest value
    campaign = create(
        stack,
        token,
        dayparts=most,
        daily_budget=largest,
        frequency_cap={"max_impressions": 1000000, "period": "LIFETIME"},
    )
    assert len(campaign["dayparts"]) == 50
    assert campaign["dayparts"][0] == {"days": [], "start_hour": 0, "end_hour": 1}
    assert campaign["daily_budget"] == largest
    assert campaign["frequency_cap"] == {"max_impressions": 1000000, "period": "LIFETIME"}
    sent = body(dayparts=[*most, most[0]])
    reply = envoy.call(stack, "POST", "/v1/campaigns", sent, token=token)
    assert reply.status == 400, reply.raw
    assert reply.json()["message"].startswith("dayparts:")
