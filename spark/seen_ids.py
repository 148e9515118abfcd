"""The request ids the billing archive took in the last window: a keyed lookup, never a scan.

The outbox relay may publish an event twice (byte-identical, same request id). The writer
asks this index which of a batch's request ids it archived before, at the cost of the batch's
own keys: an SQLite database beside the checkpoint, one table per slice of the window (a
primary key per table), the slices older than the window dropped whole.

Each id is stored with the batch and the Kafka position that archived it, so a batch replayed
after a crash (same offsets, same rows) finds its own earlier attempt and takes the same rows
again: only another position with the same id is a duplicate. Within a batch the lowest
Kafka position of an id wins. Ids are kept at least ``window_seconds`` of the writer's time;
the billing sink checks anything that may be older against the archive itself
(spark/billing_sink.py), so the index bounds cost, not correctness.

No Spark here; the clock is the caller's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SLICES = 4  # the window is kept in this many slices of time (plus the one being filled)
# A batch removes at most this many expired ids, plus twice its own: eviction costs what
# the batches bring, never a pause for a whole slice.
EVICT_AT_LEAST = 10_000
CACHE_KIB = 256 * 1024  # SQLite's page cache: an hour at 1,000 ids/s stays in memory


@dataclass(frozen=True, slots=True)
class Seen:
    """Seen is one decoded record as the index sees it: its id and its Kafka position."""

    request_id: str
    partition: int
    offset: int


class SeenIds:
    """SeenIds remembers which batch and position archived each request id, for a window."""

    def __init__(self, path: Path, window_seconds: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.window = max(float(window_seconds), 1.0)
        self.slice = self.window / SLICES
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # one fsync a batch: the index outlives a crash
        self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS ids (request_id TEXT PRIMARY KEY, slice INTEGER NOT NULL, "
            "batch INTEGER NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL) "
            "WITHOUT ROWID"
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS ids_by_slice ON ids (slice)")

    def close(self) -> None:
        """close releases the database."""
        self.db.close()

    def duplicates(self, batch_id: int, records: Sequence[Seen], now: float) -> list[Seen]:
        """duplicates are the records whose id another position archived; the rest are noted.

        Call it once per batch attempt, before the batch is archived.
        """
        current = int(now // self.slice)
        ordered = sorted(records, key=lambda r: (r.partition, r.offset))
        first: dict[str, Seen] = {}
        found = [r for r in ordered if first.setdefault(r.request_id, r) is not r]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                "DELETE FROM ids WHERE request_id IN (SELECT request_id FROM ids "
                "WHERE slice < ? LIMIT ?)",
                (current - SLICES, EVICT_AT_LEAST + 2 * len(first)),
            )
            # Most ids are new: insert them all, and ask who holds an id only when some insert
            # was ignored (an id already known: a copy, or this batch's earlier attempt).
            before = self.db.total_changes
            self.db.executemany(
                "INSERT OR IGNORE INTO ids VALUES (?, ?, ?, ?, ?)",
                (
                    (r.request_id, current, batch_id, r.partition, r.offset)
                    for r in sorted(first.values(), key=lambda r: r.request_id)  # B-tree order
                ),
            )
            if self.db.total_changes - before < len(first):
                found += self._held_elsewhere(batch_id, list(first.values()))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return found

    def _held_elsewhere(self, batch_id: int, records: list[Seen]) -> list[Seen]:
        """_held_elsewhere are the records whose id the index holds for another position."""
        held: list[Seen] = []
        for start in range(0, len(records), 500):
            chunk = {r.request_id: r for r in records[start : start + 500]}
            marks = ", ".join("?" * len(chunk))
            for request_id, batch, partition, offset in self.db.execute(
                f"SELECT request_id, batch, partition, offset FROM ids "
                f"WHERE request_id IN ({marks})",
                list(chunk),
            ):
                record = chunk[request_id]
                if (batch, partition, offset) != (batch_id, record.partition, record.offset):
                    held.append(record)
        return held
