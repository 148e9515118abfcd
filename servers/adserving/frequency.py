"""Frequency counts in MySQL: what each user was shown of each capped campaign, and since when.

Every AdServer worker and host reads and adds to the same `frequency_counts` rows, one per
user and capped campaign: the impressions of the cap's current period and that period's
start (servers/campaigns/frequency.py says which period and how a stored count counts).

- Reading: a request whose viewer is eligible for some capped campaign reads its user's rows
  before the auction. Concurrent requests' reads are batched (one SELECT ... IN per batch,
  batches.py), as profiles.py does, on a connection each reader thread keeps in autocommit
  (kept.py): every SELECT sees the latest committed counts, with no pool ping or rollback
  around it. MySQL out of reach fails the request UNAVAILABLE: a capped campaign is never
  served uncounted.
- Adding: the recorder adds a served ad's impression in the same transaction as its
  served-ad row (recorder.py), so a count and its ad commit or roll back together. The upsert
  starts the count over when the period moved on; rows are written in key order so two
  writers lock them in one order.

Ids are canonical and the user_id column is binary-collated, so rows match ids exactly.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import SQLAlchemyError

from servers.batches import Batcher
from servers.errors import UnavailableError
from servers.storage.kept import KeptConnections
from servers.storage.literals import insert_rendered, string_quoter, time_literal
from servers.storage.refusals import blames_rows
from servers.storage.schema import aware_utc, frequency_counts

log = logging.getLogger(__name__)

# Counts is a user's stored counts: campaign id -> (UTC start of the counted period, impressions).
Counts = dict[str, tuple[datetime, int]]
_COLUMNS = (
    frequency_counts.c.user_id,
    frequency_counts.c.campaign_id,
    frequency_counts.c.period_start,
    frequency_counts.c.impressions,
)


@dataclass(frozen=True, slots=True)
class Impression:
    """Impression is one served ad of a capped campaign, counted in the period it began."""

    user_id: str
    campaign_id: str
    period_start: datetime  # aware UTC


class FrequencyCounts:
    """FrequencyCounts reads users' stored counts, batching concurrent requests' reads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads: Batcher[str, Counts] = Batcher(
            "frequency-counts", self._read, blames_items=blames_rows
        )
        self._connections = KeptConnections(engine, autocommit=True)

    async def of(self, user_id: str) -> Counts:
        """of is the user's stored counts, read from MySQL now (never cached)."""
        return await self._reads.submit(user_id)

    def _read(self, user_ids: list[str]) -> list[Counts]:
        """_read reads a batch of users' counts in one query (runs in a worker thread)."""
        found: dict[str, Counts] = defaultdict(dict)
        query = select(*_COLUMNS).where(frequency_counts.c.user_id.in_(set(user_ids)))
        try:
            for row in self._connections.get().execute(query):
                found[row.user_id][row.campaign_id] = (aware_utc(row.period_start), row.impressions)
        except SQLAlchemyError as error:
            if blames_rows(error):
                raise
            log.warning("frequency counts unavailable: %s", error)
            self._connections.drop()
            raise UnavailableError("frequency counts are unavailable; retry") from None
        return [found.get(user_id, {}) for user_id in user_ids]

    async def close(self) -> None:
        """close finishes pending reads and closes the readers' connections."""
        await self._reads.close()
        self._connections.close()


# The count starts over when the period moved on, else grows. MariaDB runs the assignments
# left to right, so impressions is set while period_start still holds the stored period.
# An older period arriving late (a host whose clock lags) is counted in the newer one.
_UPSERT_SQL = (
    "INSERT INTO frequency_counts (user_id, campaign_id, period_start, impressions) VALUES {} "
    "ON DUPLICATE KEY UPDATE "
    "impressions = IF(VALUES(period_start) > period_start, VALUES(impressions), "
    "impressions + VALUES(impressions)), "
    "period_start = GREATEST(period_start, VALUES(period_start))"
)


def add(connection: Connection, impressions: Sequence[Impression]) -> None:
    """add counts a batch's impressions in one statement (the caller's transaction commits)."""
    if not impressions:
        return
    totals: dict[tuple[str, str], tuple[datetime, int]] = {}
    for seen in impressions:
        key = (seen.user_id, seen.campaign_id)
        start, count = totals.get(key, (seen.period_start, 0))
        if seen.period_start > start:
            start, count = seen.period_start, 0
        totals[key] = (start, count + 1)
    quote = string_quoter(connection)
    values = ",".join(
        f"({quote(user)},{quote(campaign)},{time_literal(start)},{count})"
        for (user, campaign), (start, count) in sorted(totals.items())
    )
    insert_rendered(connection, _UPSERT_SQL.format(values))
