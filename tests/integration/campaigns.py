"""Helpers for tests that need campaigns: valid fields, creation through the real pipeline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from adplatform.v1 import campaign_pb2, campaign_service_pb2

from clients import channels
from servers.settings import Settings
from tests.polling import eventually


def live_campaign(**overrides: Any) -> campaign_pb2.Campaign:
    """live_campaign is a valid untargeted campaign whose window is open now."""
    today = datetime.now(UTC).date()
    fields: dict[str, Any] = {
        "campaign_id": f"test-{uuid.uuid4()}",
        "text": "Meetrip 35L Lightweight Backpack",
        "category": "Sports & Fitness",
        "keywords": ["outdoor", "hiking"],
        "target_gender": "All",
        "target_age_range": campaign_pb2.AgeRange(start=0, end=0),
        "target_city": "All",
        "target_state": "All",
        "target_country": "India",
        "target_income_bucket": "All",
        "target_device": "All",
        "cpc": "0.00041",
        "cpa": "0.0542",
        "budget": "700",
        "date_range": campaign_pb2.DateRange(
            start=(today - timedelta(days=1)).isoformat(),
            end=(today + timedelta(days=1)).isoformat(),
        ),
        "time_range": campaign_pb2.TimeRange(start="0:00:00", end="0:00:00"),
    }
    fields.update(overrides)
    return campaign_pb2.Campaign(**fields)


def get(settings: Settings, campaign_id: str) -> campaign_pb2.Campaign | None:
    """get reads a campaign over gRPC, or None while it does not exist."""
    try:
        reply = channels.campaigns(settings).GetCampaign(
            campaign_service_pb2.GetCampaignRequest(campaign_id=campaign_id), timeout=5
        )
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return reply.campaign


def wait_for(
    settings: Settings, campaign_id: str, timeout: float = 10.0, **expected: str
) -> campaign_pb2.Campaign:
    """wait_for polls GetCampaign until the campaign exists with the expected field values."""

    def probe() -> campaign_pb2.Campaign | None:
        campaign = get(settings, campaign_id)
        if campaign is None:
            return None
        seen = {name: getattr(campaign, name) for name in expected}
        return campaign if seen == expected else None

    return eventually(probe, timeout=timeout)


def create(settings: Settings, **overrides: Any) -> campaign_pb2.Campaign:
    """create publishes a campaign through CampaignService and waits until it is ACTIVE."""
    campaign = live_campaign(**overrides)
    channels.campaigns(settings).CreateCampaign(
        campaign_service_pb2.CreateCampaignRequest(campaign=campaign), timeout=10
    )
    return wait_for(settings, campaign.campaign_id, status="ACTIVE")
