"""Every server exports Prometheus metrics on its own port, and they move with traffic."""

from __future__ import annotations

import pytest
from adplatform.v1 import feedback_service_pb2

from clients import channels
from deploy.stack import launcher, scrape
from deploy.stack.services import CampaignServer, FeedbackServer, GrpcService
from servers.settings import Settings
from tests.integration import campaigns, served
from tests.polling import eventually

pytestmark = pytest.mark.integration


def test_every_server_exports_metrics(stack: Settings) -> None:
    services = [p for p in launcher.all_parts(stack) if isinstance(p, GrpcService)]
    assert len(services) == 4
    for service in services:
        assert eventually(lambda s=service: scrape.scrape(s), timeout=10), service.name


def test_metrics_count_requests_charges_and_spend(stack: Settings) -> None:
    before = scrape.scrape(FeedbackServer(stack))
    assert before is not None
    campaign = campaigns.create(stack)
    (request_id,) = served.serve(stack, campaign, auction_cpa="0.05")
    channels.feedback(stack).SubmitFeedback(
        feedback_service_pb2.SubmitFeedbackRequest(
            request_id=request_id, view=1, click=1, acquisition=1
        ),
        timeout=10,
    )
    after = scrape.scrape(FeedbackServer(stack))
    assert after is not None
    assert after.requests == before.requests + 1
    assert after.extra["charges:acquisition"] == before.extra.get("charges:acquisition", 0) + 1
    assert after.extra["spend"] == pytest.approx(before.extra.get("spend", 0) + 0.05)
    campaign_metrics = scrape.scrape(CampaignServer(stack))
    assert campaign_metrics is not None and campaign_metrics.requests >= 2
