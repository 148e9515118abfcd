"""CampaignService's reads in this process, over campaigns and KPIs written straight to MySQL.

GetCampaign, ListCampaigns and GetCampaignKpis need no Kafka: what they answer is what the
campaign library reads from the tables, rendered by the servicer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
import pytest
from adplatform.v1 import campaign_service_pb2, campaign_service_pb2_grpc
from sqlalchemy import Engine, delete, insert

from servers.campaign_service.server import build
from servers.settings import Settings
from servers.storage.schema import campaign_kpis
from tests.fixtures.database import kpi_minute
from tests.integration.servicers import inprocess, stored

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(stack: Settings) -> Settings:
    """settings are the stack's, with this test's CampaignService on a free port."""
    return inprocess.settings_for(stack)


def _get(channel: grpc.Channel, campaign_id: str) -> campaign_service_pb2.GetCampaignResponse:
    stub = campaign_service_pb2_grpc.CampaignServiceStub(channel)
    request = campaign_service_pb2.GetCampaignRequest(campaign_id=campaign_id)
    return stub.GetCampaign(request, timeout=10)


def test_get_campaign_reads_the_stored_campaign_with_its_money(
    settings: Settings, database: Engine
) -> None:
    state = stored.campaign(database, settings, budget="700", cpc="0.00041", cpa="0.0542")

    campaign = inprocess.call(build, settings, lambda c: _get(c, state.spec.campaign_id)).campaign

    assert campaign.campaign_id == state.spec.campaign_id
    assert (campaign.text, campaign.category) == (state.spec.text, state.spec.category)
    assert campaign.target_country == state.spec.targeting.country
    assert (campaign.status, campaign.status_reason) == ("ACTIVE", "created by campaign manager")
    assert (campaign.budget, campaign.spent, campaign.remaining_budget) == ("700", "0", "700")
    assert (campaign.cpc, campaign.cpa) == ("0.00041", "0.0542")
    assert campaign.stats.impressions == 0


def test_get_campaign_of_an_unknown_id_is_not_found(settings: Settings) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        inprocess.call(build, settings, lambda c: _get(c, f"test-{uuid.uuid4()}"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_list_campaigns_pages_through_a_filter_in_order(
    settings: Settings, database: Engine
) -> None:
    category = f"servicers-{uuid.uuid4().hex[:12]}"  # only this test's campaigns have it
    ids = sorted(
        stored.campaign(database, settings, category=category).spec.campaign_id for _ in range(3)
    )

    def pages(channel: grpc.Channel) -> list[campaign_service_pb2.ListCampaignsResponse]:
        stub = campaign_service_pb2_grpc.CampaignServiceStub(channel)
        found, token = [], ""
        while True:
            request = campaign_service_pb2.ListCampaignsRequest(
                filter=f"category={category}", page_size=2, page_token=token
            )
            found.append(stub.ListCampaigns(request, timeout=10))
            token = found[-1].next_page_token
            if not token:
                return found

    got = inprocess.call(build, settings, pages)

    assert [[c.campaign_id for c in page.campaigns] for page in got] == [ids[:2], ids[2:]]
    assert {page.total_size for page in got} == {3}


@pytest.fixture
def kpi_campaign(settings: Settings, database: Engine) -> Iterator[str]:
    """kpi_campaign is a stored campaign with KPI minutes 90, 30 and 5 minutes old."""
    campaign_id = stored.campaign(database, settings).spec.campaign_id
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    with database.begin() as connection:
        rows = [kpi_minute(campaign_id, age, now) for age in (5, 90, 30)]
        connection.execute(insert(campaign_kpis), rows)
    yield campaign_id
    with database.begin() as connection:
        connection.execute(delete(campaign_kpis).where(campaign_kpis.c.campaign_id == campaign_id))


def test_get_campaign_kpis_are_the_windows_minutes_oldest_first(
    settings: Settings, kpi_campaign: str
) -> None:
    def kpis(channel: grpc.Channel) -> campaign_service_pb2.GetCampaignKpisResponse:
        stub = campaign_service_pb2_grpc.CampaignServiceStub(channel)
        request = campaign_service_pb2.GetCampaignKpisRequest(campaign_id=kpi_campaign, minutes=60)
        return stub.GetCampaignKpis(request, timeout=10)

    points = inprocess.call(build, settings, kpis).points

    now = datetime.now(UTC)
    ages = [round((now - p.minute.ToDatetime(UTC)).total_seconds() / 60) for p in points]
    assert [p.impressions for p in points] == [130, 105]  # 30 then 5 minutes old; not 90
    assert all(age in (30, 31, 5, 6) for age in ages), ages
    assert [p.clicks for p in points] == [7, 7]
