"""The feedback outbox is pruned once published, so it holds what waits and a recent tail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select

from servers.feedback import outbox
from servers.feedback.relay import RETENTION, Relay
from servers.settings import Settings
from servers.storage.schema import feedback_outbox, naive_utc

pytestmark = pytest.mark.integration


def _row(published_at: datetime | None) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "request_id": str(uuid.uuid4()),
        "campaign_id": "outbox-prune-test",
        "event": b"",
        "created_at": naive_utc(now),
        "published_at": None if published_at is None else naive_utc(published_at),
    }


def _present(database: Engine, request_ids: list[str]) -> set[str]:
    with database.connect() as connection:
        query = select(feedback_outbox.c.request_id).where(
            feedback_outbox.c.request_id.in_(request_ids)
        )
        return set(connection.execute(query).scalars())


def test_published_events_past_the_retention_are_pruned_and_no_others(
    stack: Settings, database: Engine
) -> None:
    now = datetime.now(UTC)
    old = [_row(now - RETENTION - timedelta(minutes=5)) for _ in range(3)]
    recent = _row(now - RETENTION / 2)
    with database.begin() as connection:
        connection.execute(insert(feedback_outbox), [*old, recent])

    relay = Relay(database, stack.bootstrap_servers, stack.feedback_topic)
    relay.prune(now)
    assert _present(database, [str(row["request_id"]) for row in [*old, recent]]) == {
        recent["request_id"]
    }

    # A pending event is never pruned, however old (checked unseen by the running relay:
    # the row is uncommitted, and rolled back after).
    pending = {**_row(None), "created_at": naive_utc(now - timedelta(days=1))}
    with database.connect() as connection, connection.begin() as transaction:
        connection.execute(insert(feedback_outbox), [pending])
        outbox.prune(connection, now + timedelta(days=1), 1_000_000)
        kept = connection.execute(
            select(feedback_outbox.c.id).where(
                feedback_outbox.c.request_id == pending["request_id"]
            )
        ).first()
        assert kept is not None
        transaction.rollback()
