"""The Ad Manager's consumer loop: campaign-instructions in, campaigns table out.

At-least-once with idempotent apply: records are applied in partition order, each in its
own transaction, and offsets are committed only after the database commits. Partitions are
applied side by side (a campaign's records all share one partition, so its order holds),
which lets MySQL group the commits of concurrent transactions. A record that cannot be
applied, for whatever reason (malformed, invalid, refused by MySQL, a bug), goes to the
dead-letter topic with the reason and exception class in its headers, and once Kafka has
confirmed it the loop carries on past it. If MySQL is unreachable the loop waits and retries
the same record: nothing is skipped.

The consumer is the Ad Manager's door (a Kafka record in, a decoded instruction to the
applier): it counts only what it refuses, the dead letters, and the consumers it replaces;
what applying did is counted by the applier (servers/metrics.py has the rule).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from servers.admanager import metrics
from servers.admanager.applier import Applier, Position
from servers.admanager.membership import PATIENCE_SECONDS, Membership
from servers.campaigns.wire import decode_instruction
from servers.errors import ValidationError
from servers.messaging.publisher import producer_config
from servers.settings import Settings
from servers.storage.faults import is_transient

log = logging.getLogger(__name__)

BATCH = 500
DEAD_LETTER_TIMEOUT = 10.0  # seconds to wait for Kafka to confirm one dead letter
REASON_HEADER_BYTES = 1000


def _offset(record: Message) -> int:
    """_offset is a consumed record's offset (always set on records from a poll)."""
    offset = record.offset()
    assert offset is not None
    return offset


def _position(record: Message) -> Position:
    """_position is where a consumed record sits: offset, partition and record timestamp."""
    _, timestamp_ms = record.timestamp()
    return Position(_offset(record), int(record.partition() or 0), max(timestamp_ms, 0))


def consumer_config(settings: Settings) -> dict[str, object]:
    """consumer_config is the instruction consumer's librdkafka configuration."""
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": settings.instructions_group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "fetch.wait.max.ms": 50,
        "session.timeout.ms": 10_000,
    }


