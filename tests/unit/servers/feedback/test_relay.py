"""Tests for servers.feedback.relay: no feedback event holds back another on its way to Kafka.

The outbox and the producer are fakes: the outbox hands out pending events and records what
is marked published; the producer refuses one event outright (too large) or fails another's
delivery, as librdkafka does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from servers.feedback import outbox as outbox_module
from servers.feedback.outbox import PendingEvent
from servers.feedback.relay import Relay

Report = Callable[[KafkaError | None, Any], None]


class FakeProducer:
    """FakeProducer delivers every event but those it is told to refuse or to fail."""

    def __init__(self, refuse: set[bytes], fail: set[bytes]) -> None:
        self.refuse, self.fail = refuse, fail
        self.queued: list[tuple[bytes, Report]] = []
        self.sent: list[bytes] = []

    def produce(self, topic: str, key: bytes, value: bytes, on_delivery: Report) -> None:
        if value in self.refuse:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self.queued.append((value, on_delivery))

    def flush(self, timeout: float) -> int:
        for value, report in self.queued:
            if value in self.fail:
                report(KafkaError(KafkaError._MSG_TIMED_OUT), None)
            else:
                self.sent.append(value)
                report(None, None)
        self.queued = []
        return 0


class FakeOutbox:
    """FakeOutbox holds pending events until they are marked published."""

    def __init__(self, count: int) -> None:
        self.pending = {
            number: PendingEvent(number, f"request-{number}", "c1", f"event-{number}".encode())
            for number in range(count)
        }

    def claim(self, connection: object, limit: int) -> list[PendingEvent]:
        return [self.pending[number] for number in sorted(self.pending)[:limit]]

    def mark_published(self, connection: object, ids: list[int], now: datetime) -> None:
        for number in ids:
            del self.pending[number]


class FakeEngine:
    @contextlib.contextmanager
    def begin(self) -> Iterator[object]:
        yield object()


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch) -> FakeOutbox:
    fake = FakeOutbox(10)
    monkeypatch.setattr(outbox_module, "claim", fake.claim)
    monkeypatch.setattr(outbox_module, "mark_published", fake.mark_published)
    monkeypatch.setattr(outbox_module, "lag_seconds", lambda connection, now: 0.0)
    return fake


def _relay(producer: FakeProducer) -> Relay:
    relay = Relay(FakeEngine(), "127.0.0.1:9", "user-feedback")  # type: ignore[arg-type]
    relay.producer = producer  # type: ignore[assignment]
    return relay


def test_the_delivered_events_are_published_though_others_were_not(outbox: FakeOutbox) -> None:
    producer = FakeProducer(refuse={b"event-3"}, fail={b"event-7"})
    relay = _relay(producer)
    with pytest.raises(RuntimeError, match=r"2 of 10 events not delivered.*request-3"):
        relay.round()
    assert sorted(outbox.pending) == [3, 7]  # only they wait for the next round
    assert len(producer.sent) == 8
    producer.refuse, producer.fail = set(), set()  # whatever stopped them has passed
    assert relay.round() == 2
    assert not outbox.pending


def test_a_round_with_kafka_down_marks_nothing(outbox: FakeOutbox) -> None:
    everything = {f"event-{number}".encode() for number in range(10)}
    with pytest.raises(RuntimeError, match="10 of 10"):
        _relay(FakeProducer(refuse=set(), fail=everything)).round()
    assert len(outbox.pending) == 10
