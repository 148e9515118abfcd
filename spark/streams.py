"""The feedback writer's streaming query: read user-feedback → decode once → archive and count.

One query reads the topic, decodes each record once (spark/decode.py) and hands each
micro-batch to one function that

1. archives it into the Hive billing table and the quarantine (spark/billing_sink.py), each
   request id once (spark/seen_ids.py), and
2. sets down its per-campaign, per-minute counts for the KPIs (spark/kpi_sink.py), which the
   writer adds to MySQL and Hive between batches, so a MySQL outage never stops the archive.

The trigger adapts to the traffic: every ``spark_trigger_seconds`` the query looks at Kafka and
starts a batch once ``spark_min_offsets_per_trigger`` records wait, or when the oldest waiting
record has waited ``spark_max_trigger_delay_seconds``; it never takes more than
``spark_max_offsets_per_trigger`` at once. Idle, it runs no batch at all.

The first start (no checkpoint) resumes after the highest Kafka offsets the archive already
holds, so a new checkpoint never archives an event twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from servers.settings import Settings
from spark import billing_sink
from spark.billing_sink import Archive, BatchOutcome
from spark.decode import DECODED_DDL, decode_batches
from spark.kpi_sink import KpiSink
from spark.seen_ids import SeenIds
from spark.status import BILLING_QUERY, checkpoint_dir
from spark.tables import Tables

KAFKA_COLUMNS = ("value", "topic", "partition", "offset", "timestamp")


def starting_offsets(spark: SparkSession, settings: Settings) -> str:
    """starting_offsets is "earliest", or just past what the archive holds of the topic."""
    tables = Tables(settings.hive_database)
    highest = spark.sql(
        f"SELECT kafka_partition AS p, max(kafka_offset) AS o FROM {tables.billing} "
        f"GROUP BY kafka_partition UNION ALL "
        f"SELECT kafka_partition AS p, max(kafka_offset) AS o FROM {tables.quarantine} "
        f"WHERE kafka_topic = '{settings.feedback_topic}' GROUP BY kafka_partition"
    ).collect()
    after: dict[str, int] = {}
    for row in highest:
        after[str(row.p)] = max(after.get(str(row.p), -1), int(row.o) + 1)
    if not after:
        return "earliest"
    partitions = _partitions(settings)
    return json.dumps(
        {settings.feedback_topic: {str(p): after.get(str(p), -2) for p in partitions}}
    )


def _partitions(settings: Settings) -> list[int]:
    """_partitions are the feedback topic's partition numbers."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    topics = admin.list_topics(settings.feedback_topic, timeout=30).topics
    return sorted(topics[settings.feedback_topic].partitions)


def read_feedback(spark: SparkSession, settings: Settings) -> DataFrame:
    """read_feedback is the user-feedback topic as a stream of Kafka records."""
    fresh = not (checkpoint_dir(settings, BILLING_QUERY) / "offsets").is_dir()
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.bootstrap_servers)
        .option("subscribe", settings.feedback_topic)
        .option("startingOffsets", starting_offsets(spark, settings) if fresh else "earliest")
        .option("maxOffsetsPerTrigger", settings.spark_max_offsets_per_trigger)
        .option("minOffsetsPerTrigger", settings.spark_min_offsets_per_trigger)
        .option("maxTriggerDelay", f"{int(settings.spark_max_trigger_delay_seconds * 1000)}ms")
        .load()
    )


def warm_up(spark: SparkSession) -> None:
    """warm_up starts the decoder's Python workers before the first batch needs them.

    A writer that starts (or restarts) behind a backlog would otherwise pay for forking and
    importing them inside its first batch.
    """
    tasks = 2 * spark.sparkContext.defaultParallelism
    records = spark.createDataFrame(
        [(b"", "warm-up", n, n, None) for n in range(tasks)],
        "value BINARY, topic STRING, partition INT, offset BIGINT, timestamp TIMESTAMP",
    )
    decode(records.repartition(tasks)).count()


def decode(records: DataFrame) -> DataFrame:
    """decode parses each record's FeedbackEvent in Python (see spark/decode.py)."""
    return records.select(*KAFKA_COLUMNS).mapInArrow(decode_batches, DECODED_DDL)


def _trigger(settings: Settings) -> dict[str, Any]:
    return {"processingTime": f"{settings.spark_trigger_seconds} seconds"}


def start_writer(
    spark: SparkSession,
    settings: Settings,
    seen: SeenIds,
    kpis: KpiSink,
    *,
    on_write: Callable[[int], None],
    on_batch: Callable[[BatchOutcome], None],
) -> StreamingQuery:
    """start_writer starts the query; on_write and on_batch hear each batch go by."""
    archive = Archive(
        spark,
        Tables(settings.hive_database),
        seen,
        checkpoint_dir(settings, BILLING_QUERY),
        settings.spark_compact_after_seconds,
    )

    def write(batch: DataFrame, batch_id: int) -> None:
        on_write(batch_id)
        on_batch(
            billing_sink.write_batch(
                spark,
                archive,
                batch,
                batch_id,
                on_archived=lambda lineage, events: kpis.record(lineage, batch_id, events),
            )
        )

    return (
        decode(read_feedback(spark, settings))
        .writeStream.queryName(BILLING_QUERY)
        .foreachBatch(write)
        .option("checkpointLocation", str(checkpoint_dir(settings, BILLING_QUERY)))
        .trigger(**_trigger(settings))
        .start()
    )
