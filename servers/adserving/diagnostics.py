"""Delivery counters: the AdServer's diagnostics per campaign and minute, added up in MySQL.

The serving path hands one sampled request in settings.diagnostics_sample_every to
DeliveryCounters.observe (a sampling.SampleSink). observe only adds to in-memory counters
per (campaign, minute): matched, frequency_capped, below_floor, entered, won, and the sum
of the clearing CPMs of the auctions the campaign entered and lost; and per minute the
requests sampled. It never blocks, never raises and never does I/O.

Every flush_seconds, `run` swaps the counters out (on the event loop, so no request ever
waits on a lock or on MySQL) and adds them to `delivery_stats` and `delivery_samples` by
additive upserts in one transaction, on a thread. Every worker and host adds to the same
rows, so a row is the platform's total for its minute. MySQL out of reach: the batch is
merged back into the counters and retried at the next flush; nothing is lost unless the
bound is reached. `close` flushes one last time. Now and then a flush also deletes rows
older than RETENTION, a bounded number at a time, so the tables stay a day long.

Bounds: at most MAX_CELLS (campaign, minute) cells are held. A sample whose cell is new when
the bound is reached is not counted for that campaign (adplatform_diagnostics_dropped_total
counts each), so a MySQL outage costs diagnostics, never the AdServer's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Connection, Engine, delete
from sqlalchemy.dialects.mysql import insert

from servers.adserving.sampling import DeliverySample
from servers.storage.schema import delivery_samples, delivery_stats, naive_utc

log = logging.getLogger(__name__)

MAX_CELLS = 50_000  # (campaign, minute) cells: ~1,000 campaigns for 50 minutes of outage
MIN_FLUSH_SECONDS = 0.2  # a smaller interval, 0 included, is taken as this
RETENTION = timedelta(days=1)  # rows older than this are deleted
PURGE_EVERY = timedelta(minutes=10)  # how often a flusher deletes old rows
PURGE_LIMIT = 10_000  # rows per DELETE, so a purge never holds locks for long
ROWS_PER_STATEMENT = 1_000  # rows per upsert statement inside a flush's transaction

DROPPED = Counter(
    "adplatform_diagnostics_dropped_total",
    "campaign counts of sampled requests not kept because the diagnostics counters were full",
)
FLUSH_FAILURES = Counter(
    "adplatform_diagnostics_flush_failures_total",
    "diagnostics flushes that MySQL failed (their counters are kept and retried)",
)

# A cell's counters, by index: matched, frequency_capped, below_floor, entered, won.
MATCHED, CAPPED, BELOW_FLOOR, ENTERED, WON = range(5)


@dataclass(slots=True)
class Cell:
    """Cell is one campaign's counters in one minute."""

    counts: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])
    outbid_clearing_cpm: Decimal = Decimal(0)  # sum of clearing CPMs of auctions lost


@dataclass(slots=True)
class Tally:
    """Tally is a set of counters: per minute, the requests sampled and each campaign's Cell."""

    requests: dict[datetime, int] = field(default_factory=dict)
    cells: dict[datetime, dict[str, Cell]] = field(default_factory=dict)
    size: int = 0  # how many cells

    def __bool__(self) -> bool:
        return bool(self.requests) or self.size > 0


