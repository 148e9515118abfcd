"""Faults under a steady feedback load: money and events still reconcile to the cent.

Σ expenditure acknowledged to devices = Σ spent in MySQL = Σ expenditure of the events on
user-feedback (each request id counted once), after the FeedbackService or the Kafka broker
is SIGKILLed and supervision restarts it, and while the broker is frozen for 10 s, with
clients retrying the same request ids as devices do. Every other part must live through it.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal

import grpc
import pytest
from adplatform.v1 import events_pb2, feedback_service_pb2
from confluent_kafka import Consumer
from sqlalchemy import Engine

from clients import channels
from deploy.stack import launcher
from servers.settings import Settings
from tests.fixtures.database import spent, unpublished
from tests.integration import campaigns, parts, served
from tests.polling import eventually

pytestmark = pytest.mark.integration
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


class Devices:
    """Devices submit feedback for their request ids from threads, retrying until answered."""

    def __init__(self, stack: Settings, request_ids: list[str], threads: int = 8) -> None:
        self.stack = stack
        self.pending = list(request_ids)
        self.acknowledged: dict[str, Decimal] = {}
        self.retries = 0
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + 240
        self.threads = [threading.Thread(target=self._device, args=(i,)) for i in range(threads)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def _next(self) -> str | None:
        with self.lock:
            return self.pending.pop() if self.pending else None

    def _device(self, seed: int) -> None:
        rng = random.Random(seed)
        stub = channels.feedback(self.stack)
        while (request_id := self._next()) is not None:
            flags = rng.choice([(1, 0, 0), (1, 1, 0), (1, 1, 1)])
            request = feedback_service_pb2.SubmitFeedbackRequest(
                request_id=request_id, view=flags[0], click=flags[1], acquisition=flags[2]
            )
            while time.monotonic() < self.deadline:
                try:
                    reply = stub.SubmitFeedback(request, timeout=5)
                except grpc.RpcError as error:
                    if error.code() not in RETRYABLE:
                        raise
                    with self.lock:
                        self.retries += 1
                    time.sleep(0.05)  # a device's back-off before retrying
                    stub = channels.feedback(self.stack)
                    continue
                with self.lock:
                    self.acknowledged[request_id] = Decimal(reply.expenditure)
                break

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def _events(stack: Settings, request_ids: set[str]) -> dict[str, events_pb2.FeedbackEvent]:
    """_events reads user-feedback from the start; duplicates of a request id collapse."""
    consumer = Consumer(
        {
            "bootstrap.servers": stack.bootstrap_servers,
            "group.id": f"reconcile-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([stack.feedback_topic])
    seen: dict[str, events_pb2.FeedbackEvent] = {}
    try:

        def complete() -> bool:
            for record in consumer.consume(500, timeout=0.5):
                if record.error() is None:
                    event = events_pb2.FeedbackEvent.FromString(record.value())
                    if event.request_id in request_ids:
                        seen[event.request_id] = event
            return len(seen) == len(request_ids)

        eventually(complete, timeout=60)
    finally:
        consumer.close()
    return seen


def _run_with_fault(stack: Settings, database: Engine, fault: Callable[[], None]) -> None:
    ids = [campaigns.create(stack, budget="4", cpa="0.05").campaign_id for _ in range(3)]
    request_ids = []
    for campaign_id in ids:
        campaign = campaigns.get(stack, campaign_id)
        assert campaign is not None
        request_ids += served.serve(
            stack, campaign, count=300, auction_cpc="0.0011", auction_cpa="0.0473"
        )
    devices = Devices(stack, request_ids)
    devices.start()
    eventually(lambda: devices.count() > 150, timeout=60)
    fault()
    devices.join()
    assert len(devices.acknowledged) == len(request_ids), "some feedback was never answered"
    acknowledged = sum(devices.acknowledged.values())
    assert acknowledged > 0
    assert sum(spent(database, ids).values()) == acknowledged
    eventually(lambda: unpublished(database) == 0, timeout=60)
    events = _events(stack, set(request_ids))
    assert sum(Decimal(event.expenditure) for event in events.values()) == acknowledged
    for request_id, expenditure in devices.acknowledged.items():
        assert Decimal(events[request_id].expenditure) == expenditure


def _killed_and_restarted(stack: Settings, name: str) -> Callable[[], None]:
    """_killed_and_restarted is a fault: SIGKILL one part, then supervision must bring it back."""

    def fault() -> None:
        before = parts.processes(stack)
        part = next(part for part in launcher.all_parts(stack) if part.name == name)
        part.process.kill()
        assert part.process.pid() != before[name]
        parts.restarted(stack, name, before)
        parts.unchanged_except(stack, before, name)

    return fault


def test_sigkill_feedback_service_under_load(stack: Settings, database: Engine) -> None:
    _run_with_fault(stack, database, _killed_and_restarted(stack, "feedback-service"))


def test_sigkill_kafka_under_load(stack: Settings, database: Engine) -> None:
    _run_with_fault(stack, database, _killed_and_restarted(stack, "kafka"))


def test_kafka_frozen_for_ten_seconds_under_load(stack: Settings, database: Engine) -> None:
    def broker_outage() -> None:
        before = parts.processes(stack)
        broker = before["kafka"]
        assert broker is not None
        os.kill(broker, signal.SIGSTOP)
        try:
            time.sleep(10)  # the fault lasts 10 s while the devices keep going
        finally:
            os.kill(broker, signal.SIGCONT)
        parts.unchanged_except(stack, before)

    _run_with_fault(stack, database, broker_outage)
