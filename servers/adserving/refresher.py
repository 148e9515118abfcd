"""Refresher: keeps the AdServer's AdIndex in step with the campaigns table (docs/design.md rule 8).

One full load at start, then every INTERVAL an incremental read of the rows whose updated_at
is at or after the previous read's start minus OVERLAP: concurrent transactions commit out
of updated_at order, so a short look back catches a row committed late; rows read twice are
recognised by their updated_at and skipped. A stopped or exhausted campaign therefore stops
serving within INTERVAL plus one read, and a new campaign starts within RENUMBER_SECONDS more:
both well under a second.

Every writer of the campaigns table (Ad Manager, pacer, charging) sets updated_at to the
time of its change: that is how the AdServer notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from servers.adserving.index import AdIndex, IndexedAd
from servers.campaigns import store
from servers.campaigns.pricing import Weights
from servers.errors import DomainError
from servers.storage.schema import campaigns, naive_utc

log = logging.getLogger(__name__)

INTERVAL = 0.2  # seconds between incremental reads
RENUMBER_SECONDS = 0.5  # at least this long between two builds of a new AdIndex
OVERLAP = timedelta(seconds=2)  # how far each read looks back for late commits
RETRY_SECONDS = 1.0  # after a failed read


class IndexRefresher:
    """IndexRefresher owns the current AdIndex: loads it, then applies changes as they land."""

    def __init__(
        self, engine: Engine, weights: Weights, tz: ZoneInfo, interval: float = INTERVAL
    ) -> None:
        self.engine = engine
        self.weights = weights
        self.tz = tz
        self.interval = interval
        self.loaded = threading.Event()  # set once the first full load is in the index
        self._loaded = asyncio.Event()
        self._ads: dict[str, IndexedAd] = {}
        self._versions: dict[str, datetime] = {}  # campaign id -> updated_at seen
        self._index = AdIndex((), tz, datetime.now(UTC))
        self._since: datetime | None = None  # next read: rows updated at or after this
        self._renumber = True  # the index misses campaigns, bids or targeting: build anew
        self._next_renumber = 0.0  # time.monotonic() from which the next build may start

    async def index(self) -> AdIndex:
        """index is the current AdIndex, once the first full load is done."""
        if not self.loaded.is_set():
            await self._loaded.wait()
        return self._index

    async def run(self, stopping: asyncio.Event) -> None:
        """run refreshes until stopping is set; a failed read is logged and retried."""
        while not stopping.is_set():
            pause = self.interval
            try:
                await self.refresh()
            except SQLAlchemyError as error:
                log.warning("campaigns unavailable, index kept as it is: %s", error)
                pause = RETRY_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), pause)

    async def refresh(self) -> int:
        """refresh reads what changed since the last read into the index; returns how many.

        A change of status or money applies in place at once. New campaigns and new bids or
        targeting need a new AdIndex; it is built off the event loop, at most once per
        RENUMBER_SECONDS, so a bulk load of campaigns does not keep both cores rebuilding.
        """
        changed = await asyncio.to_thread(self._read_changes)
        now = datetime.now(UTC)
        self._ads.update((ad.campaign_id, ad) for ad in changed)
        for ad in changed:
            if self.loaded.is_set() and self._index.fits(ad):
                self._index.replace(ad, now)
            else:
                self._renumber = True
        if self._renumber and time.monotonic() >= self._next_renumber:
            self._renumber = False
            ads = list(self._ads.values())
            self._index = await asyncio.to_thread(AdIndex, ads, self.tz, now)
            self._next_renumber = time.monotonic() + RENUMBER_SECONDS
            # The index is tens of thousands of long-lived objects: keep them out of the
            # cyclic garbage collector's full passes, which otherwise cost every request.
            gc.freeze()
        if not self.loaded.is_set():
            log.info("ad index loaded: %d campaigns", len(self._ads))
            self.loaded.set()
            self._loaded.set()
        return len(changed)

    def _read_changes(self) -> list[IndexedAd]:
        """_read_changes reads rows updated since the last read, skipping versions seen."""
        started = datetime.now(UTC)
        query = select(campaigns)
        if self._since is not None:
            query = query.where(campaigns.c.updated_at >= naive_utc(self._since))
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        changed = []
        for row in rows:
            campaign_id, updated_at = row["campaign_id"], row["updated_at"]
            if self._versions.get(campaign_id) == updated_at:
                continue  # read again inside the overlap: nothing new
            self._versions[campaign_id] = updated_at
            try:
                record = store.from_row(row)
                changed.append(IndexedAd.build(record.state, self.weights, self.tz))
            except (DomainError, ValueError, KeyError, TypeError) as error:
                # One unreadable row must not stop every other campaign from serving.
                log.error("campaign %s left out of the ad index: %s", campaign_id, error)
        self._since = started - OVERLAP
        return changed
