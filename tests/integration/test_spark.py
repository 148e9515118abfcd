"""Spark with Hive support writes and reads a Hive table and reads Kafka through its source."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from pyspark.sql import SparkSession

from servers.settings import Settings
from spark.session import hive_session

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def spark(stack: Settings) -> Iterator[SparkSession]:
    session = hive_session(stack, "integration-tests")
    yield session
    session.stop()


def test_hive_table_round_trip(spark: SparkSession) -> None:
    table = f"probe_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE TABLE {table} (id INT, amount DECIMAL(20,10)) USING parquet")
    spark.sql(f"INSERT INTO {table} VALUES (1, 0.0000314), (2, 500)")
    rows = spark.sql(f"SELECT id, amount FROM {table} ORDER BY id").collect()
    assert [(r.id, r.amount) for r in rows] == [(1, Decimal("0.0000314")), (2, Decimal(500))]
    assert spark.catalog.tableExists(table)
    assert spark.sql(f"DESCRIBE FORMATTED {table}").filter("col_name = 'Provider'").count() == 1


def test_kafka_source_reads_topic(spark: SparkSession, stack: Settings) -> None:
    topic = f"spark-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result()
    producer = Producer({"bootstrap.servers": stack.bootstrap_servers, "acks": "all"})
    for i in range(5):
        producer.produce(topic, key=str(i).encode(), value=f"event-{i}".encode())
    assert producer.flush(10) == 0
    frame = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", stack.bootstrap_servers)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    values = sorted(row.value.decode() for row in frame.select("value").collect())
    assert values == [f"event-{i}" for i in range(5)]
