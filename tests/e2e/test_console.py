"""The web console in a real browser against the real stack: Envoy, the servers, MySQL, Kafka.

Each test owns its campaigns by targeting a country and city of its own ("Testland-…",
"Testcity-…") and asking for ads from there, so no other campaign takes part in its
auctions. Screenshots land in <run_dir>/screenshots.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from adplatform.v1 import campaign_pb2
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, delete
from sqlalchemy.dialects.mysql import insert

from servers.settings import Settings
from servers.storage.schema import campaign_kpis
from tests.e2e.console import created_id, fill, request_ad, request_until, row, show_only, sign_in
from tests.integration import campaigns, envoy
from tests.polling import eventually

pytestmark = pytest.mark.e2e

PRIVACY_USER = "1111-1111-1111-1111"
# A bid far above the feed's, and a budget whose 10-minute slots hold a click or two.
CPC, CPA, BUDGET = "0.25", "1", "1000"


@pytest.fixture
def place() -> dict[str, str]:
    """place is a country and city only this test's campaigns target."""
    tag = uuid.uuid4().hex[:10]
    return {"country": f"Testland-{tag}", "city": f"Testcity-{tag}"}


def _form_campaign(place: dict[str, str], **changes: str) -> dict[str, str]:
    """_form_campaign is what a campaign manager types into the create form."""
    today = datetime.now(UTC).date()
    values = {
        "text": f"Trail Runner 2 Shoes {place['city']}",
        "category": "Sports & Fitness",
        "keywords": "running, shoes",
        "cpc": CPC,
        "cpa": CPA,
        "budget": BUDGET,
        "date_range.start": (today - timedelta(days=1)).isoformat(),
        "date_range.end": (today + timedelta(days=6)).isoformat(),
        "time_range.start": "0:00:00",
        "time_range.end": "0:00:00",
        "target_city": place["city"],
        "target_state": "All",
        "target_country": place["country"],
        "target_device": "All",
    }
    values.update(changes)
    return values


def _device_request(place: dict[str, str]) -> dict[str, str]:
    """_device_request is the device page's form for an ad from the test's place."""
    return {
        "user_id": PRIVACY_USER,
        "device_type": "Android Mobile",
        "city": place["city"],
        "state": "Maharashtra",
        "country": place["country"],
    }


def test_a_campaign_made_in_the_form_serves_on_the_device_and_its_click_is_charged(
    page: Page, token: str, screenshots: Path, place: dict[str, str]
) -> None:
    sign_in(page, token)
    form = page.locator("#create")
    fill(form, _form_campaign(place))
    form.get_by_role("button", name="Create campaign").click()
    campaign_id = created_id(form)

    show_only(page, f"target_city={place['city']}")
    mine = row(page, campaign_id)
    # The row appears, ACTIVE, once the Ad Manager has applied the campaign.
    expect(mine.locator('[data-col="status"]')).to_have_text("ACTIVE")
    expect(mine.locator('[data-col="spent"]')).to_have_text("0")
    page.screenshot(path=screenshots / "console.png", full_page=True)

    page.goto("/console/device")
    ad = request_until(
        page, lambda reply: reply["campaign_id"] == campaign_id, **_device_request(place)
    )
    card = page.get_by_role("article")
    expect(card.locator("#ad-campaign")).to_have_text(campaign_id)
    expect(card.locator("#ad-cpc")).to_have_text(CPC)  # the only bidder pays its own bid
    expect(card.locator("#ad-cpm")).to_have_text(ad["auction_cpm"])
    card.get_by_role("button", name="Click").click()
    expect(card.locator(".form-status")).to_contain_text(f"click charged {CPC}")
    page.screenshot(path=screenshots / "device.png", full_page=True)

    page.goto("/console/")  # the same tab: the token is still in sessionStorage
    show_only(page, f"target_city={place['city']}")
    expect(mine.locator('[data-col="spent"]')).to_have_text(CPC)
    expect(mine.locator('[data-col="remaining"]')).to_have_text(str(Decimal(BUDGET) - Decimal(CPC)))
    expect(mine.locator('[data-col="impressions"]')).to_have_text("1")
    expect(mine.locator('[data-col="clicks"]')).to_have_text("1")
    expect(mine.locator('[data-col="ctr"]')).to_have_text("100.00%")
    expect(mine.locator('[data-col="spent_today"]')).to_have_text(CPC)
    page.screenshot(path=screenshots / "console-after-click.png", full_page=True)


