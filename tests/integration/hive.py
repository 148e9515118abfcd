"""Helpers for the Spark/Hive tests: a shared Spark session, an isolated feedback writer, Kafka.

The isolated writer is the real one (deploy.stack.spark_jobs.FeedbackWriter) started on a
topic, Hive database and run directory of its own with a 1 s trigger, so tests can produce
synthetic events (and garbage) without touching the stack's billing archive, whose totals the
report reconciles with MySQL.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from adplatform.v1 import events_pb2
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from pyspark.sql import SparkSession

from deploy.stack.spark_jobs import FeedbackWriter
from servers.settings import Settings
from spark.session import hive_session


def spark_session(stack: Settings) -> SparkSession:
    """spark_session is this test process's Hive-enabled session (created once, then reused)."""
    return hive_session(stack, "integration-tests")


def isolated_writer(stack: Settings, run_dir: Path, **overrides: object) -> FeedbackWriter:
    """isolated_writer is a feedback writer on a fresh topic and Hive database (not started)."""
    suffix = uuid.uuid4().hex[:8]
    settings = stack.model_copy(
        update={
            "feedback_topic": f"writer-test-{suffix}",
            "hive_database": f"writer_test_{suffix}",
            "run_dir": run_dir,
            "spark_trigger_seconds": 1.0,
            "spark_max_offsets_per_trigger": 3000,
        }
        | overrides
    )
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    topic = NewTopic(settings.feedback_topic, num_partitions=3, replication_factor=1)
    admin.create_topics([topic])[settings.feedback_topic].result()
    return FeedbackWriter(settings)


def running_writer(
    stack: Settings, spark: SparkSession, run_dir: Path, **overrides: object
) -> Iterator[FeedbackWriter]:
    """running_writer yields a started isolated writer, then stops it and drops its data."""
    part = isolated_writer(stack, run_dir, **overrides)
    part.start()
    try:
        part.wait_ready()
        yield part
    finally:
        remove(part, spark)


def remove(writer: FeedbackWriter, spark: SparkSession) -> None:
    """remove stops an isolated writer and drops its topic and database."""
    settings = writer.settings
    writer.process.stop()
    spark.sql(f"DROP DATABASE IF EXISTS {settings.hive_database} CASCADE")
    AdminClient({"bootstrap.servers": settings.bootstrap_servers}).delete_topics(
        [settings.feedback_topic]
    )


def produce(settings: Settings, values: Iterable[bytes], topic: str | None = None) -> int:
    """produce sends raw values to the feedback topic (keyed like the relay) and waits."""
    producer = Producer(
        {"bootstrap.servers": settings.bootstrap_servers, "acks": "all", "linger.ms": 5}
    )
    sent = 0
    for value in values:
        key = b"x"
        with contextlib.suppress(Exception):  # garbage has no campaign to key by
            key = events_pb2.FeedbackEvent.FromString(value).campaign_id.encode() or key
        while True:
            try:
                producer.produce(topic or settings.feedback_topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)
        sent += 1
    assert producer.flush(30) == 0
    return sent


def count(spark: SparkSession, table: str, where: str = "TRUE") -> tuple[int, int]:
    """count is (rows, distinct request ids) of a billing table matching where."""
    spark.catalog.refreshTable(table)
    row = spark.sql(
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT request_id) AS d FROM {table} WHERE {where}"
    ).first()
    assert row is not None
    return int(row.n), int(row.d)
