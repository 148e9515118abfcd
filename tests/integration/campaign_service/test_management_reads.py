"""Tests for the CampaignService reads: a MySQL that hangs is refused, not waited on.

The database "hangs" as a real one can: another session holds the campaigns table locked,
so the read's query waits on the lock until it is let go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from sqlalchemy import Engine, text

from servers.campaign_service.management import CampaignManagement
from servers.campaigns.instructions import CampaignState
from servers.campaigns.pricing import Weights
from servers.errors import UnavailableError
from tests.integration.campaign_service.kept import CAMPAIGN_ID, TOPIC, TZ, KeptPublisher


def test_a_read_mysql_does_not_answer_is_refused_unavailable_in_time(
    database: Engine,
    publisher: KeptPublisher,
    weights: Weights,
    fields: Callable[..., dict[str, Any]],
    stored: Callable[[Mapping[str, object]], CampaignState],
) -> None:
    stored(fields())
    management = CampaignManagement(database, publisher, TOPIC, weights, TZ, read_patience=0.1)

    async def run() -> float:
        loop = asyncio.get_running_loop()
        with database.connect() as frozen:
            frozen.execute(text("LOCK TABLES campaigns WRITE"))  # no one reads until it ends
            started = loop.time()
            try:
                with pytest.raises(UnavailableError, match="retry"):
                    await management.get(CAMPAIGN_ID)
            finally:
                frozen.execute(text("UNLOCK TABLES"))
        # the next read, MySQL back, succeeds
        assert (await management.get(CAMPAIGN_ID)).record.state.spec.campaign_id == CAMPAIGN_ID
        return loop.time() - started

    assert asyncio.run(run()) < 1.0
