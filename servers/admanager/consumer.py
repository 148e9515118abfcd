"""The Ad Manager's consumer loop: campaign-instructions in, campaigns table out.

At-least-once with idempotent apply: records are applied in partition order, each in its
own transaction, and offsets are committed only after the database commits. Partitions are
applied side by side (a campaign's records all share one partition, so its order holds),
which lets MySQL group the commits of concurrent transactions. A malformed
record goes to the dead-letter topic with the reason in its headers, and the loop carries on.
If MySQL is unreachable the loop waits and retries the same record: nothing is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from sqlalchemy.exc import OperationalError

from servers import metrics
from servers.admanager.applier import Applier
from servers.campaigns.wire import decode_instruction
from servers.errors import ValidationError
from servers.messaging.publisher import producer_config
from servers.settings import Settings

log = logging.getLogger(__name__)

GROUP_ID = "ad-manager"
BATCH = 500


def _offset(record: Message) -> int:
    """_offset is a consumed record's offset (always set on records from a poll)."""
    offset = record.offset()
    assert offset is not None
    return offset


class InstructionConsumer:
    """InstructionConsumer applies every instruction on the topic, in order, exactly once."""

    def __init__(self, settings: Settings, applier: Applier) -> None:
        self.settings = settings
        self.applier = applier
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "group.id": GROUP_ID,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 50,
                "session.timeout.ms": 10_000,
            }
        )
        self.dead_letters = Producer(producer_config(settings.bootstrap_servers, "ad-manager-dlq"))
        self.workers = ThreadPoolExecutor(settings.topic_partitions, "apply")

    def run(self, stopping: threading.Event, assigned: threading.Event) -> None:
        """run consumes until stopping is set; assigned is set once partitions are ours."""

        def on_assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            assigned.set()

        self.consumer.subscribe([self.settings.instructions_topic], on_assign=on_assign)
        try:
            while not stopping.is_set():
                records = self.consumer.consume(BATCH, timeout=0.2)
                if records:
                    self._process(records, stopping)
        finally:
            self.workers.shutdown()
            self.dead_letters.flush(10)
            self.consumer.close()

    def _process(self, records: list[Message], stopping: threading.Event) -> None:
        """_process applies a batch, partitions in parallel, and commits what it finished."""
        by_partition: dict[tuple[str, int], list[Message]] = defaultdict(list)
        for record in records:
            error = record.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", error)
                continue
            by_partition[(str(record.topic()), int(record.partition() or 0))].append(record)
        finished = self.workers.map(
            lambda batch: self._partition(batch, stopping), by_partition.values()
        )
        offsets = [
            TopicPartition(topic, partition, end)
            for (topic, partition), end in zip(by_partition, finished, strict=True)
            if end is not None
        ]
        if offsets:
            self.dead_letters.flush(10)
            self.consumer.commit(offsets=offsets, asynchronous=False)

    def _partition(self, records: list[Message], stopping: threading.Event) -> int | None:
        """_partition applies one partition's records in order; returns the offset to commit."""
        end = None
        for record in records:
            if not self._handle(record, stopping):
                break  # stopping while the database is down: resume here next time
            end = _offset(record) + 1
        return end

    def _handle(self, record: Message, stopping: threading.Event) -> bool:
        """_handle applies one record, dead-lettering it if malformed; False if interrupted."""
        delay = 0.2
        while not stopping.is_set():
            try:
                message = decode_instruction(record.value())
                applied = self.applier.apply(message, _offset(record))
                metrics.INSTRUCTIONS.labels("applied" if applied else "replay").inc()
                return True
            except ValidationError as error:
                metrics.INSTRUCTIONS.labels("dead_letter").inc()
                self._dead_letter(record, str(error))
                return True
            except OperationalError as error:
                log.warning("database unavailable, retrying offset %s: %s", record.offset(), error)
                stopping.wait(delay)
                delay = min(delay * 2, 5.0)
        return False

    def _dead_letter(self, record: Message, reason: str) -> None:
        """_dead_letter copies a malformed record to the dead-letter topic with its reason."""
        log.warning(
            "dead-lettered %s[%s]@%s: %s",
            record.topic(),
            record.partition(),
            record.offset(),
            reason,
        )
        headers: list[tuple[str, str | bytes | None]] = [
            ("reason", reason.encode()),
            ("source.topic", str(record.topic()).encode()),
            ("source.partition", str(record.partition()).encode()),
            ("source.offset", str(record.offset()).encode()),
            ("failed.at", str(time.time()).encode()),
        ]
        self.dead_letters.produce(
            self.settings.dead_letter_topic,
            key=record.key(),
            value=record.value(),
            headers=headers,
        )
        self.dead_letters.poll(0)
