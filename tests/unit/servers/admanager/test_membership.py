"""A consumer that owns no partition for longer than the patience is stuck, and the Ad Manager
replaces it with a fresh one; a rebalance inside the patience is not."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from servers.admanager import consumer as consumer_module
from servers.admanager.consumer import InstructionConsumer
from servers.admanager.membership import Membership
from servers.settings import Settings


def test_a_rebalance_within_the_patience_is_not_stuck() -> None:
    membership = Membership(unassigned_since=0.0, patience=60)
    membership.assigned(3, now=5)
    membership.revoked(now=100)
    assert not membership.stuck(now=150)
    membership.assigned(3, now=155)
    assert not membership.stuck(now=1_000)


def test_owning_nothing_past_the_patience_is_stuck() -> None:
    membership = Membership(unassigned_since=0.0, patience=60)
    membership.assigned(3, now=5)
    membership.revoked(now=100)
    membership.revoked(now=130)  # a second revoke does not restart the clock
    assert not membership.stuck(now=160)
    assert membership.stuck(now=161)


def test_an_empty_assignment_counts_as_owning_nothing() -> None:
    membership = Membership(unassigned_since=None, patience=60)
    membership.assigned(0, now=10)
    assert membership.stuck(now=71)


def test_never_assigned_at_start_is_stuck_after_the_patience() -> None:
    membership = Membership(unassigned_since=0.0, patience=60)
    assert not membership.stuck(now=60)
    assert membership.stuck(now=60.5)


class SilentConsumer:
    """SilentConsumer subscribes and then never gets a partition, as a stuck one does."""

    def __init__(self) -> None:
        self.closed = False

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.callbacks = callbacks

    def consume(self, count: int, timeout: float) -> list[object]:
        return []

    def close(self) -> None:
        self.closed = True


class AssignedConsumer(SilentConsumer):
    """AssignedConsumer is given its partitions, then the loop is told to stop."""

    def __init__(self, stopping: threading.Event) -> None:
        super().__init__()
        self.stopping = stopping

    def consume(self, count: int, timeout: float) -> list[object]:
        self.callbacks["on_assign"](self, [object()] * 3)
        self.stopping.set()
        return []


class Flushing:
    def flush(self, timeout: float) -> int:
        return 0


def test_a_stuck_consumer_is_replaced_by_a_fresh_one_in_the_same_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = iter(float(second) for second in range(0, 10_000, 20))
    monkeypatch.setattr(consumer_module.time, "monotonic", lambda: next(clock))
    built = InstructionConsumer.__new__(InstructionConsumer)  # no Kafka client needed here
    built.settings = Settings()
    stuck = SilentConsumer()
    stopping, assigned = threading.Event(), threading.Event()
    fresh = AssignedConsumer(stopping)
    built.consumer = stuck  # type: ignore[assignment]
    built.new_consumer = lambda: fresh  # type: ignore[method-assign]
    built.dead_letters = Flushing()  # type: ignore[assignment]
    built.workers = ThreadPoolExecutor(1)
    built.run(stopping, assigned)
    assert stuck.closed  # the stuck one left, the fresh one took over
    assert set(stuck.callbacks) == {"on_assign", "on_revoke", "on_lost"}
    assert assigned.is_set()
    assert fresh.closed  # and was closed when the Ad Manager stopped


class RefusingCommits(AssignedConsumer):
    """RefusingCommits hands out one record and refuses its commit, as after a lost session."""

    def __init__(self, stopping: threading.Event, record: object) -> None:
        super().__init__(stopping)
        self.record = record
        self.commits = 0

    def consume(self, count: int, timeout: float) -> list[object]:
        if self.commits:  # the second poll: the loop lived through the refusal; stop it
            self.stopping.set()
            return []
        self.callbacks["on_assign"](self, [object()])
        return [self.record]

    def commit(self, **kwargs: Any) -> None:
        self.commits += 1
        raise KafkaException(KafkaError(KafkaError.UNKNOWN_MEMBER_ID))


def test_a_refused_commit_is_not_fatal_the_records_are_replayed_idempotently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.unit.servers.admanager.test_instruction_consumer import Applier, Record

    class Consumed(Record):
        def error(self) -> None:
            return None

    built = InstructionConsumer.__new__(InstructionConsumer)
    built.settings = Settings()
    stopping = threading.Event()
    refusing = RefusingCommits(stopping, Consumed())
    built.consumer = refusing  # type: ignore[assignment]
    applier = Applier()
    built.applier = applier  # type: ignore[assignment]
    built.dead_letters = Flushing()  # type: ignore[assignment]
    built.workers = ThreadPoolExecutor(1)
    built.run(stopping, threading.Event())  # returns: the refusal did not end the Ad Manager
    assert refusing.commits == 1
    assert len(applier.applied) == 1
