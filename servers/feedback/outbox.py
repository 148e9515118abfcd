"""The feedback outbox: events committed with their charge, published to Kafka afterwards.

A charge and its event are written in one transaction, so an event can never be lost
between the database and Kafka: the relay publishes what is pending and marks it. Relays
claim rows with SKIP LOCKED, so several can run side by side without publishing a row twice
at the same time (a crash after publishing and before marking republishes; consumers
de-duplicate by request id). Published rows are pruned once they are older than the relay's
retention, so the outbox holds what waits plus a recent tail, never the whole history (the
feedback table keeps every charge).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from servers.storage.literals import insert_rendered, string_quoter, time_literal
from servers.storage.schema import feedback_outbox, naive_utc


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """PendingEvent is an outbox row waiting to be published."""

    id: int
    request_id: str
    campaign_id: str
    event: bytes


@dataclass(frozen=True, slots=True)
class NewEvent:
    """NewEvent is a charge's event to be written to the outbox with it."""

    request_id: str
    campaign_id: str
    event: bytes


def enqueue(connection: Connection, events: Sequence[NewEvent], now: datetime) -> None:
    """enqueue adds a batch's events to the outbox in one statement, in the caller's transaction.

    The VALUES are rendered here, as served.record does: the driver's generic per-value
    escaping costs more than the rest of enqueueing. Ids go through the driver's escaping
    (which follows the session's sql_mode); the event is hex, the time a fixed form.
    """
    if events:
        quote, created_at = string_quoter(connection), time_literal(now)
        values = ",".join(
            f"({quote(new.request_id)},{quote(new.campaign_id)},X'{new.event.hex()}',{created_at})"
            for new in events
        )
        insert_rendered(connection, _ENQUEUE_SQL + values)


_ENQUEUE_SQL = "INSERT INTO feedback_outbox (request_id, campaign_id, event, created_at) VALUES "


def claim(connection: Connection, limit: int) -> list[PendingEvent]:
    """claim locks up to limit pending events, oldest first, skipping rows another relay holds."""
    rows = connection.execute(
        select(
            feedback_outbox.c.id,
            feedback_outbox.c.request_id,
            feedback_outbox.c.campaign_id,
            feedback_outbox.c.event,
        )
        .where(feedback_outbox.c.published_at.is_(None))
        .order_by(feedback_outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [PendingEvent(row.id, row.request_id, row.campaign_id, bytes(row.event)) for row in rows]


def mark_published(connection: Connection, ids: Sequence[int], now: datetime) -> None:
    """mark_published records that the events are on Kafka."""
    connection.execute(
        update(feedback_outbox)
        .where(feedback_outbox.c.id.in_(ids))
        .values(published_at=naive_utc(now))
    )


def lag_seconds(connection: Connection, now: datetime) -> float:
    """lag_seconds is the age of the oldest unpublished event (0 when none waits)."""
    oldest = connection.execute(
        select(func.min(feedback_outbox.c.created_at)).where(
            feedback_outbox.c.published_at.is_(None)
        )
    ).scalar()
    if oldest is None:
        return 0.0
    age: float = (naive_utc(now) - oldest).total_seconds()
    return max(age, 0.0)


def prune(connection: Connection, published_before: datetime, limit: int) -> int:
    """prune deletes up to limit events published before published_before; returns how many.

    The range is read along the (published_at, id) index; a pending event is never touched.
    """
    result = connection.execute(
        delete(feedback_outbox)
        .where(
            feedback_outbox.c.published_at.is_not(None),
            feedback_outbox.c.published_at < naive_utc(published_before),
        )
        .with_dialect_options(mysql_limit=limit)
    )
    return int(result.rowcount)
