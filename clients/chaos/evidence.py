"""Reading what the stack holds after the run: MySQL rows, Kafka records, the Hive archive.

Each reader returns the plain values clients/chaos/books.py checks. MySQL is read through
the servers' own table definitions, Kafka from the offsets the run noted at its start, Hive
with Spark over the billing table (as the report does), joined to the run's request ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from confluent_kafka import Consumer, KafkaError, TopicPartition
from sqlalchemy import Engine, select

from clients.chaos import books
from servers.campaigns.model import Action
from servers.campaigns.wire import decode_instruction
from servers.settings import Settings
from servers.storage.db import TOOL_TIMEOUT_SECONDS, engine
from servers.storage.schema import campaigns, feedback, served_ads
from spark import catchup

CHUNK = 1_000  # ids per IN (...) query


def database(settings: Settings) -> Engine:
    """database is a small pool for the run's own reads."""
    return engine(settings.database_url, pool_size=2, timeout_seconds=TOOL_TIMEOUT_SECONDS)


def _chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in ids:
        batch.append(item)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def served_request_ids(db: Engine, request_ids: Iterable[str]) -> set[str]:
    """served_request_ids are the given request ids that have a served_ads row."""
    found: set[str] = set()
    with db.connect() as connection:
        for batch in _chunks(request_ids):
            rows = connection.execute(
                select(served_ads.c.request_id).where(served_ads.c.request_id.in_(batch))
            )
            found.update(row.request_id for row in rows)
    return found


def charges(db: Engine, request_ids: Iterable[str]) -> dict[str, Decimal]:
    """charges are MySQL's feedback rows (expenditure) for the given request ids."""
    found: dict[str, Decimal] = {}
    with db.connect() as connection:
        for batch in _chunks(request_ids):
            rows = connection.execute(
                select(feedback.c.request_id, feedback.c.expenditure).where(
                    feedback.c.request_id.in_(batch)
                )
            )
            found.update((row.request_id, Decimal(row.expenditure)) for row in rows)
    return found


def accounts(db: Engine, campaign_ids: Sequence[str]) -> dict[str, books.Account]:
    """accounts are the budget and spent of the given campaigns."""
    with db.connect() as connection:
        rows = connection.execute(
            select(campaigns.c.campaign_id, campaigns.c.budget, campaigns.c.spent).where(
                campaigns.c.campaign_id.in_(list(campaign_ids))
            )
        )
        return {
            row.campaign_id: books.Account(Decimal(row.budget), Decimal(row.spent)) for row in rows
        }


def stored(db: Engine, campaign_ids: Sequence[str]) -> dict[str, books.Stored]:
    """stored are the given campaigns' rows as the Ad Manager left them."""
    with db.connect() as connection:
        rows = connection.execute(
            select(
                campaigns.c.campaign_id,
                campaigns.c.text,
                campaigns.c.status,
                campaigns.c.status_reason,
                campaigns.c.last_partition,
                campaigns.c.last_sequence,
            ).where(campaigns.c.campaign_id.in_(list(campaign_ids)))
        )
        return {
            row.campaign_id: books.Stored(
                row.text, row.status, row.status_reason, row.last_partition, row.last_sequence
            )
            for row in rows
        }


def applied(db: Engine, campaign_ids: Sequence[str]) -> list[str]:
    """applied lists which of the given campaigns exist in MySQL, in the order given."""
    if not campaign_ids:
        return []
    with db.connect() as connection:
        rows = connection.execute(
            select(campaigns.c.campaign_id).where(campaigns.c.campaign_id.in_(list(campaign_ids)))
        )
        present = {row.campaign_id for row in rows}
    return [campaign_id for campaign_id in campaign_ids if campaign_id in present]


def outbox_waiting(settings: Settings) -> int:
    """outbox_waiting counts charged feedback not yet published to Kafka."""
    return catchup.outbox_waiting(settings)


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """end_offsets are each partition's next offset on the broker now."""
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": "chaos"})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        return {
            partition: consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[
                1
            ]
            for partition in sorted(metadata.topics[topic].partitions)
        }
    finally:
        consumer.close()


def committed(
    settings: Settings, group: str, topic: str, partitions: Iterable[int]
) -> dict[int, int]:
    """committed are a consumer group's committed offsets on topic (absent: none yet)."""
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": group})
    try:
        wanted = [TopicPartition(topic, partition) for partition in partitions]
        return {
            tp.partition: tp.offset
            for tp in consumer.committed(wanted, timeout=10)
            if tp.offset >= 0
        }
    finally:
        consumer.close()


