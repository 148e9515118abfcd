"""FeedbackService's SubmitFeedback in this process, on served ads the test records itself.

The servicer and the ledger under it charge a campaign once per served ad, cap the charge at
the budget and refuse an ad never served. Its outbox relay is left out: the stack's own relay
publishes what these charges record, so the billing archive still agrees with MySQL.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import grpc
import pytest
from adplatform.v1 import feedback_service_pb2, feedback_service_pb2_grpc
from sqlalchemy import Engine

from servers.feedback.server import build
from servers.settings import Settings
from tests.fixtures.database import feedback_count, money, status
from tests.integration.servicers import inprocess, stored

pytestmark = pytest.mark.integration

Reply = feedback_service_pb2.SubmitFeedbackResponse


@pytest.fixture
def settings(stack: Settings) -> Settings:
    """settings are the stack's, with this test's FeedbackService on a free port."""
    return inprocess.settings_for(stack)


def _submit(settings: Settings, *calls: tuple[str, int, int, int]) -> list[Reply]:
    """_submit sends each (request_id, view, click, acquisition) in turn to one server."""

    def send(channel: grpc.Channel) -> list[Reply]:
        stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
        return [
            stub.SubmitFeedback(
                feedback_service_pb2.SubmitFeedbackRequest(
                    request_id=request_id, view=view, click=click, acquisition=acquisition
                ),
                timeout=10,
            )
            for request_id, view, click, acquisition in calls
        ]

    return inprocess.call(build, settings, send, background=False)


def test_a_click_charges_the_auction_price_once_and_a_retry_is_a_duplicate(
    settings: Settings, database: Engine
) -> None:
    state = stored.campaign(database, settings, cpc="0.0004", cpa="0.05")
    (request_id,) = stored.served_ads(database, state, auction_cpc=Decimal("0.0003"))

    first, again = _submit(settings, (request_id, 1, 1, 0), (request_id, 1, 1, 1))

    assert (first.status, first.user_action, first.expenditure) == ("SUCCESS", "click", "0.0003")
    assert (first.request_id, first.campaign_id) == (request_id, state.spec.campaign_id)
    assert not first.duplicate
    assert again.duplicate  # a retry, even with other flags, answers the first result
    assert (again.user_action, again.expenditure) == ("click", "0.0003")
    assert money(database, state.spec.campaign_id).spent == Decimal("0.0003")
    assert feedback_count(database, [request_id]) == 1


def test_feedback_for_an_ad_never_served_is_not_found(settings: Settings, database: Engine) -> None:
    request_id = str(uuid.uuid4())
    with pytest.raises(grpc.RpcError) as raised:
        _submit(settings, (request_id, 1, 0, 0))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert feedback_count(database, [request_id]) == 0


def test_charges_stop_at_the_budget_and_exhaust_the_campaign(
    settings: Settings, database: Engine
) -> None:
    state = stored.campaign(database, settings, budget="0.1", cpa="0.04")
    request_ids = stored.served_ads(database, state, count=4, auction_cpa=Decimal("0.04"))

    replies = _submit(settings, *[(request_id, 1, 1, 1) for request_id in request_ids])

    charged = [Decimal(reply.expenditure) for reply in replies]
    assert charged == [Decimal("0.04"), Decimal("0.04"), Decimal("0.02"), Decimal(0)]
    assert money(database, state.spec.campaign_id).spent == Decimal("0.1")
    assert status(database, state.spec.campaign_id) == ("INACTIVE", "budget exhausted")
