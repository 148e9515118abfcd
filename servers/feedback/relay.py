"""The outbox relay: publishes committed feedback events to user-feedback, then marks them.

Runs as a thread inside the FeedbackService. Each round claims a batch of pending events,
sends them through an idempotent acks=all producer keyed by campaign id, waits for every
delivery and only then marks them published in the same transaction. If Kafka is down the
transaction rolls back and the round is retried after a pause: nothing is lost.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from confluent_kafka import KafkaError, Message, Producer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from servers import metrics
from servers.feedback import outbox
from servers.messaging.publisher import producer_config

log = logging.getLogger(__name__)
BATCH = 500


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
        while not stopping.is_set():
            try:
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

    def round(self) -> int:
        """round publishes one batch of pending events; returns how many."""
        with self.engine.begin() as connection:
            pending = outbox.claim(connection, BATCH)
            if not pending:
                metrics.OUTBOX_LAG.set(0)
                return 0
            metrics.OUTBOX_LAG.set(outbox.lag_seconds(connection, datetime.now(UTC)))
            failures: list[str] = []

            def delivered(error: KafkaError | None, message: Message) -> None:
                if error is not None:
                    failures.append(error.str())

            for event in pending:
                self.producer.produce(
                    self.topic,
                    key=event.campaign_id.encode(),
                    value=event.event,
                    on_delivery=delivered,
                )
            undelivered = self.producer.flush(10)
            if undelivered or failures:
                raise RuntimeError(
                    f"{undelivered + len(failures)} events not delivered: {failures[:1]}"
                )
            outbox.mark_published(connection, [event.id for event in pending], datetime.now(UTC))
        metrics.OUTBOX_PUBLISHED.inc(len(pending))
        return len(pending)
