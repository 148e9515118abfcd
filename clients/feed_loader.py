"""Feed loader: publishes a campaign feed CSV to campaign-instructions, in order.

Each row becomes the feed's JSON form keyed by campaign id (so one campaign's messages keep
their order on one partition), through an idempotent acks=all producer. Optionally shifts
every date by the same offset so the feed's first date is today, paces to a rate, and waits
until the Ad Manager has applied everything.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from servers import identifiers
from servers.campaigns.feed import first_date, live_shift, shift_message
from servers.errors import ValidationError
from servers.messaging.publisher import producer_config
from servers.settings import Settings

Progress = Callable[[int], None]


@dataclass(frozen=True)
class LoadResult:
    """LoadResult is what a load published and where the last records landed."""

    messages: int
    seconds: float
    end_offsets: dict[int, int]  # partition -> offset after the last record published


def read_messages(path: Path, shift_to: date | None = None) -> list[dict[str, object]]:
    """read_messages reads the feed's rows, moving dates so the first one is shift_to.

    Each row's campaign id is made canonical (servers/identifiers.py), so it is the same id
    as the Kafka key, the MySQL row and the Hive rows; a row without a valid id is refused
    with its row number before anything is published.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        rows: list[dict[str, object]] = [dict(row) for row in csv.DictReader(handle)]
    for number, row in enumerate(rows, start=1):
        try:
            row["campaign_id"] = identifiers.campaign_id(row.get("campaign_id"))
        except ValidationError as error:
            error.add_note(f"feed row {number}")
            raise
    if shift_to is not None:
        days = (shift_to - first_date(rows)).days
        rows = [shift_message(row, days) for row in rows]
    return rows


def read_live_messages(path: Path, settings: Settings) -> list[dict[str, object]]:
    """read_live_messages reads the feed moved by whole days so the most campaigns serve now."""
    rows = read_messages(path)
    tz = ZoneInfo(settings.timezone)
    days = live_shift(rows, datetime.now(UTC), tz)
    return [shift_message(row, days) for row in rows]


def _paced(count: int, rate: float | None) -> Iterator[int]:
    """_paced yields 0..count-1, sleeping so that no more than rate per second go out."""
    start = time.monotonic()
    for index in range(count):
        if rate:
            ahead = start + index / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        yield index


def publish(
    settings: Settings,
    messages: list[dict[str, object]],
    rate: float | None = None,
    progress: Progress = lambda done: None,
) -> LoadResult:
    """publish sends the messages in order and returns once every one is acknowledged."""
    producer = Producer(producer_config(settings.bootstrap_servers, "feed-loader"))
    end_offsets: dict[int, int] = {}
    failures: list[str] = []

    def delivered(error: KafkaError | None, record: Message) -> None:
        if error is not None:
            failures.append(error.str())
            return
        partition, offset = record.partition() or 0, record.offset() or 0
        end_offsets[partition] = max(end_offsets.get(partition, 0), offset + 1)
        progress(1)

    started = time.monotonic()
    for index in _paced(len(messages), rate):
        message = messages[index]
        value = json.dumps(message).encode()
        while True:
            try:
                producer.produce(
                    settings.instructions_topic,
                    key=identifiers.campaign_id(message.get("campaign_id")).encode(),
                    value=value,
                    on_delivery=delivered,
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or failures:
        raise RuntimeError(f"{remaining + len(failures)} messages not delivered: {failures[:3]}")
    return LoadResult(len(messages), time.monotonic() - started, end_offsets)


def wait_applied(settings: Settings, end_offsets: dict[int, int], timeout: float) -> float:
    """wait_applied waits until the Ad Manager has committed past end_offsets; returns when."""
    consumer = Consumer(
        {"bootstrap.servers": settings.bootstrap_servers, "group.id": settings.instructions_group}
    )
    wanted = [TopicPartition(settings.instructions_topic, p) for p in end_offsets]
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            committed = {tp.partition: tp.offset for tp in consumer.committed(wanted, timeout=5)}
            if all(committed.get(p, -1) >= o for p, o in end_offsets.items()):
                return time.monotonic()
            time.sleep(0.1)
    finally:
        consumer.close()
    raise TimeoutError(f"the Ad Manager did not apply the feed within {timeout:.0f}s")
