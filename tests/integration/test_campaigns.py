"""Campaign management end to end: CampaignService → Kafka → Ad Manager → MySQL."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import grpc
import pytest
from adplatform.v1 import campaign_pb2, campaign_service_pb2, feedback_service_pb2
from confluent_kafka import Consumer, Producer
from google.protobuf import field_mask_pb2

from clients import channels
from servers.settings import Settings
from tests.integration import campaigns, served
from tests.polling import eventually

pytestmark = pytest.mark.integration


def _spend(stack: Settings, campaign: campaign_pb2.Campaign, amount: str) -> None:
    """_spend charges amount to the campaign the way devices do: a served ad, an acquisition."""
    (request_id,) = served.serve(stack, campaign, auction_cpa=amount)
    reply = channels.feedback(stack).SubmitFeedback(
        feedback_service_pb2.SubmitFeedbackRequest(
            request_id=request_id, view=1, click=1, acquisition=1
        ),
        timeout=10,
    )
    assert reply.expenditure == amount


def test_create_is_active_within_two_seconds(stack: Settings) -> None:
    campaign = campaigns.live_campaign()
    started = time.monotonic()
    reply = channels.campaigns(stack).CreateCampaign(
        campaign_service_pb2.CreateCampaignRequest(campaign=campaign), timeout=10
    )
    assert reply.campaign.campaign_id == campaign.campaign_id
    stored = campaigns.wait_for(stack, campaign.campaign_id, timeout=2.0, status="ACTIVE")
    assert time.monotonic() - started < 2.0
    assert stored.budget == "700"
    assert stored.remaining_budget == "700"
    assert stored.spent == "0"
    # cpm = 0.0075 * cpc + 0.0005 * cpa
    assert Decimal(stored.cpm) == Decimal("0.0075") * Decimal("0.00041") + Decimal(
        "0.0005"
    ) * Decimal("0.0542")
    assert Decimal(stored.current_slot_budget) > 0


def test_create_without_id_assigns_one(stack: Settings) -> None:
    campaign = campaigns.live_campaign(campaign_id="")
    reply = channels.campaigns(stack).CreateCampaign(
        campaign_service_pb2.CreateCampaignRequest(campaign=campaign), timeout=10
    )
    assert uuid.UUID(reply.campaign.campaign_id)
    campaigns.wait_for(stack, reply.campaign.campaign_id, status="ACTIVE")


def test_update_keeps_spent_and_changes_remaining(stack: Settings) -> None:
    created = campaigns.create(stack, budget="700")
    _spend(stack, created, "123.5")
    channels.campaigns(stack).UpdateCampaign(
        campaign_service_pb2.UpdateCampaignRequest(
            campaign_id=created.campaign_id,
            campaign=campaign_pb2.Campaign(budget="900", cpc="0.0005"),
        ),
        timeout=10,
    )
    updated = campaigns.wait_for(stack, created.campaign_id, budget="900")
    assert updated.spent == "123.5"
    assert updated.remaining_budget == "776.5"
    assert updated.cpc == "0.0005"
    assert updated.text == created.text  # fields not named stay as they were
    assert updated.status == "ACTIVE"


def test_update_with_mask_replaces_only_named_fields(stack: Settings) -> None:
    created = campaigns.create(stack)
    channels.campaigns(stack).UpdateCampaign(
        campaign_service_pb2.UpdateCampaignRequest(
            campaign_id=created.campaign_id,
            campaign=campaign_pb2.Campaign(text="New copy", budget="1"),
            update_mask=field_mask_pb2.FieldMask(paths=["text"]),
        ),
        timeout=10,
    )
    updated = campaigns.wait_for(stack, created.campaign_id, text="New copy")
    assert updated.budget == created.budget


def test_stop_makes_inactive_with_reason(stack: Settings) -> None:
    created = campaigns.create(stack)
    channels.campaigns(stack).StopCampaign(
        campaign_service_pb2.StopCampaignRequest(
            campaign_id=created.campaign_id, reason="season over"
        ),
        timeout=10,
    )
    stopped = campaigns.wait_for(stack, created.campaign_id, status="INACTIVE")
    assert "season over" in stopped.status_reason


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cpc": "abc"}, "cpc"),
        ({"cpc": "-0.1"}, "cpc"),
        ({"budget": "0"}, "budget"),
        ({"target_gender": "X"}, "target_gender"),
        ({"target_age_range": campaign_pb2.AgeRange(start=40, end=20)}, "target_age_range"),
        (
            {"date_range": campaign_pb2.DateRange(start="2026-02-10", end="2026-02-01")},
            "date_range",
        ),
        ({"target_device": "Toaster"}, "target_device"),
        ({"text": ""}, "text"),
    ],
)
def test_bad_field_is_refused_and_nothing_published(
    stack: Settings, overrides: dict[str, object], field: str
) -> None:
    campaign = campaigns.live_campaign(**overrides)
    with pytest.raises(grpc.RpcError) as raised:
        channels.campaigns(stack).CreateCampaign(
            campaign_service_pb2.CreateCampaignRequest(campaign=campaign), timeout=10
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith(field)
    time.sleep(0)  # nothing to wait for: a refused campaign is never published
    assert campaigns.get(stack, campaign.campaign_id) is None


@pytest.mark.parametrize("call", ["GetCampaign", "StopCampaign", "UpdateCampaign"])
def test_unknown_id_is_not_found(stack: Settings, call: str) -> None:
    requests = {
        "GetCampaign": campaign_service_pb2.GetCampaignRequest(campaign_id="no-such-campaign"),
        "StopCampaign": campaign_service_pb2.StopCampaignRequest(campaign_id="no-such-campaign"),
        "UpdateCampaign": campaign_service_pb2.UpdateCampaignRequest(
            campaign_id="no-such-campaign", campaign=campaign_pb2.Campaign(budget="5")
        ),
    }
    with pytest.raises(grpc.RpcError) as raised:
        getattr(channels.campaigns(stack), call)(requests[call], timeout=10)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_list_filters_and_pages(stack: Settings) -> None:
    category = f"Category {uuid.uuid4().hex[:6]}"
    ids = sorted(campaigns.create(stack, category=category).campaign_id for _ in range(3))
    stub = channels.campaigns(stack)
    seen: list[str] = []
    token = ""
    while True:
        page = stub.ListCampaigns(
            campaign_service_pb2.ListCampaignsRequest(
                filter=f'category="{category}"', page_size=2, page_token=token
            ),
            timeout=10,
        )
        assert page.total_size == 3
        seen += [c.campaign_id for c in page.campaigns]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids


def test_malformed_instruction_is_dead_lettered_and_the_next_applied(stack: Settings) -> None:
    good = campaigns.live_campaign()
    key = good.campaign_id  # a record's key is its campaign's id, so both share a partition
    producer = Producer({"bootstrap.servers": stack.bootstrap_servers, "acks": "all"})
    producer.produce(stack.instructions_topic, key=key.encode(), value=b"\x08\xff\xff garbage")
    from servers.campaigns.model import Action
    from servers.campaigns.wire import encode_instruction

    producer.produce(
        stack.instructions_topic,
        key=key.encode(),  # after the broken record
        value=encode_instruction(Action.NEW, good),
    )
    assert producer.flush(10) == 0
    campaigns.wait_for(stack, good.campaign_id, status="ACTIVE")

    consumer = Consumer(
        {
            "bootstrap.servers": stack.bootstrap_servers,
            "group.id": f"dlq-check-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([stack.dead_letter_topic])
    try:

        def dead_letter() -> dict[str, bytes] | None:
            record = consumer.poll(0.5)
            if record is None or record.error() is not None or record.key() != key.encode():
                return None
            return dict(record.headers() or [])

        headers = eventually(dead_letter, timeout=20)
    finally:
        consumer.close()
    assert headers["reason"].startswith(b"value:")
    assert headers["source.topic"] == stack.instructions_topic.encode()
