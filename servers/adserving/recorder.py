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
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from servers.ads import served
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
        self._batches: Batcher[served.ServedAd, None] = Batcher(
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

    async def record(self, ad: served.ServedAd) -> None:
        """record returns once ad is committed; else UnavailableError or ServedAdRefusedError."""
        try:
            await self._batches.submit(ad)
        except Exception as error:
            if not blames_rows(error):
                raise
            reason = getattr(error, "orig", None) or error  # the driver's words, not the SQL
            log.error("served ad %s refused by MySQL: %s", ad.request_id, reason)
            raise ServedAdRefusedError(f"served ad {ad.request_id} was refused") from error

    def _write(self, ads: list[served.ServedAd]) -> list[None]:
        """_write commits one batch in one transaction (runs in a writer thread).

        A refused batch raises as it is, for the batcher to isolate the row at fault: the
        statement was rolled back and the connection is fine.
        """
        try:
            served.record(self._connections.get(), ads)
        except Exception as error:
            if blames_rows(error):
                raise
            log.warning("served ads not recorded (%d in batch): %s", len(ads), error)
            self._connections.drop()
            if isinstance(error, SQLAlchemyError):
                raise UnavailableError("the served ad could not be recorded; retry") from None
            raise
        return [None] * len(ads)

    async def close(self) -> None:
        """close writes what is queued, stops the writers and closes their connections."""
        await self._batches.close()
        self._connections.close()
