"""The billing archive's micro-batch sink: decoded feedback into Hive, each request id once.

Structured Streaming calls :func:`write_batch` from ``foreachBatch`` and commits the batch in
its checkpoint only after the function returns. Two things could archive an event twice, and
neither needs the archive to be read:

- **a replay**: a crash before the checkpoint commit replays the same batch (same Kafka
  offsets, the same rows). The batch's files are named after its id (spark/commits.py), so the
  replay replaces its earlier attempt's files instead of adding to them.
- **a republish**: the outbox relay may publish one event twice (byte-identical, same request
  id). The query drops a request id seen within the dedup window before the batch reaches
  this sink (spark/streams.py: Spark's state store, checkpointed with the offsets). A record
  published long after its event (``kafka_timestamp`` later than ``timestamp`` by more than
  :data:`LATE_SHARE` of the window: a relay catching up after an outage) may be the copy of
  one archived before the window began; those few are checked against their own hour
  partition, as every record was before.

The batch writes one file per (dt, hr) partition it touches, and the partitions are registered
in the metastore, so Hive-protocol readers see them. Records that did not decode go to the
quarantine table the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as sf

from spark.commits import TableFiles
from spark.tables import BILLING_COLUMNS, QUARANTINE_COLUMNS, Tables, names

# A record published this share of the dedup window after its event is checked against the
# archive too: its first copy may have been archived before the window's start.
LATE_SHARE = 0.5


@dataclass(frozen=True)
class BatchOutcome:
    """BatchOutcome counts what one micro-batch did to the archive."""

    batch_id: int
    input_rows: int
    inserted: int
    duplicates: int
    quarantined: int


@dataclass
class Archive:
    """Archive is the writer's handle on the billing and quarantine tables."""

    spark: SparkSession
    tables: Tables
    dedup_seconds: float

    def __post_init__(self) -> None:
        self.billing = TableFiles(self.spark, self.tables.billing, ("dt", "hr"))
        self.quarantine = TableFiles(self.spark, self.tables.quarantine)


def hour_partitions(frame: DataFrame) -> DataFrame:
    """hour_partitions adds dt ('2026-01-31') and hr ('07') from the event's UTC timestamp."""
    return frame.withColumn("dt", sf.date_format("timestamp", "yyyy-MM-dd")).withColumn(
        "hr", sf.date_format("timestamp", "HH")
    )


def _in_partitions(touched: list[tuple[str, str]]) -> Column:
    """_in_partitions is a filter selecting the given (dt, hr) partitions."""
    tests = [(sf.col("dt") == dt) & (sf.col("hr") == hr) for dt, hr in touched]
    return reduce(lambda left, right: left | right, tests)


def published_late(dedup_seconds: float) -> Column:
    """published_late is true for a record published long after its event (see the module)."""
    lag = sf.unix_micros("kafka_timestamp") - sf.unix_micros("timestamp")
    return sf.coalesce(lag > sf.lit(int(dedup_seconds * LATE_SHARE * 1_000_000)), sf.lit(True))


def _not_archived(spark: SparkSession, archive: Archive, late: DataFrame) -> DataFrame:
    """_not_archived drops the late records whose request id is already in their partition."""
    touched = [(row.dt, row.hr) for row in late.select("dt", "hr").distinct().collect()]
    if not touched:
        return late
    archive.billing.register([{"dt": dt, "hr": hr} for dt, hr in touched])
    spark.catalog.refreshTable(archive.tables.billing)
    archived = (
        spark.table(archive.tables.billing)
        .where(_in_partitions(touched))
        .select("request_id", "dt", "hr")
    )
    return late.join(archived, ["request_id", "dt", "hr"], "left_anti")


def archive_events(
    spark: SparkSession,
    archive: Archive,
    decoded: DataFrame,
    batch_id: int,
    *,
    good: int,
    late: int,
    on_archived: Callable[[DataFrame], None],
) -> int:
    """archive_events appends the batch's decoded events; returns how many it archived.

    good is how many decoded rows there are, late how many of them were published late (those
    are checked against the archive first); on_archived hears the archived rows.
    """
    rows = hour_partitions(decoded)
    if late:
        lateness = published_late(archive.dedup_seconds)
        checked = _not_archived(spark, archive, rows.where(lateness))
        rows = rows.where(~lateness).unionByName(checked)
    fresh = (
        rows.withColumn("writer_batch", sf.lit(batch_id).cast("bigint"))
        .withColumn("archived_at", sf.current_timestamp())
        .select(*names(BILLING_COLUMNS))
    )
    if late:
        fresh = fresh.persist()
    try:
        inserted = fresh.count() if late else good
        if inserted:
            archive.billing.append(fresh, batch_id)
            on_archived(fresh)
    finally:
        if late:
            fresh.unpersist()
    return inserted


def quarantine(archive: Archive, rejected: DataFrame, batch_id: int) -> None:
    """quarantine sets aside the records that did not decode, with their raw bytes."""
    frame = (
        rejected.withColumnRenamed("error", "reason")
        .withColumn("writer_batch", sf.lit(batch_id).cast("bigint"))
        .withColumn("quarantined_at", sf.current_timestamp())
        .select(*names(QUARANTINE_COLUMNS))
    )
    archive.quarantine.append(frame, batch_id)


def write_batch(
    spark: SparkSession,
    archive: Archive,
    batch: DataFrame,
    batch_id: int,
    *,
    on_archived: Callable[[DataFrame], None],
) -> BatchOutcome:
    """write_batch archives one decoded, de-duplicated, persisted micro-batch (see the module)."""
    good = sf.col("error").isNull()
    counts = batch.agg(
        sf.count(sf.lit(1)).alias("rows"),
        sf.count_if(~good).alias("rejected"),
        sf.count_if(good & published_late(archive.dedup_seconds)).alias("late"),
    ).first()
    assert counts is not None  # an aggregate without grouping has one row
    input_rows, quarantined, late = (int(counts[n]) for n in ("rows", "rejected", "late"))
    if quarantined:
        quarantine(archive, batch.where(~good), batch_id)
    inserted = 0
    if input_rows > quarantined:
        inserted = archive_events(
            spark,
            archive,
            batch.where(good),
            batch_id,
            good=input_rows - quarantined,
            late=late,
            on_archived=on_archived,
        )
    return BatchOutcome(
        batch_id=batch_id,
        input_rows=input_rows,
        inserted=inserted,
        duplicates=input_rows - quarantined - inserted,
        quarantined=quarantined,
    )
