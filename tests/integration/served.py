"""Served ads for feedback tests, written as the AdServer writes them (servers.ads.served)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from adplatform.v1 import campaign_pb2

from servers.ads.served import ServedAd, record
from servers.settings import Settings
from tests.fixtures.database import engine_of


def served_ad(campaign_id: str, **fields: Any) -> ServedAd:
    """served_ad is a served ad of campaign_id won now, with fields overridden."""
    now = datetime.now(UTC)
    ad = ServedAd(
        request_id=str(uuid.uuid4()),
        campaign_id=campaign_id,
        user_id="user-0",
        device_type="iPhone",
        city="Mumbai",
        state="Maharashtra",
        country="India",
        auction_cpm=Decimal("0.0000225"),
        auction_cpc=Decimal("0.001"),
        auction_cpa=Decimal("0.03"),
        bid_cpm=Decimal("0.0000225"),
        bidders=1,
        target_age_start=0,
        target_age_end=0,
        target_location="All, All, India",
        target_gender="All",
        target_income_bucket="All",
        target_device="All",
        campaign_start_time=now - timedelta(days=1),
        campaign_end_time=now + timedelta(days=1),
        served_at=now,
    )
    return dataclasses.replace(ad, **fields)


def serve(
    settings: Settings,
    campaign: campaign_pb2.Campaign,
    count: int = 1,
    auction_cpc: str | None = None,
    auction_cpa: str | None = None,
) -> list[str]:
    """serve records count ads of campaign won at the given prices; returns their request ids."""
    ads = [
        served_ad(
            campaign.campaign_id,
            user_id=f"user-{index}",
            auction_cpm=Decimal(campaign.cpm),
            auction_cpc=Decimal(auction_cpc or campaign.cpc),
            auction_cpa=Decimal(auction_cpa or campaign.cpa),
            bid_cpm=Decimal(campaign.cpm),
            target_age_start=campaign.target_age_range.start,
            target_age_end=campaign.target_age_range.end,
            target_location=", ".join(
                (campaign.target_city, campaign.target_state, campaign.target_country)
            ),
            target_gender=campaign.target_gender,
            target_income_bucket=campaign.target_income_bucket,
            target_device=campaign.target_device,
        )
        for index in range(count)
    ]
    with engine_of(settings).begin() as connection:
        record(connection, ads)
    return [ad.request_id for ad in ads]
