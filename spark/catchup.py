"""Waiting for the archive to catch up: nothing left in the outbox, nothing left on Kafka.

The FeedbackService's outbox relay publishes every charge to user-feedback, and the writer
archives user-feedback into Hive; Hive holds every charge MySQL holds once both are empty.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select

from servers.settings import Settings
from servers.storage.db import engine
from servers.storage.schema import feedback_outbox
from spark import status


@dataclass(frozen=True)
class CatchUp:
    """CatchUp is where the pipeline stood when the wait ended."""

    caught_up: bool
    outbox_waiting: int | None  # None: MySQL did not answer
    kafka_lag: int | None  # None: Kafka did not answer
    waited_seconds: float


def outbox_waiting(settings: Settings) -> int:
    """outbox_waiting counts charged feedback not yet published to Kafka."""
    database = engine(settings.database_url, pool_size=1)
    try:
        with database.connect() as connection:
            pending = connection.execute(
                select(func.count())
                .select_from(feedback_outbox)
                .where(feedback_outbox.c.published_at.is_(None))
            ).scalar_one()
    finally:
        database.dispose()
    return int(pending)


def probe(settings: Settings) -> tuple[int | None, int | None]:
    """probe reads the outbox backlog and the writer's Kafka lag (None where unreachable)."""
    try:
        waiting: int | None = outbox_waiting(settings)
    except Exception:
        waiting = None
    try:
        behind: int | None = status.lag(settings).records
    except Exception:
        behind = None
    return waiting, behind


def wait(settings: Settings, timeout: float, interval: float = 0.5) -> CatchUp:
    """wait polls until the outbox is empty and the writer has no lag, or timeout seconds pass."""
    started = time.monotonic()
    while True:
        waiting, behind = probe(settings)
        elapsed = time.monotonic() - started
        if waiting == 0 and behind == 0:
            return CatchUp(True, waiting, behind, elapsed)
        if elapsed >= timeout:
            return CatchUp(False, waiting, behind, elapsed)
        time.sleep(interval)
