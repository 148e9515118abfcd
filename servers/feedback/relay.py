"""The outbox relay: publishes committed feedback events to user-feedback, then marks them.

Runs as a thread inside the FeedbackService. Each round claims a batch of pending events,
sends them through an idempotent acks=all producer keyed by campaign id, waits for every
delivery and only then marks them published in the same transaction. If Kafka is down the
round marks nothing and is retried after a pause: nothing is lost.

No event can hold back another: the events of a round that were delivered are marked even
when others were not (the producer refused one, say as too large, or its delivery failed),
and only those others stay pending, to be retried; the round's warning names the first.

As the door between the outbox and Kafka, the relay reports its transport: the events it
published and the outbox's lag (servers/metrics.py has the rule for what is recorded where).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from servers.feedback import metrics, outbox
from servers.messaging.publisher import producer_config

log = logging.getLogger(__name__)
BATCH = 500
# Published events are kept this long (for a look at what just went out), then pruned,
# PRUNE_BATCH at a time every PRUNE_EVERY seconds: short deletes, never a long lock.
RETENTION = timedelta(minutes=10)
PRUNE_EVERY = 30.0
PRUNE_BATCH = 5_000


class Relay:
    """Relay moves outbox events to Kafka, at least once, in commit order."""

    def __init__(self, engine: Engine, bootstrap_servers: str, topic: str) -> None:
        self.engine = engine
        self.topic = topic
        self.producer = Producer(
            producer_config(bootstrap_servers, "feedback-relay", **{"message.timeout.ms": 5000})
        )
        self.wake = threading.Event()

    def run(self, stopping: threading.Event) -> None:
        """run relays until stopping is set; a wake-up or 100 ms starts the next round."""
        pause = 0.1
        next_prune = time.monotonic()
        while not stopping.is_set():
            try:
                if time.monotonic() >= next_prune:
                    self.prune(datetime.now(UTC))
                    next_prune = time.monotonic() + PRUNE_EVERY
                moved = self.round()
                pause = 0.1
            except (OperationalError, RuntimeError) as error:
                log.warning("relay round failed, retrying: %s", error)
                moved = 0
                pause = min(pause * 2, 2.0)
            if moved < BATCH:
                self.wake.wait(pause)
                self.wake.clear()
        self.producer.flush(5)

    def prune(self, now: datetime) -> int:
        """prune deletes the events published before now - RETENTION; returns how many."""
        pruned = 0
        while True:
            with self.engine.begin() as connection:
                deleted = outbox.prune(connection, now - RETENTION, PRUNE_BATCH)
            pruned += deleted
            if deleted < PRUNE_BATCH:
                return pruned

    def round(self) -> int:
        """round publishes one batch of pending events; returns how many were published.

        Raises RuntimeError, once the delivered events are marked, if any were not delivered.
        """
        with self.engine.begin() as connection:
            pending = outbox.claim(connection, BATCH)
            if not pending:
                metrics.OUTBOX_LAG.set(0)
                return 0
            metrics.OUTBOX_LAG.set(outbox.lag_seconds(connection, datetime.now(UTC)))
            delivered: set[int] = set()
            failures: dict[int, str] = {}  # outbox id -> why it was not delivered

            def on_delivery(event_id: int) -> Callable[[KafkaError | None, Message], None]:
                def report(error: KafkaError | None, message: Message) -> None:
                    if error is None:
                        delivered.add(event_id)
                    else:
                        failures[event_id] = error.str()

                return report

            for event in pending:
                try:
                    self.producer.produce(
                        self.topic,
                        key=event.campaign_id.encode(),
                        value=event.event,
                        on_delivery=on_delivery(event.id),
                    )
                except (KafkaException, BufferError) as error:  # refused before sending
                    failures[event.id] = str(error)
            self.producer.flush(10)
            published = [event.id for event in pending if event.id in delivered]
            if published:
                outbox.mark_published(connection, published, datetime.now(UTC))
        metrics.OUTBOX_PUBLISHED.inc(len(published))
        missing = [event for event in pending if event.id not in delivered]
        if missing:  # they stay pending; the next round retries them, and only them
            first = missing[0]
            reason = failures.get(first.id, "no delivery report in time")
            raise RuntimeError(
                f"{len(missing)} of {len(pending)} events not delivered "
                f"(first: request {first.request_id}: {reason})"
            )
        return len(published)
