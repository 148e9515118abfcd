"""Every server exports Prometheus metrics on its own port, and they move with traffic.

Each server exports only its own: the shared RPC metrics and its business's, so the rows of
`adplatform stack status` (scrape.parse) name only what the server itself does.
"""

from __future__ import annotations

import pytest
from adplatform.v1 import ad_server_pb2, feedback_service_pb2

from clients import channels
from deploy.stack import launcher, scrape
from deploy.stack.services import (
    AdManagerProcess,
    AdServerProcess,
    CampaignServer,
    FeedbackServer,
    GrpcService,
)
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


# OWN is each server's business figures as `stack status` names them (scrape.parse's keys).
OWN = {
    CampaignServer.name: (),
    AdServerProcess.name: ("auctions:",),
    FeedbackServer.name: ("charges:", "spend", "feedback_duplicates", "outbox_"),
    AdManagerProcess.name: ("instructions:",),
}


def test_each_server_shows_only_its_own_business_metrics(stack: Settings) -> None:
    campaign = campaigns.create(stack)  # an instruction the Ad Manager applies
    channels.ads(stack).ServeAd(ad_server_pb2.ServeAdRequest(user_id="metrics"), timeout=10)
    (request_id,) = served.serve(stack, campaign)
    channels.feedback(stack).SubmitFeedback(
        feedback_service_pb2.SubmitFeedbackRequest(request_id=request_id, view=1), timeout=10
    )
    services = [p for p in launcher.all_parts(stack) if isinstance(p, GrpcService)]
    assert sorted(service.name for service in services) == sorted(OWN)
    for service in services:
        seen = scrape.scrape(service)
        assert seen is not None, service.name
        foreign = [key for key in seen.extra if not key.startswith(OWN[service.name])]
        assert foreign == [], service.name
    for name, counted in [
        (AdServerProcess.name, ("auctions:filled", "auctions:no_fill")),
        (FeedbackServer.name, ("charges:view",)),
        (AdManagerProcess.name, ("instructions:applied",)),
    ]:
        (service,) = [s for s in services if s.name == name]
        seen = scrape.scrape(service)
        assert seen is not None, name
        assert sum(seen.extra.get(key, 0) for key in counted) >= 1, (name, seen)
