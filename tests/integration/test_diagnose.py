"""DiagnoseCampaign through Envoy: why a campaign is or is not serving, from its stored state and
the AdServers' counters, and those counters' flush into the stack's MariaDB.

Ad requests go through Envoy to the stack's two AdServer workers, which sample one request in
settings.diagnostics_sample_every and flush their counters every diagnostics_flush_seconds;
the test polls with a deadline until the flushed counts show.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from adplatform.v1 import campaign_pb2
from sqlalchemy import Engine, create_engine, delete, insert, select
from sqlalchemy.engine import make_url

from deploy.stack import auth
from deploy.stack.net import free_port
from servers.adserving.diagnostics import DeliveryCounters
from servers.adserving.sampling import DeliverySample
from servers.campaigns import frequency
from servers.campaigns.model import Period
from servers.settings import Settings
from servers.storage.schema import delivery_samples, delivery_stats, frequency_counts, naive_utc
from tests.integration import campaigns, envoy
from tests.polling import eventually

pytestmark = pytest.mark.integration

REQUESTS = 160  # at one in 16 sampled, about five samples per worker of two


@pytest.fixture(scope="module")
def token(stack: Settings) -> str:
    return auth.mint_token(stack)


@pytest.fixture
def country() -> str:
    """country is a place only this test's campaigns target."""
    return f"Diagland-{uuid.uuid4().hex[:10]}"


def diagnose(stack: Settings, token: str, campaign_id: str, query: str = "") -> envoy.Reply:
    return envoy.call(stack, "GET", f"/v1/campaigns/{campaign_id}:diagnose{query}", token=token)


def diagnosis(stack: Settings, token: str, campaign_id: str, query: str = "") -> dict[str, Any]:
    reply = diagnose(stack, token, campaign_id, query)
    assert reply.status == 200, reply.raw
    found: dict[str, Any] = reply.json()
    return found


def codes(found: dict[str, Any]) -> list[str]:
    return [blocker["code"] for blocker in found["blockers"]]


def test_a_live_campaign_is_serving(stack: Settings, token: str, country: str) -> None:
    campaign = campaigns.create(stack, target_country=country)
    found = diagnosis(stack, token, campaign.campaign_id)
    assert found["serving"] is True
    assert found["blockers"] == []
    assert found["campaign_id"] == campaign.campaign_id
    assert found["recent"]["minutes"] == 15
    assert found["pacing"]["pacing"] == "EVEN"
    assert found["pacing"]["spent"] == "0"
    assert Decimal(found["pacing"]["expected_spent"]) > 0  # a day of its three is gone
    assert found["pacing"]["daily_budget"] == ""
    assert found["checked_at"]


def test_a_stopped_campaign_is_stopped(stack: Settings, token: str, country: str) -> None:
    campaign = campaigns.create(stack, target_country=country)
    envoy_reply = envoy.call(
        stack, "POST", f"/v1/campaigns/{campaign.campaign_id}:stop", {"reason": "done"}, token=token
    )
    assert envoy_reply.status == 200, envoy_reply.raw
    campaigns.wait_for(stack, campaign.campaign_id, status="INACTIVE")
    found = diagnosis(stack, token, campaign.campaign_id)
    assert found["serving"] is False
    assert codes(found) == ["STOPPED"]
    assert "done" in found["blockers"][0]["message"]


def test_a_future_campaign_is_before_its_window(stack: Settings, token: str, country: str) -> None:
    later = datetime.now(UTC).date() + timedelta(days=5)
    campaign = campaigns.create(
        stack,
        target_country=country,
        date_range=campaign_pb2.DateRange(
            start=later.isoformat(), end=(later + timedelta(days=1)).isoformat()
        ),
    )
    found = diagnosis(stack, token, campaign.campaign_id)
    assert codes(found) == ["BEFORE_WINDOW"]
    assert later.isoformat() in found["blockers"][0]["message"]
    assert found["pacing"]["expected_spent"] == "0"


def test_unknown_campaign_is_404(stack: Settings, token: str) -> None:
    assert diagnose(stack, token, str(uuid.uuid4())).status == 404


@pytest.mark.parametrize("minutes", ["-1", "1441", "99999999"])
def test_minutes_out_of_range_are_refused_naming_the_field(
    stack: Settings, token: str, minutes: str
) -> None:
    reply = diagnose(stack, token, str(uuid.uuid4()), f"?minutes={minutes}")
    assert reply.status == 400, reply.raw
    assert "minutes" in reply.raw.decode()


