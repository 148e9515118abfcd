"""Tests for servers.campaign_service.service: requests in, previews out, records on Kafka.

What the Ad Manager reads back from each published record (wire.decode_instruction, its
own decoder) is what the campaign manager sent: the campaign as sent, an update's mask and
only its named fields, a Stop's reason as resolved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from adplatform.v1 import campaign_pb2, campaign_service_pb2
from google.protobuf.field_mask_pb2 import FieldMask

from servers.campaign_service.management import QUEUED, CampaignManagement
from servers.campaign_service.service import CampaignService
from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import Action
from servers.campaigns.wire import campaign_fields, decode_instruction
from servers.errors import ValidationError
from tests.integration.campaign_service.kept import CAMPAIGN_ID, CATEGORY, TOPIC, TZ, KeptPublisher

Stored = Callable[[Mapping[str, object]], CampaignState]


def campaign(**overrides: Any) -> campaign_pb2.Campaign:
    """campaign is a valid Campaign message, the conftest's campaign, with some overridden."""
    fields: dict[str, Any] = {
        "campaign_id": CAMPAIGN_ID,
        "text": "Transmission Oil Cooler Assembly",
        "category": CATEGORY,
        "keywords": ["automotive", "oils", "fluids"],
        "target_gender": "F",
        "target_age_range": campaign_pb2.AgeRange(start=20, end=45),
        "target_country": "India",
        "target_income_bucket": "M",
        "cpc": "0.00066",
        "cpa": "0.0529",
        "budget": "500",
        "date_range": campaign_pb2.DateRange(start="2025-09-12", end="2025-09-13"),
        "time_range": campaign_pb2.TimeRange(start="5:00:00", end="18:00:00"),
    }
    return campaign_pb2.Campaign(**{**fields, **overrides})


@pytest.fixture
def service(management: CampaignManagement) -> CampaignService:
    """service is the servicer over the flow, as server.build wires it."""
    return CampaignService(management, TZ)


def test_create_publishes_the_campaign_as_sent_and_answers_the_queued_preview(
    service: CampaignService, publisher: KeptPublisher
) -> None:
    sent = campaign()
    request = campaign_service_pb2.CreateCampaignRequest(campaign=sent)
    answer = asyncio.run(service.CreateCampaign(request, None))  # type: ignore[arg-type]
    assert answer.campaign.status == "ACTIVE"
    assert answer.campaign.status_reason == f"{QUEUED}: created by campaign manager"
    assert answer.campaign.budget == "500"
    [(topic, key, value)] = publisher.sent
    message = decode_instruction(value, key.encode())
    assert (topic, key, message.action) == (TOPIC, CAMPAIGN_ID, Action.NEW)
    assert message.fields == campaign_fields(sent) and message.mask is None


def test_create_without_an_id_publishes_under_the_id_it_is_given(
    service: CampaignService, publisher: KeptPublisher
) -> None:
    request = campaign_service_pb2.CreateCampaignRequest(campaign=campaign(campaign_id=""))
    answer = asyncio.run(service.CreateCampaign(request, None))  # type: ignore[arg-type]
    [(_, key, value)] = publisher.sent
    assert key == answer.campaign.campaign_id != ""
    assert decode_instruction(value, key.encode()).campaign_id == key


def test_a_read_only_field_is_refused_before_anything_is_published(
    service: CampaignService, publisher: KeptPublisher
) -> None:
    request = campaign_service_pb2.CreateCampaignRequest(campaign=campaign(spent="0"))
    with pytest.raises(ValidationError, match=r"campaign\.spent"):
        asyncio.run(service.CreateCampaign(request, None))  # type: ignore[arg-type]
    assert publisher.sent == []


def test_an_update_publishes_its_mask_and_only_the_named_fields(
    service: CampaignService, publisher: KeptPublisher, stored: Stored, fields: Any
) -> None:
    stored(fields())
    request = campaign_service_pb2.UpdateCampaignRequest(
        campaign_id=CAMPAIGN_ID,
        campaign=campaign_pb2.Campaign(budget="900"),
        update_mask=FieldMask(paths=["budget"]),
    )
    answer = asyncio.run(service.UpdateCampaign(request, None))  # type: ignore[arg-type]
    assert answer.campaign.text == "Transmission Oil Cooler Assembly"  # kept from the store
    [(_, key, value)] = publisher.sent
    message = decode_instruction(value, key.encode())
    assert (message.action, message.mask) == (Action.UPDATE, ("budget",))
    assert message.fields["budget"] == "900" and message.fields["text"] == ""


def test_an_update_naming_another_campaign_in_its_body_is_refused(
    service: CampaignService, publisher: KeptPublisher
) -> None:
    request = campaign_service_pb2.UpdateCampaignRequest(
        campaign_id=CAMPAIGN_ID, campaign=campaign_pb2.Campaign(campaign_id="other", budget="9")
    )
    with pytest.raises(ValidationError, match=r"campaign\.campaign_id"):
        asyncio.run(service.UpdateCampaign(request, None))  # type: ignore[arg-type]
    assert publisher.sent == []


def test_a_stop_publishes_the_stored_id_and_the_reason_as_resolved(
    service: CampaignService, publisher: KeptPublisher, stored: Stored, fields: Any
) -> None:
    stored(fields())
    request = campaign_service_pb2.StopCampaignRequest(
        campaign_id=f" {CAMPAIGN_ID} ", reason=" season over  "
    )
    answer = asyncio.run(service.StopCampaign(request, None))  # type: ignore[arg-type]
    assert answer.campaign.status == "INACTIVE"
    [(_, key, value)] = publisher.sent
    message = decode_instruction(value, key.encode())
    assert (key, message.action, message.reason) == (CAMPAIGN_ID, Action.STOP, "season over")


def test_get_answers_the_stored_campaign_with_its_stats(
    service: CampaignService, stored: Stored, fields: Any
) -> None:
    stored(fields())
    request = campaign_service_pb2.GetCampaignRequest(campaign_id=CAMPAIGN_ID)
    answer = asyncio.run(service.GetCampaign(request, None))  # type: ignore[arg-type]
    assert answer.campaign.status_reason == "created by campaign manager"
    assert answer.campaign.HasField("stats") and answer.campaign.stats.impressions == 0
