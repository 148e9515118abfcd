"""Pacer: rolls each ACTIVE campaign's stored slot budget over at its slot boundaries (rule 7).

Runs inside the Ad Manager: once at start (so a restart catches up), then at the next slot
boundary of any campaign, and at least every MAX_WAIT so new campaigns are seen. A campaign
whose stored slot has ended gets slot budget = remaining budget / remaining slots
(pacing.rolled_slot, with the campaign's delivery controls), written in small transactions
under SELECT ... FOR UPDATE, so it never races a charge, which rolls the slot over itself
before drawing it down. Readers that find a stale slot roll it over the same way, so the
pacer being late is never wrong, only stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from servers.campaigns import store
from servers.campaigns.model import Status
from servers.campaigns.pacing import rolled_slot
from servers.campaigns.schedule import SLOT
from servers.storage.schema import aware_utc, campaigns, naive_utc

log = logging.getLogger(__name__)

BATCH = 100  # campaigns per transaction: short locks
MAX_WAIT = timedelta(seconds=30)
MIN_WAIT = timedelta(seconds=1)
RETRY_WAIT = timedelta(seconds=5)


def due(connection: Connection, now: datetime) -> list[str]:
    """due lists ACTIVE campaigns whose stored slot ended by now (and is not the window's end)."""
    query = select(campaigns.c.campaign_id).where(
        campaigns.c.status == str(Status.ACTIVE),
        campaigns.c.slot_start < campaigns.c.window_end,
        campaigns.c.slot_start <= naive_utc(now - SLOT),
    )
    return list(connection.execute(query).scalars())


def next_boundary(connection: Connection) -> datetime | None:
    """next_boundary is when the earliest stored slot of an ACTIVE campaign ends."""
    query = select(func.min(campaigns.c.slot_start)).where(
        campaigns.c.status == str(Status.ACTIVE),
        campaigns.c.slot_start < campaigns.c.window_end,
    )
    earliest = connection.execute(query).scalar()
    return None if earliest is None else aware_utc(earliest) + SLOT


def roll_over_batch(
    connection: Connection, campaign_ids: Sequence[str], now: datetime, tz: ZoneInfo
) -> int:
    """roll_over_batch locks the campaigns and writes fresh slot budgets; returns how many."""
    rows = connection.execute(
        select(campaigns).where(campaigns.c.campaign_id.in_(campaign_ids)).with_for_update()
    ).mappings()
    rolled = 0
    for row in rows:
        state = store.from_row(row).state
        if state.status is not Status.ACTIVE:
            continue  # stopped or exhausted since it was listed
        slot = rolled_slot(state, now, tz)
        if slot == state.slot:
            continue  # a charge rolled it over first
        connection.execute(
            campaigns.update()
            .where(campaigns.c.campaign_id == state.spec.campaign_id)
            .values(
                slot_start=naive_utc(slot.slot_start),
                slot_budget=slot.amount,
                updated_at=naive_utc(now),
            )
        )
        rolled += 1
    return rolled


class Pacer:
    """Pacer keeps the stored slot budgets of ACTIVE campaigns current."""

    def __init__(self, engine: Engine, tz: ZoneInfo) -> None:
        self.engine = engine
        self.tz = tz

    def pace(self, now: datetime) -> tuple[int, datetime | None]:
        """pace rolls over every slot that ended by now; returns how many and the next boundary."""
        with self.engine.connect() as connection:
            campaign_ids = due(connection, now)
        rolled = 0
        for first in range(0, len(campaign_ids), BATCH):
            with self.engine.begin() as connection:
                rolled += roll_over_batch(
                    connection, campaign_ids[first : first + BATCH], now, self.tz
                )
        with self.engine.connect() as connection:
            return rolled, next_boundary(connection)

    async def run(self, stopping: asyncio.Event) -> None:
        """run paces now and at every boundary until stopping is set (a background task)."""
        while not stopping.is_set():
            now = datetime.now(UTC)
            wait = MAX_WAIT
            try:
                rolled, boundary = await asyncio.to_thread(self.pace, now)
            except SQLAlchemyError as error:
                log.warning("pacing failed, retrying: %s", error)
                wait = RETRY_WAIT
            else:
                if rolled:
                    log.info("rolled %d slot budgets over", rolled)
                if boundary is not None:
                    wait = max(MIN_WAIT, min(MAX_WAIT, boundary - datetime.now(UTC)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), wait.total_seconds())
