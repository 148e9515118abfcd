"""Publisher: an idempotent, acks=all Kafka producer whose sends can be awaited.

A background thread serves the producer's delivery reports; `publish` resolves once the
broker has the record on every in-sync replica, or raises PublishError.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from servers.errors import UnavailableError

Headers = Sequence[tuple[str, bytes]]


def producer_config(bootstrap_servers: str, client_id: str, **extra: Any) -> dict[str, Any]:
    """producer_config is the no-loss configuration every platform producer starts from."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "compression.type": "lz4",
        **extra,
    }


class Publisher:
    """Publisher sends records and lets asyncio code await each delivery."""

    def __init__(self, bootstrap_servers: str, client_id: str, timeout_ms: int = 10_000) -> None:
        self._producer = Producer(
            producer_config(bootstrap_servers, client_id, **{"message.timeout.ms": timeout_ms})
        )
        self._stopped = threading.Event()
        self._poller = threading.Thread(
            target=self._serve_reports, name="kafka-reports", daemon=True
        )
        self._poller.start()

    def _serve_reports(self) -> None:
        while not self._stopped.is_set():
            self._producer.poll(0.05)

    async def publish(
        self, topic: str, key: str, value: bytes, headers: Headers = ()
    ) -> tuple[int, int]:
        """publish sends one record and returns its (partition, offset) once it is durable."""
        loop = asyncio.get_running_loop()
        delivered: asyncio.Future[tuple[int, int]] = loop.create_future()

        def report(error: KafkaError | None, message: Message) -> None:
            loop.call_soon_threadsafe(_settle, delivered, error, message)

        while True:
            try:
                self._producer.produce(
                    topic, key=key.encode(), value=value, headers=list(headers), on_delivery=report
                )
                break
            except BufferError:  # the local queue is full: let deliveries drain
                await asyncio.sleep(0.01)
        return await delivered

    def close(self, timeout: float = 10.0) -> None:
        """close delivers what is queued (up to timeout seconds) and stops the report thread."""
        self._producer.flush(timeout)
        self._stopped.set()
        self._poller.join(timeout=1)


def _settle(
    future: asyncio.Future[tuple[int, int]], error: KafkaError | None, message: Message
) -> None:
    """_settle completes a publish future from a delivery report."""
    if future.done():
        return
    if error is not None:
        future.set_exception(UnavailableError(f"Kafka did not accept the record: {error.str()}"))
    else:
        future.set_result((message.partition() or 0, message.offset() or 0))
