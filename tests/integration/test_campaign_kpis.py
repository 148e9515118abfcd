"""The console's API additions against the real stack: delivery stats, order_by, the KPI series.

Stats are counted from the `feedback` rows the real FeedbackService writes; KPI minutes are
written into `campaign_kpis` here, as the Spark KPI stream would, since this suite reads them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from adplatform.v1 import campaign_service_pb2, feedback_service_pb2
from sqlalchemy import Engine, delete
from sqlalchemy.dialects.mysql import insert

from clients import channels
from deploy.stack import auth
from servers.settings import Settings
from servers.storage.schema import campaign_kpis
from tests.fixtures.database import kpi_minute
from tests.integration import campaigns, envoy, served
from tests.polling import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def token(stack: Settings) -> str:
    return auth.mint_token(stack)


def _feedback(stack: Settings, request_id: str, click: int = 0, acquisition: int = 0) -> None:
    channels.feedback(stack).SubmitFeedback(
        feedback_service_pb2.SubmitFeedbackRequest(
            request_id=request_id, view=1, click=click, acquisition=acquisition
        ),
        timeout=10,
    )


def test_get_campaign_counts_delivery_from_recorded_feedback(stack: Settings, token: str) -> None:
    campaign = campaigns.create(stack)
    # Four served ads; the fourth gets no feedback, so it is not an impression in the bill.
    viewed, clicked, bought, _unanswered = served.serve(stack, campaign, count=4)
    _feedback(stack, viewed)
    _feedback(stack, clicked, click=1)
    _feedback(stack, bought, click=1, acquisition=1)

    stats = campaigns.get(stack, campaign.campaign_id).stats  # type: ignore[union-attr]
    assert (stats.impressions, stats.clicks, stats.acquisitions) == (3, 2, 1)
    assert stats.ctr == pytest.approx(2 / 3)

    counts = {"impressions": "3", "clicks": "2", "acquisitions": "1", "ctr": 2 / 3}

    def as_json() -> dict[str, Any]:
        reply = envoy.call(stack, "GET", f"/v1/campaigns/{campaign.campaign_id}", token=token)
        stats: dict[str, Any] = reply.json()["campaign"]["stats"]
        return stats

    # Counts are exact at once; reach (three users, one per ad) once the KPI stream added it.
    assert {name: value for name, value in as_json().items() if name != "unique_users"} == counts
    eventually(lambda: as_json() == counts | {"unique_users": "3"}, timeout=120, interval=1)


def test_a_campaign_without_feedback_has_zero_stats_in_lists(stack: Settings, token: str) -> None:
    category = f"Stats-{uuid.uuid4().hex[:8]}"
    campaign = campaigns.create(stack, category=category)
    reply = envoy.call(stack, "GET", f"/v1/campaigns?filter=category%3D{category}", token=token)
    assert reply.status == 200, reply.raw
    (listed,) = reply.json()["campaigns"]
    assert listed["campaign_id"] == campaign.campaign_id
    zero = {"impressions": "0", "clicks": "0", "acquisitions": "0", "ctr": 0, "unique_users": "0"}
    assert listed["stats"] == zero


def _pages(stack: Settings, category: str, order_by: str, page_size: int = 2) -> list[list[str]]:
    """_pages lists every page of a category's campaigns in order_by order, as campaign ids."""
    pages, token = [], ""
    while True:
        page = channels.campaigns(stack).ListCampaigns(
            campaign_service_pb2.ListCampaignsRequest(
                filter=f"category={category}",
                order_by=order_by,
                page_size=page_size,
                page_token=token,
            ),
            timeout=10,
        )
        pages.append([campaign.campaign_id for campaign in page.campaigns])
        token = page.next_page_token
        if not token:
            return pages


def _listed(stack: Settings, category: str, order_by: str, page_size: int = 2) -> list[str]:
    """_listed is every page of _pages run together."""
    return [id_ for page in _pages(stack, category, order_by, page_size) for id_ in page]


def test_order_by_sorts_across_pages_with_ties_broken_by_id(stack: Settings) -> None:
    category = f"Order-{uuid.uuid4().hex[:8]}"
    budgets = {"c": "300", "a": "100", "d": "200", "b": "200", "e": "50"}
    ids = {name: f"order-{category}-{name}" for name in budgets}
    for name, budget in budgets.items():
        campaigns.create(stack, campaign_id=ids[name], category=category, budget=budget)
    by_budget_desc = [ids[name] for name in ("c", "b", "d", "a", "e")]  # 200s tie: by id
    by_budget_asc = [ids[name] for name in ("e", "a", "b", "d", "c")]

    assert _pages(stack, category, "budget desc") == [
        by_budget_desc[:2],
        by_budget_desc[2:4],
        by_budget_desc[4:],
    ]
    assert _listed(stack, category, "budget", page_size=3) == by_budget_asc
    assert _listed(stack, category, "remaining_budget desc") == by_budget_desc
    assert _listed(stack, category, "") == sorted(ids.values())