class InstructionConsumer:
    """InstructionConsumer applies every instruction on the topic, in order, exactly once."""

    def __init__(self, settings: Settings, applier: Applier) -> None:
        self.settings = settings
        self.applier = applier
        self.consumer = Consumer(consumer_config(settings))
        self.dead_letters = Producer(producer_config(settings.bootstrap_servers, "ad-manager-dlq"))
        self.workers = ThreadPoolExecutor(settings.topic_partitions, "apply")

    def run(self, stopping: threading.Event, assigned: threading.Event) -> None:
        """run consumes until stopping is set; assigned is set once partitions are ours.

        A consumer that has owned no partition for longer than the membership's patience is
        stuck outside its group (membership.py): it is closed and a fresh one takes its place,
        resuming from the committed offsets.
        """
        try:
            while not stopping.is_set():
                self._consume(stopping, assigned)
                if not stopping.is_set():
                    log.warning(
                        "the instruction consumer has owned no partition for more than %.0f s;"
                        " replacing it with a fresh one",
                        PATIENCE_SECONDS,
                    )
                    self.consumer.close()
                    self.consumer = self.new_consumer()
                    metrics.CONSUMER_REPLACEMENTS.inc()
        finally:
            self.workers.shutdown()
            self.dead_letters.flush(10)
            self.consumer.close()

    def new_consumer(self) -> Consumer:
        """new_consumer is a fresh consumer in the Ad Manager's group."""
        return Consumer(consumer_config(self.settings))

    def _consume(self, stopping: threading.Event, assigned: threading.Event) -> None:
        """_consume subscribes and applies records until told to stop or the consumer is stuck."""
        membership = Membership(unassigned_since=time.monotonic())

        def on_assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            membership.assigned(len(partitions), time.monotonic())
            assigned.set()

        def on_revoke(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            membership.revoked(time.monotonic())

        self.consumer.subscribe(
            [self.settings.instructions_topic],
            on_assign=on_assign,
            on_revoke=on_revoke,
            on_lost=on_revoke,
        )
        while not stopping.is_set() and not membership.stuck(time.monotonic()):
            records = self.consumer.consume(BATCH, timeout=0.2)
            if records:
                self._process(records, stopping)

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
            try:
                self.consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as error:
                # The group moved on (a rebalance, a session lost while Kafka was away): the
                # partitions' next owner replays these records, and applying is idempotent.
                log.warning("could not commit applied offsets, they will be replayed: %s", error)

    def _partition(self, records: list[Message], stopping: threading.Event) -> int | None:
        """_partition applies one partition's records in order; returns the offset to commit."""
        end = None
        for record in records:
            if not self._handle(record, stopping):
                break  # stopping while the database is down: resume here next time
            end = _offset(record) + 1
        return end

    def _handle(self, record: Message, stopping: threading.Event) -> bool:
        """_handle applies one record, dead-lettering it if it cannot be; False if interrupted.

        Two kinds of failure, kept apart on purpose: MySQL out of reach (is_transient) is
        retried on the same record, so nothing is skipped; anything else that goes wrong while
        decoding, validating or applying this record is this record's problem, and it goes to
        the dead-letter topic so the records behind it are applied.
        """
        delay = 0.2
        while not stopping.is_set():
            try:
                # A keyless record is refused too: without the key it lands on any partition.
                message = decode_instruction(record.value(), record.key() or b"")
                self.applier.apply(message, _position(record))
                return True
            except Exception as error:
                if is_transient(error):
                    log.warning(
                        "database unavailable, retrying offset %s: %s", record.offset(), error
                    )
                    stopping.wait(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                if not isinstance(error, ValidationError):
                    log.exception("instruction at offset %s cannot be applied", record.offset())
                return self._dead_letter(record, error, stopping)
        return False

    def _dead_letter(self, record: Message, error: Exception, stopping: threading.Event) -> bool:
        """_dead_letter copies a record to the dead-letter topic and waits until it is durable.

        Returns False if stopping before Kafka confirmed it: the record is not committed past,
        so it is dead-lettered again on the next run (a duplicate there, never a loss).
        """
        reason = str(error)
        log.warning(
            "dead-lettered %s[%s]@%s: %s: %s",
            record.topic(),
            record.partition(),
            record.offset(),
            type(error).__name__,
            reason,
        )
        headers: list[tuple[str, str | bytes | None]] = [
            ("reason", reason.encode(errors="replace")[:REASON_HEADER_BYTES]),
            ("exception", type(error).__name__.encode()),
            ("field", getattr(error, "field", "").encode(errors="replace")[:REASON_HEADER_BYTES]),
            ("source.topic", str(record.topic()).encode()),
            ("source.partition", str(record.partition()).encode()),
            ("source.offset", str(record.offset()).encode()),
            ("failed.at", str(time.time()).encode()),
        ]
        delay = 0.2
        while not stopping.is_set():
            failure = self._produce_confirmed(record, headers)
            if failure is None:
                metrics.INSTRUCTIONS.labels("dead_letter").inc()
                return True
            log.warning("dead-letter topic unavailable, retrying: %s", failure)
            stopping.wait(delay)
            delay = min(delay * 2, 5.0)
        return False

    def _produce_confirmed(
        self, record: Message, headers: list[tuple[str, str | bytes | None]]
    ) -> str | None:
        """_produce_confirmed sends one dead letter; None once Kafka acknowledged it."""
        delivered = threading.Event()
        failure: list[str] = []

        def on_delivery(error: KafkaError | None, _: Message) -> None:
            if error is not None:
                failure.append(error.str())
            delivered.set()

        try:
            self.dead_letters.produce(
                self.settings.dead_letter_topic,
                key=record.key(),
                value=record.value(),
                headers=headers,
                on_delivery=on_delivery,
            )
        except (BufferError, KafkaException) as refused:
            return str(refused)
        deadline = time.monotonic() + DEAD_LETTER_TIMEOUT
        while not delivered.is_set() and time.monotonic() < deadline:
            self.dead_letters.poll(0.1)
        if not delivered.is_set():
            return "not acknowledged in time"
        return failure[0] if failure else None