def test_a_bad_bid_shows_the_apis_error_beside_the_field(
    page: Page, stack: Settings, token: str, screenshots: Path, place: dict[str, str]
) -> None:
    sign_in(page, token)
    form = page.locator("#create")
    fill(form, _form_campaign(place, cpc="0.0.1"))
    with page.expect_response(
        lambda reply: reply.url.endswith("/v1/campaigns") and reply.request.method == "POST"
    ) as answer:
        form.get_by_role("button", name="Create campaign").click()
    assert answer.value.status == 400
    refusal = answer.value.json()
    assert refusal["message"].startswith("cpc: ")  # the human text, for the status line
    (bad,) = [d for d in refusal["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    (violation,) = bad["field_violations"]  # the structured form the console reads
    assert violation["field"] == "cpc"

    cpc = form.get_by_label("CPC (bid per click)")
    expect(cpc).to_have_attribute("aria-invalid", "true")
    expect(cpc).to_be_focused()
    reason = violation["description"]
    expect(cpc).to_have_accessible_description(re.compile(re.escape(reason)))
    expect(form.locator(".form-status")).to_contain_text(f"Not saved: {refusal['message']}")
    expect(form.locator(".field-error:visible")).to_have_count(1)
    page.screenshot(path=screenshots / "create-error.png", full_page=True)

    # Nothing was created: the API refused the campaign before publishing it.
    path = f"/v1/campaigns?filter=target_city%3D{place['city']}"
    listed = envoy.call(stack, "GET", path, token=token)
    assert listed.json()["total_size"] == 0

    fill(form, {"cpc": CPC})
    form.get_by_role("button", name="Create campaign").click()
    expect(form.locator(".form-status")).to_contain_text("Created")
    expect(cpc).not_to_have_attribute("aria-invalid", "true")


def test_a_stopped_campaign_stops_appearing_in_the_preview(
    page: Page, stack: Settings, token: str, screenshots: Path, place: dict[str, str]
) -> None:
    campaign = campaigns.create(
        stack, target_city=place["city"], target_country=place["country"], cpc=CPC, cpa=CPA
    )
    page.goto("/console/device")
    request_until(
        page, lambda reply: reply["campaign_id"] == campaign.campaign_id, **_device_request(place)
    )

    sign_in(page, token)
    page.goto(f"/console/campaign?id={campaign.campaign_id}")
    stop = page.locator("#stop")
    stop.get_by_label("Reason").fill("e2e: stopped from the console")
    stop.get_by_role("button", name="Stop campaign").click()
    expect(stop.locator(".form-status")).to_contain_text("Stopping")
    expect(page.locator("#identity .badge")).to_have_text("INACTIVE")  # the page refreshes itself
    expect(page.locator("#identity")).to_contain_text("e2e: stopped from the console")

    page.goto("/console/device")
    request_until(page, lambda reply: reply["request_id"] == "", **_device_request(place))
    expect(page.locator("#no-ad")).to_contain_text("No eligible ad")
    expect(page.get_by_role("article")).to_be_hidden()
    page.screenshot(path=screenshots / "device-after-stop.png", full_page=True)
    # Asked once more, for good measure: a stopped campaign stays out.
    assert request_ad(page, **_device_request(place))["request_id"] == ""


def _kpi_minutes(database: Engine, campaign_id: str, minutes: int) -> list[dict[str, Any]]:
    """_kpi_minutes writes per-minute KPI rows as the Spark KPI stream would (a stand-in for
    it until the stream is part of the stack); returns them, oldest first."""
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    rows = []
    for back in range(minutes, 0, -1):
        impressions, clicks = 40 + back, back % 7
        spend = Decimal(CPC) * clicks
        rows.append(
            {
                "campaign_id": campaign_id,
                "minute": now - timedelta(minutes=back),
                "impressions": impressions,
                "clicks": clicks,
                "acquisitions": back % 2,
                "ctr": Decimal(clicks) / impressions,
                "conversion_rate": Decimal(back % 2) / clicks if clicks else Decimal(0),
                "spend": spend,
                "ecpm": spend * 1000 / impressions,
                "updated_at": now,
            }
        )
    with database.begin() as connection:
        connection.execute(insert(campaign_kpis), rows)
    return rows


@pytest.fixture
def charted(
    stack: Settings, place: dict[str, str], database: Engine
) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """charted is a live campaign with twelve minutes of KPIs; the KPI rows go afterwards."""
    campaign = campaigns.create(
        stack, target_city=place["city"], target_country=place["country"], cpc=CPC, cpa=CPA
    )
    yield campaign, _kpi_minutes(database, campaign.campaign_id, 12)
    with database.begin() as connection:
        connection.execute(
            delete(campaign_kpis).where(campaign_kpis.c.campaign_id == campaign.campaign_id)
        )


def test_the_campaign_page_charts_kpi_minutes_and_refreshes_live(
    page: Page,
    stack: Settings,
    token: str,
    screenshots: Path,
    charted: tuple[Any, list[dict[str, Any]]],
) -> None:
    campaign, minutes = charted
    sign_in(page, token)
    page.goto(f"/console/campaign?id={campaign.campaign_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(campaign.text)
    expect(page.locator("#spend-chart circle")).to_have_count(len(minutes))
    expect(page.locator("#ctr-chart circle")).to_have_count(len(minutes))
    expect(page.get_by_role("img", name=re.compile("Spend per minute"))).to_be_visible()
    expect(page.locator("#series tbody tr")).to_have_count(len(minutes))
    expect(page.locator('[data-kpi="spent"]')).to_have_text("0")

    # A real ad and click through Envoy; the open page shows the charge without a reload.
    place = {"city": campaign.target_city, "country": campaign.target_country}

    def served() -> dict[str, Any] | None:
        reply = envoy.call(stack, "POST", "/v1/ads:serve", _device_request(place))
        answer: dict[str, Any] = reply.json()
        return answer if answer["campaign_id"] == campaign.campaign_id else None

    ad = eventually(served)  # the ad index picks a new campaign up within a second
    click = {"view": 1, "click": 1, "acquisition": 0}
    charged = envoy.call(stack, "POST", f"/ad/{ad['request_id']}/feedback", click).json()
    expect(page.locator('[data-kpi="spent"]')).to_have_text(charged["expenditure"])
    expect(page.locator('[data-kpi="clicks"]')).to_have_text("1")
    expect(page.locator('[data-kpi="ctr"]')).to_have_text("100.00%")
    page.screenshot(path=screenshots / "campaign.png", full_page=True)


def test_the_update_form_shows_errors_beside_fields_and_saves(
    page: Page, token: str, place: dict[str, str], stack: Settings
) -> None:
    campaign = campaigns.create(stack, target_city=place["city"], target_country=place["country"])
    sign_in(page, token)
    page.goto(f"/console/campaign?id={campaign.campaign_id}")
    form = page.locator("#update")
    expect(form.locator('[name="budget"]')).to_have_value(campaign.budget)

    fill(form, {"date_range.end": "2001-01-01"})
    form.get_by_role("button", name="Save changes").click()
    last_date = form.get_by_label("Last date")
    expect(last_date).to_have_attribute("aria-invalid", "true")
    expect(last_date).to_have_accessible_description(re.compile("must not be before"))

    fill(form, {"date_range.end": campaign.date_range.end, "budget": "2500"})
    form.get_by_role("button", name="Save changes").click()
    expect(form.locator(".form-status")).to_contain_text("Saved")
    expect(page.locator('[data-kpi="budget"]')).to_have_text("2500")  # once the Ad Manager has it


def test_a_token_the_api_refuses_is_shown_beside_the_field_and_nothing_else(page: Page) -> None:
    page.goto("/console/")
    token_field = page.get_by_label("Bearer token")
    token_field.fill("Bearer not.a.token")
    page.get_by_role("button", name="Sign in").click()
    expect(token_field).to_have_attribute("aria-invalid", "true")
    expect(token_field).to_have_accessible_description(re.compile("Jwt"))
    expect(page.locator("#app")).to_be_hidden()  # no campaign data without a valid token
    assert page.evaluate("sessionStorage.length") == 0


DASH = "\u2013"  # the page writes hour spans with an en dash


def _create_with_controls(page: Page, place: dict[str, str]) -> str:
    """_create_with_controls fills the create form's delivery controls; returns the new id.

    The first daypart is every day, all day, so the campaign serves now; the second, Saturday
    mornings, is first typed wrong (until 5 from 9) and must come back named beside its input.
    """
    form = page.locator("#create")
    controls = {
        "frequency_cap.max_impressions": "3",
        "frequency_cap.period": "HOUR",
        "pacing": "ASAP",
        "daily_budget": "50",
    }
    fill(form, _form_campaign(place, **controls))
    form.get_by_role("button", name="Add daypart").click()
    form.get_by_role("button", name="Add daypart").click()
    fill(form, {"dayparts[0].start_hour": "0", "dayparts[0].end_hour": "24"})
    form.locator('[name="dayparts[1].days.SATURDAY"]').check()
    fill(form, {"dayparts[1].start_hour": "9", "dayparts[1].end_hour": "5"})
    form.get_by_role("button", name="Create campaign").click()
    until = form.locator('[name="dayparts[1].end_hour"]')
    expect(until).to_have_attribute("aria-invalid", "true")
    expect(until).to_have_accessible_description(re.compile("must be after start_hour"))
    expect(until).to_be_focused()
    fill(form, {"dayparts[1].end_hour": "12"})
    form.get_by_role("button", name="Create campaign").click()
    return created_id(form)


def test_delivery_controls_made_in_the_form_show_on_the_page_with_its_diagnosis(
    page: Page, stack: Settings, token: str, screenshots: Path, place: dict[str, str]
) -> None:
    sign_in(page, token)
    campaign_id = _create_with_controls(page, place)
    page.screenshot(path=screenshots / "create-delivery-controls.png", full_page=True)

    page.goto(f"/console/campaign?id={campaign_id}")
    tiles = {
        "pacing": "ASAP",
        "frequency_cap": "3 per HOUR",
        "daily_budget": "50",
        "spent_today": "0",
        "unique_users": "0",
        "dayparts": f"every day 0{DASH}24; Sat 9{DASH}12",
    }
    for name, shown in tiles.items():
        expect(page.locator(f'[data-kpi="{name}"]')).to_have_text(shown)
    update = page.locator("#update")
    expect(update.locator('[name="frequency_cap.max_impressions"]')).to_have_value("3")
    expect(update.locator('[name="frequency_cap.period"]')).to_have_value("HOUR")
    expect(update.locator('[name="pacing"]')).to_have_value("ASAP")
    expect(update.locator('[name="dayparts[1].days.SATURDAY"]')).to_be_checked()
    expect(update.locator('[name="dayparts[1].days.MONDAY"]')).not_to_be_checked()

    # The diagnosis: serving now, with the pacing line's even pace drawn.
    expect(page.locator("#serving")).to_have_text(re.compile("^Serving"))
    expect(page.locator("#blockers li")).to_have_count(0)
    expect(page.locator("#recent")).to_contain_text("Auctions entered")
    expect(page.locator("#pacing-chart path.line.compare")).to_have_count(1)
    expect(page.locator("#pacing-summary")).to_contain_text("pacing ASAP")

    # Served and clicked once through Envoy: the open page shows the charge and today's spend.
    device = _device_request(place) | {"user_id": f"viewer-{uuid.uuid4().hex[:12]}"}

    def served() -> dict[str, Any] | None:
        answer: dict[str, Any] = envoy.call(stack, "POST", "/v1/ads:serve", device).json()
        return answer if answer["campaign_id"] == campaign_id else None

    ad = eventually(served)
    click = {"view": 1, "click": 1, "acquisition": 0}
    envoy.call(stack, "POST", f"/ad/{ad['request_id']}/feedback", click)
    expect(page.locator('[data-kpi="spent_today"]')).to_have_text(CPC)
    expect(page.locator('[data-kpi="spent"]')).to_have_text(CPC)
    page.get_by_role("button", name="Diagnose").click()
    expect(page.locator("#diagnose .form-status")).to_contain_text("Diagnosed")
    page.screenshot(path=screenshots / "campaign-delivery-controls.png", full_page=True)


def test_a_stopped_campaign_is_diagnosed_and_its_controls_can_be_emptied(
    page: Page, stack: Settings, token: str, screenshots: Path, place: dict[str, str]
) -> None:
    saturday = campaign_pb2.Daypart(days=["SATURDAY"], start_hour=9, end_hour=12)
    campaign = campaigns.create(
        stack,
        target_city=place["city"],
        target_country=place["country"],
        daily_budget="40",
        dayparts=[saturday],
    )
    sign_in(page, token)
    page.goto(f"/console/campaign?id={campaign.campaign_id}")
    expect(page.locator('[data-kpi="dayparts"]')).to_have_text(f"Sat 9{DASH}12")
    stop = page.locator("#stop")
    stop.get_by_label("Reason").fill("e2e: diagnose a stopped campaign")
    stop.get_by_role("button", name="Stop campaign").click()
    expect(page.locator("#identity .badge")).to_have_text("INACTIVE")
    expect(page.locator('#blockers li[data-code="STOPPED"]')).to_have_count(1)
    expect(page.locator("#serving")).to_have_text("Not serving now.")

    update = page.locator("#update")
    fill(update, {"daily_budget": ""})
    update.get_by_role("button", name="Remove daypart 1").click()
    expect(update.locator("fieldset.daypart")).to_have_count(0)
    update.get_by_role("button", name="Save changes").click()
    expect(update.locator(".form-status")).to_contain_text("Saved")
    expect(page.locator('[data-kpi="daily_budget"]')).to_have_text("none")
    expect(page.locator('[data-kpi="dayparts"]')).to_have_text("whole window")
    page.screenshot(path=screenshots / "campaign-diagnosis-stopped.png", full_page=True)
