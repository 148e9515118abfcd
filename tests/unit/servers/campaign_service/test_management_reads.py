"""Tests for the CampaignService reads: a MySQL that hangs is refused, not waited on.

The database "hangs" as a real one can: another connection holds an exclusive lock, so the
read's query blocks on it until the lock is let go.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from servers.campaign_service.management import CampaignManagement
from servers.campaigns.instructions import CampaignState
from servers.campaigns.pricing import Weights
from servers.errors import UnavailableError
from tests.unit.servers.campaign_service.stand_ins import TOPIC, TZ, KeptPublisher

CAMPAIGN_ID = "8cf1b846-8f97-11f0-b7f6-0e087721c0e9"  # the conftest's valid campaign


def test_a_read_mysql_does_not_answer_is_refused_unavailable_in_time(
    tables: Engine,
    tables_path: Path,
    fields: Callable[..., dict[str, Any]],
    stored: Callable[[Mapping[str, object]], CampaignState],
) -> None:
    stored(fields())
    management = CampaignManagement(
        tables,
        KeptPublisher(),  # type: ignore[arg-type]
        TOPIC,
        Weights(),
        TZ,
        read_patience=0.1,
    )
    frozen = sqlite3.connect(tables_path)
    frozen.execute("BEGIN EXCLUSIVE")  # no one reads until it ends

    async def run() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(UnavailableError, match="retry"):
            await management.get(CAMPAIGN_ID)
        frozen.rollback()
        # the next read, MySQL back, succeeds
        assert (await management.get(CAMPAIGN_ID)).record.state.spec.campaign_id == CAMPAIGN_ID
        return loop.time() - started

    try:
        assert asyncio.run(run()) < 1.0
    finally:
        frozen.close()
