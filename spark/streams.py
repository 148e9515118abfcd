"""The feedback writer's two streaming queries: read user-feedback → decode → write.

- ``feedback-events`` archives every decoded event into the Hive billing table through the
  idempotent sink of spark/billing_sink.py (exactly once across restarts).
- ``campaign-kpis`` de-duplicates by request id within the watermark, aggregates per campaign
  and one-minute window of event time, and upserts the values into MySQL and Hive
  (spark/kpi_sink.py).

Each query has its own checkpoint (spark/status.py) and reads the topic from the earliest
offset the first time it runs; started again after a failure (spark/feedback_writer.py), it
resumes from that checkpoint, replaying the batch that failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as sf
from pyspark.sql.streaming.query import StreamingQuery
from sqlalchemy import Engine

from servers.settings import Settings
from servers.storage.db import engine
from spark import billing_sink, kpi_sink
from spark.billing_sink import BatchOutcome
from spark.decode import DECODED_DDL, decode_batches
from spark.status import BILLING_QUERY, KPI_QUERY, checkpoint_dir
from spark.tables import Tables

KAFKA_COLUMNS = ("value", "topic", "partition", "offset", "timestamp")


def read_feedback(spark: SparkSession, settings: Settings) -> DataFrame:
    """read_feedback is the user-feedback topic as a stream of Kafka records."""
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.bootstrap_servers)
        .option("subscribe", settings.feedback_topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", settings.spark_max_offsets_per_trigger)
        .load()
    )


def decode(records: DataFrame) -> DataFrame:
    """decode parses each record's FeedbackEvent in Python (see spark/decode.py)."""
    return records.select(*KAFKA_COLUMNS).mapInArrow(decode_batches, DECODED_DDL)


def _trigger(settings: Settings) -> dict[str, Any]:
    return {"processingTime": f"{settings.spark_trigger_seconds} seconds"}


def start_billing(
    spark: SparkSession,
    settings: Settings,
    on_write: Callable[[int], None],
    on_batch: Callable[[BatchOutcome], None],
) -> StreamingQuery:
    """start_billing starts the archive query; on_write and on_batch hear each batch go by."""
    tables = Tables(settings.hive_database)

    def write(batch: DataFrame, batch_id: int) -> None:
        on_write(batch_id)
        on_batch(billing_sink.write_batch(spark, tables, batch, batch_id))

    return (
        decode(read_feedback(spark, settings))
        .writeStream.queryName(BILLING_QUERY)
        .foreachBatch(write)
        .option("checkpointLocation", str(checkpoint_dir(settings, BILLING_QUERY)))
        .trigger(**_trigger(settings))
        .start()
    )


def campaign_minutes(decoded: DataFrame, watermark_seconds: int) -> DataFrame:
    """campaign_minutes is the streaming aggregate per campaign and minute of event time."""
    return (
        decoded.where(sf.col("error").isNull())
        .select("request_id", "campaign_id", "timestamp", "click", "acquisition", "expenditure")
        .withWatermark("timestamp", f"{watermark_seconds} seconds")
        .dropDuplicatesWithinWatermark(["request_id"])
        .groupBy("campaign_id", sf.window("timestamp", "1 minute"))
        .agg(
            sf.count(sf.lit(1)).alias("impressions"),
            sf.sum("click").alias("clicks"),
            sf.sum("acquisition").alias("acquisitions"),
            sf.sum("expenditure").alias("spend"),
        )
    )


def kpi_database(settings: Settings) -> Engine:
    """kpi_database is the KPI sink's MySQL engine: one connection, bounded by timeouts."""
    return engine(
        settings.database_url, pool_size=1, timeout_seconds=kpi_sink.MYSQL_TIMEOUT_SECONDS
    )


def start_kpis(
    spark: SparkSession,
    settings: Settings,
    database: Engine,
    on_batch: Callable[[int, int], None],
) -> StreamingQuery:
    """start_kpis starts the KPI query; on_batch hears (batch id, campaign-minutes written)."""
    tables = Tables(settings.hive_database)

    def write(batch: DataFrame, batch_id: int) -> None:
        written = kpi_sink.write_batch(
            spark, tables, database, table_name=settings.kpi_table, batch=batch, batch_id=batch_id
        )
        on_batch(batch_id, written)

    return (
        campaign_minutes(decode(read_feedback(spark, settings)), settings.kpi_watermark_seconds)
        .writeStream.queryName(KPI_QUERY)
        .outputMode("update")
        .foreachBatch(write)
        .option("checkpointLocation", str(checkpoint_dir(settings, KPI_QUERY)))
        .trigger(**_trigger(settings))
        .start()
    )
