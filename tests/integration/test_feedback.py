"""Feedback and charging through the real FeedbackService, MySQL, Kafka and Envoy."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import grpc
import pytest
from adplatform.v1 import events_pb2, feedback_service_pb2
from confluent_kafka import Consumer
from sqlalchemy import Engine

from clients import channels
from servers.settings import Settings
from tests.fixtures.database import feedback_count, money
from tests.integration import campaigns, envoy, served
from tests.polling import eventually

pytestmark = pytest.mark.integration


def _submit(stack: Settings, request_id: str, view: int = 1, click: int = 0, acquisition: int = 0):  # type: ignore[no-untyped-def]
    return channels.feedback(stack).SubmitFeedback(
        feedback_service_pb2.SubmitFeedbackRequest(
            request_id=request_id, view=view, click=click, acquisition=acquisition
        ),
        timeout=10,
    )


@pytest.mark.parametrize(
    ("flags", "action", "price"),
    [
        ((1, 0, 0), "view", "0"),
        ((1, 1, 0), "click", "0.0003"),
        ((1, 1, 1), "acquisition", "0.04"),
        ((0, 0, 1), "acquisition", "0.04"),
    ],
)
def test_each_action_charges_its_price(
    stack: Settings, database: Engine, flags: tuple[int, int, int], action: str, price: str
) -> None:
    campaign = campaigns.create(stack, cpc="0.0004", cpa="0.05")
    (request_id,) = served.serve(stack, campaign, auction_cpc="0.0003", auction_cpa="0.04")
    reply = _submit(stack, request_id, *flags)
    assert (reply.status, reply.user_action, reply.expenditure) == ("SUCCESS", action, price)
    assert (reply.request_id, reply.campaign_id, reply.duplicate) == (
        request_id,
        campaign.campaign_id,
        False,
    )
    assert money(database, campaign.campaign_id).spent == Decimal(price)


def test_compatibility_route_through_envoy(stack: Settings) -> None:
    campaign = campaigns.create(stack)
    (request_id,) = served.serve(stack, campaign, auction_cpc="0.0002")
    reply = envoy.call(
        stack, "POST", f"/ad/{request_id}/feedback", {"view": 1, "click": 1, "acquisition": 0}
    )
    assert reply.status == 200, reply.raw
    body = reply.json()
    assert body == {
        "status": "SUCCESS",
        "request_id": request_id,
        "campaign_id": campaign.campaign_id,
        "user_action": "click",
        "expenditure": "0.0002",
        "duplicate": False,
    }


def test_retry_returns_first_result_and_charges_nothing(stack: Settings, database: Engine) -> None:
    campaign = campaigns.create(stack)
    (request_id,) = served.serve(stack, campaign, auction_cpa="0.05")
    first = _submit(stack, request_id, 1, 1, 1)
    spent = money(database, campaign.campaign_id).spent
    again = _submit(stack, request_id, 1, 0, 0)  # a retry, even with other flags
    assert again.duplicate
    assert (again.user_action, again.expenditure) == (first.user_action, first.expenditure)
    assert money(database, campaign.campaign_id).spent == spent == Decimal("0.05")


def test_unknown_request_id_is_404(stack: Settings) -> None:
    reply = envoy.call(stack, "POST", "/v1/feedback", {"request_id": str(uuid.uuid4()), "view": 1})
    assert reply.status == 404
    assert reply.json()["code"] == grpc.StatusCode.NOT_FOUND.value[0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"view": 1, "click": 2, "acquisition": 0}, "click"),
        ({"view": -1, "click": 0, "acquisition": 0}, "view"),
        ({"view": 1, "click": 0, "acquisition": 7}, "acquisition"),
    ],
)
def test_bad_flags_are_400_and_nothing_written(
    stack: Settings, database: Engine, body: dict[str, int], field: str
) -> None:
    campaign = campaigns.create(stack)
    (request_id,) = served.serve(stack, campaign)
    reply = envoy.call(stack, "POST", f"/ad/{request_id}/feedback", body)
    assert reply.status == 400, reply.raw
    assert reply.json()["message"].startswith(field)
    assert feedback_count(database, [request_id]) == 0
    assert money(database, campaign.campaign_id).spent == 0


@pytest.mark.parametrize("raw", [b"{not json", b'{"view": "lots"}', b"[1, 2]"])
def test_malformed_body_is_400(stack: Settings, raw: bytes) -> None:
    import http.client

    connection = http.client.HTTPConnection(stack.host, stack.envoy_port, timeout=10)
    connection.request(
        "POST", "/ad/some-request/feedback", body=raw, headers={"content-type": "application/json"}
    )
    status = connection.getresponse().status
    connection.close()
    assert status == 400


def test_concurrent_submissions_of_one_request_charge_it_once(
    stack: Settings, database: Engine
) -> None:
    campaign = campaigns.create(stack)
    (request_id,) = served.serve(stack, campaign, auction_cpa="0.05")
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda _: _submit(stack, request_id, 1, 1, 1), range(16)))
    assert sum(1 for reply in replies if not reply.duplicate) == 1
    outcomes = {(reply.user_action, reply.expenditure) for reply in replies}
    assert outcomes == {("acquisition", "0.05")}
    assert money(database, campaign.campaign_id).spent == Decimal("0.05")
    assert feedback_count(database, [request_id]) == 1


def test_exhaustion_caps_the_charge_and_deactivates(stack: Settings) -> None:
    campaign = campaigns.create(stack, budget="0.1", cpa="0.04")
    request_ids = served.serve(stack, campaign, count=4, auction_cpa="0.04")
    charged = [Decimal(_submit(stack, rid, 1, 1, 1).expenditure) for rid in request_ids]
    assert charged == [Decimal("0.04"), Decimal("0.04"), Decimal("0.02"), Decimal(0)]
    stored = campaigns.wait_for(stack, campaign.campaign_id, status="INACTIVE")
    assert stored.status_reason == "budget exhausted"
    assert (stored.spent, stored.remaining_budget) == ("0.1", "0")


def test_concurrent_charges_never_pass_the_budget(stack: Settings, database: Engine) -> None:
    campaign = campaigns.create(stack, budget="3", cpa="0.05", cpc="0.0001")
    request_ids = served.serve(stack, campaign, count=200, auction_cpa="0.0217")
    with ThreadPoolExecutor(32) as pool:
        replies = list(pool.map(lambda rid: _submit(stack, rid, 1, 1, 1), request_ids))
    acknowledged = sum(Decimal(reply.expenditure) for reply in replies)
    spent = money(database, campaign.campaign_id).spent
    assert spent == acknowledged == Decimal(3)
    assert sum(1 for reply in replies if Decimal(reply.expenditure) == Decimal("0.0217")) == 138


def test_charged_feedback_reaches_kafka_as_recorded(stack: Settings) -> None:
    campaign = campaigns.create(stack, target_gender="F", target_city="Pune")
    request_ids = served.serve(stack, campaign, count=3, auction_cpc="0.0003", auction_cpa="0.04")
    flags = [(1, 0, 0), (1, 1, 0), (1, 1, 1)]
    acknowledged = {
        rid: _submit(stack, rid, *f).expenditure for rid, f in zip(request_ids, flags, strict=True)
    }
    consumer = Consumer(
        {
            "bootstrap.servers": stack.bootstrap_servers,
            "group.id": f"feedback-check-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([stack.feedback_topic])
    events: dict[str, events_pb2.FeedbackEvent] = {}
    try:

        def all_arrived() -> bool:
            for record in consumer.consume(100, timeout=0.5):
                if record.error() is None:
                    event = events_pb2.FeedbackEvent.FromString(record.value())
                    if event.request_id in acknowledged:
                        events[event.request_id] = event
            return len(events) == len(acknowledged)

        eventually(all_arrived, timeout=30)
    finally:
        consumer.close()
    for request_id, expenditure in acknowledged.items():
        event = events[request_id]
        assert event.expenditure == expenditure
        assert event.campaign_id == campaign.campaign_id
        assert event.target_gender == "F"
        assert event.target_location == "Pune, All, India"
        assert event.auction_cpa == "0.04"
    assert [events[r].user_action for r in request_ids] == ["view", "click", "acquisition"]
