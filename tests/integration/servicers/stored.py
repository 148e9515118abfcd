"""Campaigns and served ads a servicer test writes straight into MySQL, as their owners would.

A campaign is stored through the campaign library (the state a Create leaves, saved by
servers.campaigns.store), a served ad through servers.ads.served: no CampaignService, Kafka
or Ad Manager in between. Each campaign targets a country of the test's own, so the stack's
AdServer never lets it win another test's auction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from servers.ads import served
from servers.campaigns import store
from servers.campaigns.instructions import CampaignState, apply
from servers.campaigns.model import Action, Instruction
from servers.campaigns.pricing import Weights
from servers.campaigns.validation import validate_spec
from servers.campaigns.wire import campaign_fields
from servers.settings import Settings
from tests.integration import campaigns
from tests.integration.served import served_ad


def country() -> str:
    """country is a place only the calling test's campaigns target."""
    return f"Servicerland-{uuid.uuid4().hex[:10]}"


def campaign(database: Engine, settings: Settings, **overrides: Any) -> CampaignState:
    """campaign stores a live campaign as the Ad Manager stores a new one; returns its state.

    Its fields are tests.integration.campaigns.live_campaign's, with overrides.
    """
    tz, now = ZoneInfo(settings.timezone), datetime.now(UTC)
    fields = {"target_country": country(), **overrides}
    spec = validate_spec(campaign_fields(campaigns.live_campaign(**fields)))
    state = apply(None, Instruction(Action.NEW, spec, sequence=1), now, tz).state
    weights = Weights.parse(settings.cpm_cpc_weight, settings.cpm_cpa_weight)
    with database.begin() as connection:
        store.save(connection, store.to_row(state, weights, tz, now))
    return state


def served_ads(database: Engine, state: CampaignState, count: int = 1, **fields: Any) -> list[str]:
    """served_ads records count ads the campaign won (fields overridden); their request ids."""
    ads = [served_ad(state.spec.campaign_id, user_id=f"user-{n}", **fields) for n in range(count)]
    with database.begin() as connection:
        served.record(connection, ads)
    return [ad.request_id for ad in ads]