def test_order_by_through_envoy_takes_a_percent_encoded_space(stack: Settings, token: str) -> None:
    category = f"Json-{uuid.uuid4().hex[:8]}"
    low = campaigns.create(stack, category=category, budget="10")
    high = campaigns.create(stack, category=category, budget="20")
    path = f"/v1/campaigns?filter=category%3D{category}&order_by=budget%20desc"
    reply = envoy.call(stack, "GET", path, token=token)
    assert reply.status == 200, reply.raw
    listed = [campaign["campaign_id"] for campaign in reply.json()["campaigns"]]
    assert listed == [high.campaign_id, low.campaign_id]


@pytest.mark.parametrize(
    ("query", "field"),
    [("order_by=impressions", "order_by"), ("order_by=spent%20sideways", "order_by")],
)
def test_a_bad_order_is_400_naming_it(stack: Settings, token: str, query: str, field: str) -> None:
    reply = envoy.call(stack, "GET", f"/v1/campaigns?{query}", token=token)
    assert reply.status == 400, reply.raw
    assert reply.json()["message"].startswith(f"{field}:")


def test_a_page_token_only_continues_its_own_order(stack: Settings) -> None:
    category = f"Token-{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        campaigns.create(stack, category=category)
    stub = channels.campaigns(stack)
    first = stub.ListCampaigns(
        campaign_service_pb2.ListCampaignsRequest(
            filter=f"category={category}", order_by="spent desc", page_size=1
        ),
        timeout=10,
    )
    assert first.next_page_token
    with pytest.raises(grpc.RpcError) as raised:
        stub.ListCampaigns(
            campaign_service_pb2.ListCampaignsRequest(
                filter=f"category={category}", page_size=1, page_token=first.next_page_token
            ),
            timeout=10,
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (raised.value.details() or "").startswith("page_token:")


def _minutes(campaign_id: str, *ages: int) -> list[dict[str, Any]]:
    """_minutes are KPI rows for minutes that began `ages` minutes ago, as the stream writes."""
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    return [kpi_minute(campaign_id, age, now) for age in ages]


@pytest.fixture
def kpi_campaign(stack: Settings, database: Engine) -> Iterator[str]:
    """kpi_campaign is a campaign with KPI minutes 90, 30 and 5 minutes old (another's too)."""
    campaign_id = campaigns.create(stack).campaign_id
    other = campaigns.create(stack).campaign_id
    rows = [*_minutes(campaign_id, 5, 90, 30), *_minutes(other, 10)]
    with database.begin() as connection:
        connection.execute(insert(campaign_kpis), rows)
    yield campaign_id
    with database.begin() as connection:
        connection.execute(
            delete(campaign_kpis).where(campaign_kpis.c.campaign_id.in_([campaign_id, other]))
        )


def test_kpis_are_the_windows_minutes_oldest_first(stack: Settings, kpi_campaign: str) -> None:
    stub = channels.campaigns(stack)
    hour = stub.GetCampaignKpis(
        campaign_service_pb2.GetCampaignKpisRequest(campaign_id=kpi_campaign), timeout=10
    )
    assert [point.impressions for point in hour.points] == [130, 105]  # 30 and 5 minutes ago
    newest = hour.points[-1]
    assert (newest.clicks, newest.acquisitions) == (7, 2)
    assert newest.spend == "0.006172839"  # exact decimal string, trailing zeros dropped
    assert newest.ecpm == "1.5"
    assert newest.ctr == pytest.approx(7 / 105)
    assert newest.conversion_rate == pytest.approx(2 / 7)
    age = datetime.now(UTC) - newest.minute.ToDatetime(tzinfo=UTC)
    assert timedelta(minutes=5) <= age < timedelta(minutes=7)

    longer = stub.GetCampaignKpis(
        campaign_service_pb2.GetCampaignKpisRequest(campaign_id=kpi_campaign, minutes=120),
        timeout=10,
    )
    assert [point.impressions for point in longer.points] == [190, 130, 105]


def test_kpis_through_envoy_need_the_token(stack: Settings, token: str, kpi_campaign: str) -> None:
    path = f"/v1/campaigns/{kpi_campaign}/kpis?minutes=15"
    assert envoy.call(stack, "GET", path).status == 401
    reply = envoy.call(stack, "GET", path, token=token)
    assert reply.status == 200, reply.raw
    (point,) = reply.json()["points"]
    assert point["impressions"] == "105"
    assert point["spend"] == "0.006172839"
    assert point["minute"].endswith("Z")


@pytest.mark.parametrize("minutes", [-1, 7 * 24 * 60 + 1])
def test_a_window_out_of_range_is_400_naming_minutes(
    stack: Settings, token: str, minutes: int
) -> None:
    campaign_id = campaigns.create(stack).campaign_id
    path = f"/v1/campaigns/{campaign_id}/kpis?minutes={minutes}"
    reply = envoy.call(stack, "GET", path, token=token)
    assert reply.status == 400, reply.raw
    assert reply.json()["message"].startswith("minutes:")


def test_kpis_of_an_unknown_campaign_are_404(stack: Settings, token: str) -> None:
    reply = envoy.call(stack, "GET", f"/v1/campaigns/{uuid.uuid4()}/kpis", token=token)
    assert reply.status == 404, reply.raw
    assert reply.json()["code"] == grpc.StatusCode.NOT_FOUND.value[0]
