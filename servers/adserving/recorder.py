"""Recorder: every served ad is durable in MySQL before its response leaves (docs/design.md rule 5).

Group commit: requests enqueue their ServedAd and wait; each batch (all that arrived, up to
MAX_BATCH, once its oldest ad has waited LINGER_SECONDS) is written by served.record in ONE
transaction in a writer thread, so MySQL sees a few large commits instead of one per request.
Each writer keeps its own connection (no pool checkout and ping per batch). The AdServer never
answers with an ad that is not recorded, and no request fails another:

- MySQL out of reach (refusals.blames_rows is false): the connection is dropped and every
  request of the batch fails with UNAVAILABLE, to be retried.
- MySQL hanging (frozen: a batch gets no answer until the 10 s read timeout): once the
  writer's batch has been in flight longer than batches.STALLED_AFTER, new requests are
  refused UNAVAILABLE at once, and a request waits at most batches.PATIENCE for its batch
  (then UNAVAILABLE), so devices hear 503 with a retry hint well inside Envoy's deadline.
  An ad whose request gave up may still be committed when MySQL resumes: an orphan row,
  harmless; an ad is never answered without its row.
- MySQL refusing a row (a value its column cannot hold, a duplicate request id): the batch is
  bisected (batches.py) so every other ad commits; only that request fails, with
  ServedAdRefusedError (INTERNAL: ad_request.parse lets no such value through, so it is our bug).

A served ad of a capped campaign comes with its Impression: the batch then adds its
impressions to frequency_counts (frequency.add) in the same transaction as its served ads, so
a count never runs ahead of or behind the ads it counts. A batch without one is the single
INSERT it always was.

find reads a served ad back by request id (AdServer.GetServedAd).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from servers.ads import served
from servers.adserving import frequency
from servers.adserving.frequency import Impression
from servers.batches import Batcher
from servers.errors import UnavailableError
from servers.storage.kept import KeptConnections
from servers.storage.refusals import blames_rows

log = logging.getLogger(__name__)

MAX_BATCH = 500
WRITERS = 1  # one transaction in flight per process: the next batch gathers meanwhile
LINGER_SECONDS = 0.001  # a batch waits up to this long to fill: fewer statements, commits


class ServedAdRefusedError(Exception):
    """ServedAdRefusedError says MySQL refused this served ad; the rest of its batch committed."""


class Recorder:
    """Recorder writes served ads by group commit; record returns once the ad is durable."""

    def __init__(
        self,
        engine: Engine,
        max_batch: int = MAX_BATCH,
        writers: int = WRITERS,
        linger: float = LINGER_SECONDS,
    ) -> None:
        self.engine = engine
        self._batches: Batcher[tuple[served.ServedAd, Impression | None], None] = Batcher(
            "served-ads",
            self._write,
            max_batch=max_batch,
            drainers=writers,
            linger=linger,
            blames_items=blames_rows,
        )
        # One connection a writer, in autocommit: a batch is one multi-row INSERT, hence one
        # transaction and one round trip, durable (innodb_flush_log_at_trx_commit=1) once
        # MySQL says OK.
        self._connections = KeptConnections(engine, autocommit=True)

    async def record(self, ad: served.ServedAd, impression: Impression | None = None) -> None:
        """record returns once ad (and its impression) is committed; else UnavailableError or
        ServedAdRefusedError."""
        try:
            await self._batches.submit((ad, impression))
        except Exception as error:
            if not blames_rows(error):
                raise
            reason = getattr(error, "orig", None) or error  # the driver's words, not the SQL
            log.error("served ad %s refused by MySQL: %s", ad.request_id, reason)
            raise ServedAdRefusedError(f"served ad {ad.request_id} was refused") from error

    def _write(self, items: list[tuple[served.ServedAd, Impression | None]]) -> list[None]:
        """_write commits one batch in one transaction (runs in a writer thread).

        A refused batch raises as it is, for the batcher to isolate the row at fault: the
        statement (or transaction) was rolled back and the connection is fine.
        """
        ads = [ad for ad, _ in items]
        impressions = [seen for _, seen in items if seen is not None]
        try:
            connection = self._connections.get()
            if impressions:
                _together(connection, ads, impressions)
            else:
                served.record(connection, ads)
        except Exception as error:
            if blames_rows(error):
                raise
            log.warning("served ads not recorded (%d in batch): %s", len(ads), error)
            self._connections.drop()
            if isinstance(error, SQLAlchemyError):
                raise UnavailableError("the served ad could not be recorded; retry") from None
            raise
        return [None] * len(ads)

    async def find(self, request_id: str) -> served.ServedAd | None:
        """find reads the served ad with this request id back; None when there is none."""
        return await asyncio.to_thread(self._find, request_id)

    def _find(self, request_id: str) -> served.ServedAd | None:
        """_find reads one served ad on a pooled connection (runs in a worker thread)."""
        try:
            with self.engine.connect() as connection:
                return served.find(connection, request_id)
        except SQLAlchemyError as error:
            log.warning("served ad %s not read: %s", request_id, error)
            raise UnavailableError("served ads are unavailable; retry") from None

    async def close(self) -> None:
        """close writes what is queued, stops the writers and closes their connections."""
        await self._batches.close()
        self._connections.close()


def _together(
    connection: Connection, ads: list[served.ServedAd], impressions: list[Impression]
) -> None:
    """_together writes served ads and their impressions in one transaction (autocommit off)."""
    connection.exec_driver_sql("START TRANSACTION")
    try:
        served.record(connection, ads)
        frequency.add(connection, impressions)
        connection.exec_driver_sql("COMMIT")
    except BaseException:
        with contextlib.suppress(SQLAlchemyError):  # gone: MySQL rolled back with it
            connection.exec_driver_sql("ROLLBACK")
        raise
