"""Hostile and careless campaign management, end to end: refused by field, never harmful.

Each test is one of the ways a campaign's books or campaign management itself could be
broken by a single request or record, checked on the real stack: the refusal (or the
canonical behaviour), the stored state, and that the Ad Manager goes on applying.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import grpc
import pytest
from adplatform.v1 import campaign_pb2, campaign_service_pb2, feedback_service_pb2
from confluent_kafka import Consumer, Producer, TopicPartition

from clients import channels
from deploy.stack import auth
from servers.settings import Settings
from tests.integration import campaigns, envoy, served

pytestmark = pytest.mark.integration


def _charge(stack: Settings, campaign: campaign_pb2.Campaign, amount: str) -> None:
    (request_id,) = served.serve(stack, campaign, auction_cpa=amount)
    channels.feedback(stack).SubmitFeedback(
        feedback_service_pb2.SubmitFeedbackRequest(
            request_id=request_id, view=1, click=1, acquisition=1
        ),
        timeout=10,
    )


def _create(stack: Settings, campaign: campaign_pb2.Campaign) -> campaign_pb2.Campaign:
    reply = channels.campaigns(stack).CreateCampaign(
        campaign_service_pb2.CreateCampaignRequest(campaign=campaign), timeout=10
    )
    return reply.campaign


def _refused(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as refused:
        call()
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    return refused.value


@pytest.fixture
def published(stack: Settings) -> Iterator[Callable[[], int]]:
    """published counts the records on campaign-instructions (the sum of its end offsets)."""
    consumer = Consumer({"bootstrap.servers": stack.bootstrap_servers, "group.id": "watermarks"})

    def total() -> int:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(stack.instructions_topic, p), 5)[1]
            for p in range(stack.topic_partitions)
        )

    try:
        yield total
    finally:
        consumer.close()


def test_a_padded_id_names_the_same_campaign_and_keeps_its_spend(stack: Settings) -> None:
    campaign = campaigns.create(stack)
    _charge(stack, campaign, "0.004")
    campaigns.wait_for(stack, campaign.campaign_id, spent="0.004")

    again = campaigns.live_campaign(campaign_id=f" {campaign.campaign_id}", budget="900")
    reply = _create(stack, again)
    assert reply.campaign_id == campaign.campaign_id
    stored = campaigns.wait_for(stack, campaign.campaign_id, budget="900")
    assert stored.spent == "0.004"
    assert stored.remaining_budget == "899.996"
    padded = campaign_service_pb2.GetCampaignRequest(campaign_id=f"{campaign.campaign_id} ")
    assert channels.campaigns(stack).GetCampaign(padded, timeout=5).campaign.spent == "0.004"


def test_ids_that_differ_in_case_are_two_campaigns(stack: Settings) -> None:
    lower = campaigns.create(stack, campaign_id=f"case-{uuid.uuid4().hex}")
    _charge(stack, lower, "0.002")
    campaigns.wait_for(stack, lower.campaign_id, spent="0.002")
    upper_id = lower.campaign_id.upper()
    assert campaigns.get(stack, upper_id) is None

    campaigns.create(stack, campaign_id=upper_id)
    assert campaigns.wait_for(stack, upper_id, status="ACTIVE").spent == "0"
    assert campaigns.get(stack, lower.campaign_id).spent == "0.002"  # type: ignore[union-attr]


def test_a_stop_reason_too_long_to_store_is_refused_and_a_short_one_stops(
    stack: Settings, published: Callable[[], int]
) -> None:
    campaign = campaigns.create(stack)
    stub = channels.campaigns(stack)
    stop = campaign_service_pb2.StopCampaignRequest
    before = published()
    refused = _refused(
        lambda: stub.StopCampaign(stop(campaign_id=campaign.campaign_id, reason="r" * 300))
    )
    assert "reason" in refused.details()
    assert published() == before  # nothing reached the Ad Manager

    reason = "x" * 200
    stub.StopCampaign(stop(campaign_id=campaign.campaign_id, reason=reason), timeout=10)
    stopped = campaigns.wait_for(stack, campaign.campaign_id, status="INACTIVE")
    assert stopped.status_reason.endswith(reason)


@pytest.mark.parametrize(
    ("date_range", "time_range", "field"),
    [
        (("0001-01-01", "2025-09-13"), ("0:00:00", "5:00:00"), "date_range.start"),
        (("2025-09-12", "9999-12-31"), ("5:00:00", "0:00:00"), "date_range.end"),
    ],
)
def test_dates_no_conversion_can_hold_are_refused_before_anything_is_published(
    stack: Settings,
    published: Callable[[], int],
    date_range: tuple[str, str],
    time_range: tuple[str, str],
    field: str,
) -> None:
    campaign = campaigns.live_campaign(
        date_range=campaign_pb2.DateRange(start=date_range[0], end=date_range[1]),
        time_range=campaign_pb2.TimeRange(start=time_range[0], end=time_range[1]),
    )
    before = published()
    refused = _refused(lambda: _create(stack, campaign))
    assert field in refused.details()
    assert published() == before
    assert campaigns.get(stack, campaign.campaign_id) is None


def test_read_only_fields_in_a_create_are_refused_by_name(stack: Settings) -> None:
    token = auth.mint_token(stack)
    body = json.loads(_as_json(campaigns.live_campaign()))
    for name, value in (("spent", "5"), ("status", "INACTIVE")):
        reply = envoy.call(stack, "POST", "/v1/campaigns", {**body, name: value}, token=token)
        assert reply.status == 400, reply.raw
        assert name in reply.raw.decode()
        assert campaigns.get(stack, body["campaign_id"]) is None


def test_poison_records_on_the_topic_are_set_aside_and_the_next_one_applied(
    stack: Settings,
) -> None:
    good = campaigns.live_campaign()
    key = good.campaign_id.encode()
    poison = [
        {"action": "New Campaign", "campaign_id": good.campaign_id, "date_range": "{[1]: 2}"},
        {"action": "New Campaign", "campaign_id": good.campaign_id, "text": "x\ud800"},
    ]
    producer = Producer({"bootstrap.servers": stack.bootstrap_servers, "acks": "all"})
    for document in poison:
        producer.produce(stack.instructions_topic, key=key, value=json.dumps(document).encode())
    nested = b'{"campaign_id": "' + key + b'", "a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    producer.produce(stack.instructions_topic, key=key, value=nested)
    # Keyed other than its id: would order the campaign on two partitions.
    stop = {"action": "Stop Campaign", **json.loads(_as_json(good))}
    producer.produce(stack.instructions_topic, key=key.upper(), value=json.dumps(stop).encode())
    from servers.campaigns.model import Action
    from servers.campaigns.wire import encode_instruction

    producer.produce(stack.instructions_topic, key=key, value=encode_instruction(Action.NEW, good))
    assert producer.flush(10) == 0
    stored = campaigns.wait_for(stack, good.campaign_id, timeout=20, status="ACTIVE")
    assert stored.text == good.text

    later = campaigns.create(stack)  # and the Ad Manager goes on applying
    assert later.status == "ACTIVE"


def _as_json(campaign: campaign_pb2.Campaign) -> str:
    from google.protobuf import json_format

    return json_format.MessageToJson(campaign, preserving_proto_field_name=True)