def minute_of(at: datetime) -> datetime:
    """minute_of is the naive UTC minute holding the instant at (delivery_stats.minute)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.replace(second=0, microsecond=0)


class DeliveryCounters:
    """DeliveryCounters counts sampled requests in memory and adds them to MySQL every flush.

    engine is the AdServer's; flush_seconds is settings.diagnostics_flush_seconds (values
    below MIN_FLUSH_SECONDS, 0 included, are taken as MIN_FLUSH_SECONDS). Run `run` as one
    of the server's background tasks and `close` in its on_stop.
    """

    def __init__(
        self,
        engine: Engine,
        flush_seconds: float,
        *,
        max_cells: int = MAX_CELLS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.flush_seconds = max(float(flush_seconds), MIN_FLUSH_SECONDS)
        self.max_cells = max_cells
        self.clock = clock
        self._tally = Tally()
        self._lock = asyncio.Lock()  # one flush at a time (run's and close's)
        self._last_purge: datetime | None = None
        self._failing = False

    def observe(self, sample: DeliverySample) -> None:
        """observe adds one sampled request to the counters; it never blocks or raises."""
        try:
            self._observe(sample)
        except Exception:  # a bad sample costs its diagnostics, never the request
            log.exception("diagnostics sample not counted")

    def _observe(self, sample: DeliverySample) -> None:
        minute = minute_of(sample.at)
        tally = self._tally
        tally.requests[minute] = tally.requests.get(minute, 0) + 1
        cells = tally.cells.get(minute)
        if cells is None:
            cells = tally.cells[minute] = {}
        self._add(cells, sample.matched, MATCHED)
        self._add(cells, sample.frequency_capped, CAPPED)
        self._add(cells, sample.below_floor, BELOW_FLOOR)
        self._add(cells, sample.entered, ENTERED)
        if sample.winner is not None:
            self._add(cells, (sample.winner,), WON)
        clearing = sample.clearing_cpm
        if sample.winner is not None and clearing is not None and clearing > 0:
            for campaign_id in sample.entered:
                if campaign_id != sample.winner:
                    cell = cells.get(campaign_id)
                    if cell is not None:  # None: dropped at the bound just now
                        cell.outbid_clearing_cpm += clearing

    def _add(self, cells: dict[str, Cell], campaign_ids: Iterable[str], index: int) -> None:
        """_add counts one for each campaign at index, creating cells within the bound."""
        tally = self._tally
        for campaign_id in campaign_ids:
            cell = cells.get(campaign_id)
            if cell is None:
                if tally.size >= self.max_cells:
                    DROPPED.inc()
                    continue
                cell = cells[campaign_id] = Cell()
                tally.size += 1
            cell.counts[index] += 1

    def take(self) -> Tally:
        """take swaps the counters out for empty ones and returns what they held."""
        taken, self._tally = self._tally, Tally()
        return taken

    def give_back(self, taken: Tally) -> None:
        """give_back merges counters a flush could not write back in, within the bound."""
        tally = self._tally
        for minute, requests in taken.requests.items():
            tally.requests[minute] = tally.requests.get(minute, 0) + requests
        for minute, cells in taken.cells.items():
            mine = tally.cells.setdefault(minute, {})
            for campaign_id, cell in cells.items():
                kept = mine.get(campaign_id)
                if kept is None:
                    if tally.size >= self.max_cells:
                        DROPPED.inc()
                        continue
                    mine[campaign_id] = cell
                    tally.size += 1
                    continue
                for index, count in enumerate(cell.counts):
                    kept.counts[index] += count
                kept.outbid_clearing_cpm += cell.outbid_clearing_cpm

    async def run(self, stopping: asyncio.Event) -> None:
        """run flushes every flush_seconds until stopping is set (close flushes the rest)."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.flush_seconds)
            if not stopping.is_set():
                await self.flush()

    async def flush(self) -> bool:
        """flush adds the counters to MySQL; on failure they are kept for the next flush.

        Returns whether everything taken was written. Never raises (but for cancellation).
        """
        async with self._lock:
            taken = self.take()
            now = self.clock()
            purge = self._last_purge is None or now - self._last_purge >= PURGE_EVERY
            if not taken and not purge:
                return True
            try:
                await asyncio.to_thread(self._write, taken, now if purge else None)
            except Exception as error:
                FLUSH_FAILURES.inc()
                if not self._failing:
                    log.warning("diagnostics counters not flushed, kept for retry: %s", error)
                self._failing = True
                self.give_back(taken)
                return False
            if self._failing:
                log.info("diagnostics counters flushed again")
            self._failing = False
            if purge:
                self._last_purge = now
            return True

    def _write(self, taken: Tally, purge_at: datetime | None) -> None:
        """_write adds taken to MySQL in one transaction, and deletes old rows if purge_at."""
        with self.engine.begin() as connection:
            add(connection, taken)
            if purge_at is not None:
                purge(connection, purge_at - RETENTION)

    async def close(self) -> None:
        """close flushes what is counted one last time."""
        await self.flush()


def _stats_rows(tally: Tally) -> list[dict[str, Any]]:
    """_stats_rows are tally's cells as delivery_stats rows."""
    return [
        {
            "campaign_id": campaign_id,
            "minute": minute,
            "matched": cell.counts[MATCHED],
            "frequency_capped": cell.counts[CAPPED],
            "below_floor": cell.counts[BELOW_FLOOR],
            "entered": cell.counts[ENTERED],
            "won": cell.counts[WON],
            "outbid_clearing_cpm": cell.outbid_clearing_cpm,
        }
        for minute, cells in tally.cells.items()
        for campaign_id, cell in cells.items()
    ]


def _additive_upsert(table: Any, counted: Iterable[str]) -> Any:
    """_additive_upsert is INSERT ... ON DUPLICATE KEY UPDATE c = c + VALUES(c) over counted."""
    statement = insert(table)
    return statement.on_duplicate_key_update(
        {name: table.c[name] + statement.inserted[name] for name in counted}
    )


_STATS_UPSERT = _additive_upsert(
    delivery_stats,
    ("matched", "frequency_capped", "below_floor", "entered", "won", "outbid_clearing_cpm"),
)
_SAMPLES_UPSERT = _additive_upsert(delivery_samples, ("requests",))


def add(connection: Connection, tally: Tally) -> None:
    """add adds a tally's counters to delivery_stats and delivery_samples (caller commits).

    Rows go in key order, so two servers flushing overlapping rows lock them in the same
    order and never deadlock.
    """
    rows = sorted(_stats_rows(tally), key=lambda row: (row["campaign_id"], row["minute"]))
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        connection.execute(_STATS_UPSERT, rows[start : start + ROWS_PER_STATEMENT])
    samples = [
        {"minute": minute, "requests": requests}
        for minute, requests in sorted(tally.requests.items())
    ]
    if samples:
        connection.execute(_SAMPLES_UPSERT, samples)


def purge(connection: Connection, before: datetime) -> None:
    """purge deletes up to PURGE_LIMIT rows of each table older than before (caller commits)."""
    cutoff = naive_utc(before)
    connection.execute(
        delete(delivery_stats)
        .where(delivery_stats.c.minute < cutoff)
        .with_dialect_options(mysql_limit=PURGE_LIMIT)
    )
    connection.execute(
        delete(delivery_samples)
        .where(delivery_samples.c.minute < cutoff)
        .with_dialect_options(mysql_limit=PURGE_LIMIT)
    )
