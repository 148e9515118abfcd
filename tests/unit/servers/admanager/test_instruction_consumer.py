"""Tests for the Ad Manager's record handling: what is retried, what is set aside, and when.

The consumer loop itself runs against Kafka in the integration suite; here one record at a
time meets an applier that fails in each way there is, and a dead-letter producer that
confirms, refuses or never answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pymysql
import pytest
from sqlalchemy.exc import DataError, OperationalError

from servers.admanager.applier import Position
from servers.admanager.consumer import InstructionConsumer
from servers.campaigns.wire import Message
from servers.settings import Settings

GOOD = b'{"action": "Stop Campaign", "campaign_id": "abc"}'


@dataclass
class Record:
    """Record stands in for a consumed confluent_kafka Message."""

    value_bytes: bytes = GOOD
    key_bytes: bytes | None = b"abc"

    def value(self) -> bytes:
        return self.value_bytes

    def key(self) -> bytes | None:
        return self.key_bytes

    def topic(self) -> str:
        return "campaign-instructions"

    def partition(self) -> int:
        return 3

    def offset(self) -> int:
        return 41

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)


@dataclass
class Applier:
    """Applier fails with the next of its failures, then applies."""

    failures: list[Exception] = field(default_factory=list)
    applied: list[tuple[Message, Position]] = field(default_factory=list)

    def apply(self, message: Message, position: Position) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.applied.append((message, position))


@dataclass
class DeadLetters:
    """DeadLetters records what is produced; answer decides each delivery report."""

    answer: Callable[[int], str | None] = lambda attempt: None  # None: delivered
    produced: list[dict[str, Any]] = field(default_factory=list)
    pending: list[Callable[[], None]] = field(default_factory=list)

    def produce(self, topic: str, **record: Any) -> None:
        attempt = len(self.produced)
        self.produced.append({"topic": topic, **record})
        outcome = self.answer(attempt)
        if outcome == "silent":
            return
        error = None if outcome is None else KafkaFailure(outcome)
        self.pending.append(lambda: record["on_delivery"](error, None))

    def poll(self, timeout: float) -> int:
        served, self.pending = self.pending, []
        for report in served:
            report()
        return len(served)


@dataclass
class KafkaFailure:
    text: str

    def str(self) -> str:
        return self.text


def consumer(applier: Applier, dead_letters: DeadLetters) -> InstructionConsumer:
    built = InstructionConsumer.__new__(InstructionConsumer)  # no Kafka client needed here
    built.settings = Settings()
    built.applier = applier  # type: ignore[assignment]
    built.dead_letters = dead_letters  # type: ignore[assignment]
    return built


def operational(number: int) -> OperationalError:
    return OperationalError("UPDATE", {}, pymysql.err.OperationalError(number, "x"))


def test_a_good_record_is_applied_at_its_position() -> None:
    applier = Applier()
    assert consumer(applier, DeadLetters())._handle(Record(), threading.Event())  # type: ignore[arg-type]
    message, position = applier.applied[0]
    assert message.campaign_id == "abc"
    assert position == Position(offset=41, partition=3, timestamp_ms=1_700_000_000_000)


@pytest.mark.parametrize(
    ("record", "failure", "exception"),
    [
        (Record(b"\x08\xff\xff garbage"), None, "ValidationError"),
        (Record(key_bytes=b"ABC"), None, "ValidationError"),
        (Record(key_bytes=None), None, "ValidationError"),
        (Record(), DataError("UPDATE", {}, Exception(1406, "too long")), "DataError"),
        (Record(), OverflowError("date value out of range"), "OverflowError"),
        (Record(), RuntimeError("a bug"), "RuntimeError"),
        (Record(), operational(1366), "OperationalError"),
    ],
)
def test_any_failure_of_a_record_dead_letters_it_and_moves_on(
    record: Record, failure: Exception | None, exception: str
) -> None:
    applier = Applier([failure] if failure else [])
    dead_letters = DeadLetters()
    assert consumer(applier, dead_letters)._handle(record, threading.Event())  # type: ignore[arg-type]
    assert not applier.applied
    [letter] = dead_letters.produced
    headers = dict(letter["headers"])
    assert headers["exception"] == exception.encode()
    assert headers["source.offset"] == b"41"
    assert letter["value"] == record.value_bytes


def test_mysql_out_of_reach_retries_the_same_record_without_skipping() -> None:
    applier = Applier([operational(2013), operational(2003), operational(1205)])
    dead_letters = DeadLetters()
    assert consumer(applier, dead_letters)._handle(Record(), threading.Event())  # type: ignore[arg-type]
    assert len(applier.applied) == 1
    assert not dead_letters.produced


def test_a_dead_letter_is_confirmed_before_the_record_counts_as_handled() -> None:
    # Kafka refuses twice, then confirms: the record is handled only after the confirmation.
    dead_letters = DeadLetters(answer=lambda attempt: "broker down" if attempt < 2 else None)
    handled = consumer(Applier(), dead_letters)._handle(Record(b"junk"), threading.Event())  # type: ignore[arg-type]
    assert handled
    assert len(dead_letters.produced) == 3


def test_stopping_before_kafka_confirms_leaves_the_record_uncommitted() -> None:
    stopping = threading.Event()

    def never(attempt: int) -> str | None:
        stopping.set()  # the process is told to stop while Kafka is not answering
        return "broker down"

    dead_letters = DeadLetters(answer=never)
    assert not consumer(Applier(), dead_letters)._handle(Record(b"junk"), stopping)  # type: ignore[arg-type]