def wait_applied(settings: Settings, timeout: float) -> bool:
    """wait_applied polls until the Ad Manager has committed up to the instructions' end."""
    topic = settings.instructions_topic
    deadline = time.monotonic() + timeout
    while True:
        try:
            ends = end_offsets(settings, topic)
            done = committed(settings, settings.instructions_group, topic, ends)
            if all(done.get(p, 0) >= end for p, end in ends.items() if end > 0):
                return True
        except Exception:  # Kafka briefly unreachable: keep polling until the deadline
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def read(settings: Settings, topic: str, start: dict[int, int]) -> Iterator[object]:
    """read yields every record of topic from the start offsets up to its end now."""
    ends = end_offsets(settings, topic)
    wanted = {p: end for p, end in ends.items() if end > start.get(p, 0)}
    if not wanted:
        return
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": "chaos-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, start.get(p, 0)) for p in wanted])
        remaining = dict(wanted)
        deadline = time.monotonic() + 120
        while remaining and time.monotonic() < deadline:
            for record in consumer.consume(500, timeout=1.0):
                error = record.error()
                partition = int(record.partition() or 0)
                if error is not None:
                    at_end = (record.offset() or 0) >= remaining.get(partition, 0)
                    if error.code() == KafkaError._PARTITION_EOF and at_end:
                        remaining.pop(partition, None)
                    continue
                yield record
                if (record.offset() or 0) + 1 >= remaining.get(partition, 0):
                    remaining.pop(partition, None)
        if remaining:
            raise TimeoutError(f"{topic}: could not read up to {remaining}")
    finally:
        consumer.close()


def published(settings: Settings, start: dict[int, int], owned: set[str]) -> list[books.Published]:
    """published are the instruction records for the run's campaigns since the run started."""
    found = []
    for record in read(settings, settings.instructions_topic, start):
        value = record.value()  # type: ignore[attr-defined]
        try:
            message = decode_instruction(value, record.key())  # type: ignore[attr-defined]
        except Exception:  # another producer's garbage: not the run's instruction
            continue
        if message.campaign_id not in owned:
            continue
        stop = message.action is Action.STOP
        marker = message.reason if stop else str(message.fields.get("text") or "")
        found.append(
            books.Published(
                message.campaign_id,
                marker,
                int(record.partition() or 0),  # type: ignore[attr-defined]
                int(record.offset() or 0),  # type: ignore[attr-defined]
            )
        )
    return found


def dead_letters(settings: Settings, start: dict[int, int]) -> set[tuple[int, int]]:
    """dead_letters are the (partition, offset) of instructions set aside since the run started."""
    found = set()
    for record in read(settings, settings.dead_letter_topic, start):
        headers = dict(record.headers() or [])  # type: ignore[attr-defined]
        try:
            partition = int(headers["source.partition"])
            offset = int(headers["source.offset"])
        except (KeyError, TypeError, ValueError):
            continue
        if headers.get("source.topic", b"").decode() == settings.instructions_topic:
            found.add((partition, offset))
    return found


def billed(
    settings: Settings, request_ids: Iterable[str], campaign_ids: Iterable[str]
) -> list[books.Billed]:
    """billed are the Hive billing rows of the run: its request ids, and any row of its campaigns.

    Every row is returned as often as Hive holds it, so a request id billed twice shows.
    """
    from pyspark.sql import functions

    from spark.session import hive_session
    from spark.tables import Tables

    spark = hive_session(settings, "chaos-books")
    try:
        table = Tables(settings.hive_database).billing
        spark.catalog.refreshTable(table)
        ids = spark.createDataFrame([(rid,) for rid in request_ids], "request_id STRING")
        events = spark.table(table).select("request_id", "campaign_id", "expenditure")
        of_requests = events.join(ids, "request_id", "left_semi")
        of_campaigns = events.where(functions.col("campaign_id").isin(list(campaign_ids))).join(
            ids, "request_id", "left_anti"
        )
        rows = of_requests.unionByName(of_campaigns).collect()
        return [books.Billed(r.request_id, r.campaign_id, Decimal(r.expenditure)) for r in rows]
    finally:
        spark.stop()
