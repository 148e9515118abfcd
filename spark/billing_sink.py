"""The billing archive's micro-batch sink: decoded feedback into Hive, each request id once.

Structured Streaming calls :func:`write_batch` from ``foreachBatch`` and commits the batch in
its checkpoint only after the function returns. A crash in between replays the same batch
(same Kafka offsets, so the same rows) on restart, and the outbox relay may publish one event
twice (byte-identical, same request id and timestamp). The write is therefore idempotent:

1. within the batch, one row per request id is kept (the lowest Kafka partition/offset);
2. every (dt, hr) partition the batch touches is registered in the metastore first, so files
   a crashed attempt left behind are visible to step 3;
3. rows whose request id already is in those partitions are dropped (an anti-join; a
   duplicate carries the same timestamp, hence lands in the same partition);
4. what is left is appended with ``insertInto``, which also registers the partitions, so
   Hive-protocol readers see them.

Records that did not decode go to the quarantine table, idempotently by topic/partition/offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as sf

from spark.tables import BILLING_COLUMNS, QUARANTINE_COLUMNS, Tables, names


@dataclass(frozen=True)
class BatchOutcome:
    """BatchOutcome counts what one micro-batch did to the archive."""

    batch_id: int
    input_rows: int
    inserted: int
    duplicates: int
    quarantined: int


def hour_partitions(frame: DataFrame) -> DataFrame:
    """hour_partitions adds dt ('2026-01-31') and hr ('07') from the event's UTC timestamp."""
    return frame.withColumn("dt", sf.date_format("timestamp", "yyyy-MM-dd")).withColumn(
        "hr", sf.date_format("timestamp", "HH")
    )


def _in_partitions(touched: list[tuple[str, str]]) -> Column:
    """_in_partitions is a filter selecting the given (dt, hr) partitions."""
    tests = [(sf.col("dt") == dt) & (sf.col("hr") == hr) for dt, hr in touched]
    return reduce(lambda left, right: left | right, tests)


def register_partitions(spark: SparkSession, table: str, touched: list[tuple[str, str]]) -> None:
    """register_partitions adds the (dt, hr) partitions to the metastore if they are missing."""
    if touched:
        specs = " ".join(f"PARTITION (dt='{dt}', hr='{hr}')" for dt, hr in touched)
        spark.sql(f"ALTER TABLE {table} ADD IF NOT EXISTS {specs}")


def _first_per_request(frame: DataFrame) -> DataFrame:
    """_first_per_request keeps one row per request id: the lowest Kafka position."""
    order = Window.partitionBy("request_id").orderBy("kafka_partition", "kafka_offset")
    return frame.withColumn("_n", sf.row_number().over(order)).where("_n = 1").drop("_n")


def archive_events(spark: SparkSession, tables: Tables, decoded: DataFrame, batch_id: int) -> int:
    """archive_events appends the decoded events not archived yet; returns how many."""
    hours = hour_partitions(decoded).select("dt", "hr").distinct().collect()
    touched = [(row.dt, row.hr) for row in hours]
    rows = hour_partitions(_first_per_request(decoded))
    if not touched:
        return 0
    register_partitions(spark, tables.billing, touched)
    archived = (
        spark.table(tables.billing).where(_in_partitions(touched)).select("request_id", "dt", "hr")
    )
    fresh = (
        rows.join(archived, ["request_id", "dt", "hr"], "left_anti")
        .withColumn("writer_batch", sf.lit(batch_id).cast("bigint"))
        .withColumn("archived_at", sf.current_timestamp())
        .select(*names(BILLING_COLUMNS))
        .persist()
    )
    try:
        inserted = fresh.count()
        if inserted:
            fresh.write.insertInto(tables.billing)
    finally:
        fresh.unpersist()
    return inserted


def quarantine(spark: SparkSession, tables: Tables, rejected: DataFrame, batch_id: int) -> None:
    """quarantine sets aside the records that did not decode, each Kafka position once."""
    position = ["kafka_topic", "kafka_partition", "kafka_offset"]
    kept = spark.table(tables.quarantine).select(*position)
    (
        rejected.join(kept, position, "left_anti")
        .withColumnRenamed("error", "reason")
        .withColumn("writer_batch", sf.lit(batch_id).cast("bigint"))
        .withColumn("quarantined_at", sf.current_timestamp())
        .select(*names(QUARANTINE_COLUMNS))
        .write.insertInto(tables.quarantine)
    )


def write_batch(
    spark: SparkSession, tables: Tables, batch: DataFrame, batch_id: int
) -> BatchOutcome:
    """write_batch archives one decoded micro-batch idempotently (see the module docstring)."""
    batch.persist()
    try:
        input_rows = batch.count()
        rejected = batch.where(sf.col("error").isNotNull())
        quarantined = rejected.count()
        if quarantined:
            quarantine(spark, tables, rejected, batch_id)
        inserted = archive_events(spark, tables, batch.where(sf.col("error").isNull()), batch_id)
    finally:
        batch.unpersist()
    return BatchOutcome(
        batch_id=batch_id,
        input_rows=input_rows,
        inserted=inserted,
        duplicates=input_rows - quarantined - inserted,
        quarantined=quarantined,
    )