def test_a_bad_id_is_refused(stack: Settings, token: str) -> None:
    reply = diagnose(stack, token, "bad%20id")
    assert reply.status == 400, reply.raw
    assert "campaign_id" in reply.raw.decode()


def test_diagnose_needs_the_token(stack: Settings) -> None:
    reply = envoy.call(stack, "GET", f"/v1/campaigns/{uuid.uuid4()}:diagnose")
    assert reply.status == 401


def test_recent_counts_show_who_won_and_who_was_outbid(
    stack: Settings, token: str, country: str
) -> None:
    """Two campaigns in one country: the higher bid wins every auction, the lower is outbid
    in every one it entered, at the clearing price of the second price: its own bid."""
    high = campaigns.create(stack, target_country=country, cpc="0.5", cpa="1")
    low = campaigns.create(stack, target_country=country, cpc="0.1", cpa="0.2")
    device = {"device_type": "iPhone", "city": "Pune", "state": "Goa", "country": country}

    def high_wins() -> bool:
        reply = envoy.call(stack, "POST", "/v1/ads:serve", {"user_id": "u-diag", **device})
        return reply.status == 200 and reply.json()["campaign_id"] == high.campaign_id

    eventually(high_wins, timeout=10)
    for index in range(REQUESTS):
        reply = envoy.call(stack, "POST", "/v1/ads:serve", {"user_id": f"u-{index}", **device})
        assert reply.status == 200, reply.raw

    def counted(campaign_id: str) -> dict[str, Any] | None:
        recent: dict[str, Any] = diagnosis(stack, token, campaign_id)["recent"]
        return recent if int(recent["auctions_entered"]) > 0 else None

    winner = eventually(lambda: counted(high.campaign_id), timeout=30, interval=0.5)
    assert int(winner["targeting_matched"]) > 0
    assert int(winner["sampled_requests"]) >= int(winner["targeting_matched"])
    assert 0 < winner["targeting_match_share"] <= 1
    assert int(winner["auctions_won"]) == int(winner["auctions_entered"])
    assert winner["outbid_share"] == 0
    assert winner["outbid_clearing_cpm"] == ""

    loser = eventually(lambda: counted(low.campaign_id), timeout=30, interval=0.5)
    assert int(loser["auctions_won"]) == 0
    assert loser["outbid_share"] == 1
    assert Decimal(loser["outbid_clearing_cpm"]) == Decimal(low.cpm)
    assert loser["capped_users"] == "0"


def _rows(database: Engine, campaign_id: str) -> list[dict[str, Any]]:
    with database.connect() as connection:
        query = select(delivery_stats).where(delivery_stats.c.campaign_id == campaign_id)
        return [dict(row) for row in connection.execute(query).mappings()]


def _forget(database: Engine, campaign_id: str) -> None:
    with database.begin() as connection:
        connection.execute(
            delete(delivery_stats).where(delivery_stats.c.campaign_id == campaign_id)
        )


def test_counters_add_to_the_same_rows_and_old_rows_are_purged(
    stack: Settings, database: Engine
) -> None:
    """Two servers' flushes of one minute add up in one row; a row two days old is deleted."""
    campaign_id = f"diag-{uuid.uuid4()}"
    old_minute = datetime(2020, 1, 1, 0, 0)
    with database.begin() as connection:
        connection.execute(
            insert(delivery_stats).values(
                campaign_id=campaign_id,
                minute=old_minute,
                matched=1,
                frequency_capped=0,
                below_floor=0,
                entered=0,
                won=0,
                outbid_clearing_cpm=0,
            )
        )
    at = datetime.now(UTC) - timedelta(hours=1)
    sample = DeliverySample(
        at=at,
        matched=(campaign_id, "other"),
        frequency_capped=(),
        below_floor=("other",),
        entered=(campaign_id, "rival"),
        winner="rival",
        clearing_cpm=Decimal("0.0000333"),
    )
    servers = [DeliveryCounters(database, 5), DeliveryCounters(database, 5)]

    async def flush_both() -> list[bool]:
        return [await counters.flush() for counters in servers]

    for counters in servers:
        counters.observe(sample)
    assert asyncio.run(flush_both()) == [True, True]
    servers[0].observe(sample)
    assert asyncio.run(servers[0].flush())

    rows = _rows(database, campaign_id)
    assert len(rows) == 1, rows  # the 2020 row is gone: a flush purges rows older than a day
    row = rows[0]
    assert row["minute"] == at.replace(tzinfo=None, second=0, microsecond=0)
    assert (row["matched"], row["entered"], row["won"]) == (3, 3, 0)
    assert row["outbid_clearing_cpm"] == Decimal("0.0000999")
    with database.begin() as connection:
        connection.execute(
            delete(delivery_stats).where(delivery_stats.c.campaign_id == campaign_id)
        )
        requests = connection.execute(
            select(delivery_samples.c.requests).where(delivery_samples.c.minute == row["minute"])
        ).scalar_one()
    assert requests >= 3


def test_capped_users_count_this_period_at_the_cap(
    stack: Settings, token: str, country: str, database: Engine
) -> None:
    """Users at the cap in the current period count; under it, or in an old period, do not."""
    cap = campaign_pb2.FrequencyCap(max_impressions=2, period="DAY")
    campaign = campaigns.create(stack, target_country=country, frequency_cap=cap)
    now = datetime.now(UTC)
    today = frequency.period_start(Period.DAY, now, ZoneInfo(stack.timezone))
    rows = [
        ("u-at-cap", today, 2),
        ("u-past-cap", today, 3),
        ("u-under-cap", today, 1),
        ("u-yesterday", today - timedelta(days=1), 5),
    ]
    with database.begin() as connection:
        connection.execute(
            insert(frequency_counts),
            [
                {
                    "user_id": user_id,
                    "campaign_id": campaign.campaign_id,
                    "period_start": naive_utc(start),
                    "impressions": impressions,
                }
                for user_id, start, impressions in rows
            ],
        )
    try:
        found = diagnosis(stack, token, campaign.campaign_id)
        assert found["recent"]["capped_users"] == "2"
    finally:
        with database.begin() as connection:
            mine = frequency_counts.c.campaign_id == campaign.campaign_id
            connection.execute(delete(frequency_counts).where(mine))


def test_counters_kept_while_mysql_is_out_of_reach_are_written_once_it_is_back(
    stack: Settings, database: Engine
) -> None:
    """A flush to a MySQL that refuses connections keeps the counts; the next one writes them."""
    campaign_id = f"diag-{uuid.uuid4()}"
    nowhere = make_url(stack.database_url).set(port=free_port())
    counters = DeliveryCounters(create_engine(nowhere), 5)
    at = datetime.now(UTC) - timedelta(hours=2)
    sample = DeliverySample(
        at=at,
        matched=(campaign_id,),
        frequency_capped=(),
        below_floor=(),
        entered=(campaign_id,),
        winner=campaign_id,
        clearing_cpm=Decimal("0.0001"),
    )
    counters.observe(sample)
    assert asyncio.run(counters.flush()) is False
    counters.observe(sample)
    counters.engine = database  # MySQL is back
    assert asyncio.run(counters.flush()) is True
    rows = _rows(database, campaign_id)
    assert [(row["matched"], row["entered"], row["won"]) for row in rows] == [(2, 2, 2)]
    with database.begin() as connection:
        connection.execute(
            delete(delivery_stats).where(delivery_stats.c.campaign_id == campaign_id)
        )


def test_outside_its_dayparts_names_the_next_and_shows_its_controls(
    stack: Settings, token: str, country: str
) -> None:
    """A campaign whose only daypart is tomorrow is OUTSIDE_DAYPART until tomorrow's midnight."""
    tz = ZoneInfo(stack.timezone)
    tomorrow = datetime.now(tz).date() + timedelta(days=1)
    day = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")[
        tomorrow.weekday()
    ]
    # The window spans tomorrow in the platform's zone whatever the hour: near midnight UTC
    # the zone's tomorrow is already two UTC dates away.
    window = campaign_pb2.DateRange(
        start=(tomorrow - timedelta(days=2)).isoformat(),
        end=(tomorrow + timedelta(days=1)).isoformat(),
    )
    campaign = campaigns.create(
        stack,
        target_country=country,
        pacing="ASAP",
        daily_budget="5",
        dayparts=[campaign_pb2.Daypart(days=[day], start_hour=0, end_hour=24)],
        date_range=window,
    )
    found = diagnosis(stack, token, campaign.campaign_id, "?minutes=60")
    assert codes(found) == ["OUTSIDE_DAYPART"]
    assert f"{tomorrow.isoformat()}T00:00:00" in found["blockers"][0]["message"]
    assert found["recent"]["minutes"] == 60
    assert found["pacing"]["pacing"] == "ASAP"
    assert found["pacing"]["daily_budget"] == "5"
    assert found["pacing"]["spent_today"] == "0"
