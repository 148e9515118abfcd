"""The archive job: copies campaigns and served ads from MySQL into Hive over JDBC.

Run it with `adplatform archive run` (the report runs it first), or by hand:

    eval "$(.venv/bin/adplatform stack env)"
    .venv/bin/python -m spark.archive

Incremental and idempotent (the seed project used Sqoop for this):

- campaigns: rows with ``updated_at`` at or after the newest archived one, less an overlap,
  are read; merged with the archive, the latest row per campaign wins (``updated_at``, then
  ``last_sequence``). The table is a snapshot, rewritten only when something changed. A crash
  mid-rewrite is healed by the next run: an empty archive is copied in full.
- served ads never change: rows with ``served_at`` at or after the newest archived one, less an
  overlap (a served ad commits shortly after its timestamp), are appended unless their
  request id is already in the archive's day partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as sf

from servers.settings import Settings, load
from spark.jdbc import jdbc_options
from spark.tables import CAMPAIGN_COLUMNS, SERVED_AD_COLUMNS, Tables, names

OVERLAP = timedelta(minutes=10)
_SQL_TIME = "yyyy-MM-dd HH:mm:ss.SSSSSS"


@dataclass(frozen=True)
class ArchiveOutcome:
    """ArchiveOutcome counts what one archive run read and wrote."""

    campaigns_read: int
    campaigns_changed: int
    served_read: int
    served_added: int


def _since(spark: SparkSession, table: str, column: str) -> str | None:
    """_since is the newest archived time less the overlap, as a MySQL literal (None: empty)."""
    row = (
        spark.table(table)
        .select(
            sf.date_format(
                sf.max(column) - sf.expr(f"INTERVAL {int(OVERLAP.total_seconds())} SECONDS"),
                _SQL_TIME,
            ).alias("since")
        )
        .first()
    )
    return None if row is None or row.since is None else str(row.since)


def read_mysql(
    spark: SparkSession, settings: Settings, table: str, time_column: str, since: str | None
) -> DataFrame:
    """read_mysql reads a MySQL table, only rows at or after since when given."""
    where = f" WHERE {time_column} >= '{since}'" if since else ""
    return (
        spark.read.format("jdbc")
        .options(**jdbc_options(settings.database_url))
        .option("query", f"SELECT * FROM {table}{where}")
        .load()
    )


def _typed(frame: DataFrame, columns: tuple[tuple[str, str], ...]) -> DataFrame:
    """_typed selects the archive's columns with the archive's types."""
    return frame.select(*(sf.col(name).cast(kind).alias(name) for name, kind in columns))


def archive_campaigns(spark: SparkSession, settings: Settings, tables: Tables) -> tuple[int, int]:
    """archive_campaigns refreshes the campaigns snapshot; returns (rows read, rows changed)."""
    since = _since(spark, tables.campaigns, "updated_at")
    source = read_mysql(spark, settings, "campaigns", "updated_at", since)
    source = source.withColumn("start_time", sf.date_format("start_time", "HH:mm:ss"))
    source = source.withColumn("end_time", sf.date_format("end_time", "HH:mm:ss"))
    incoming = _typed(source, CAMPAIGN_COLUMNS).localCheckpoint(eager=True)
    existing = spark.table(tables.campaigns)
    changed = incoming.exceptAll(existing).count()
    if changed == 0:
        return incoming.count(), 0
    latest = Window.partitionBy("campaign_id").orderBy(
        sf.col("updated_at").desc(), sf.col("last_sequence").desc()
    )
    merged = (
        existing.unionByName(incoming)
        .withColumn("_n", sf.row_number().over(latest))
        .where("_n = 1")
        .drop("_n")
        .localCheckpoint(eager=True)  # cut the lineage: the table is about to be overwritten
    )
    merged.write.insertInto(tables.campaigns, overwrite=True)
    return incoming.count(), changed


def archive_served_ads(spark: SparkSession, settings: Settings, tables: Tables) -> tuple[int, int]:
    """archive_served_ads appends served ads not archived yet; returns (rows read, rows added)."""
    since = _since(spark, tables.served_ads, "served_at")
    source = read_mysql(spark, settings, "served_ads", "served_at", since)
    incoming = _typed(
        source.withColumn("dt", sf.date_format("served_at", "yyyy-MM-dd")), SERVED_AD_COLUMNS
    ).localCheckpoint(eager=True)
    days = [row.dt for row in incoming.select("dt").distinct().collect()]
    if not days:
        return 0, 0
    specs = " ".join(f"PARTITION (dt='{day}')" for day in days)
    spark.sql(f"ALTER TABLE {tables.served_ads} ADD IF NOT EXISTS {specs}")
    archived = spark.table(tables.served_ads).where(sf.col("dt").isin(days)).select("request_id")
    fresh = incoming.join(archived, ["request_id"], "left_anti").select(*names(SERVED_AD_COLUMNS))
    fresh = fresh.localCheckpoint(eager=True)
    added = fresh.count()
    if added:
        fresh.write.insertInto(tables.served_ads)
    return incoming.count(), added


def run(spark: SparkSession, settings: Settings) -> ArchiveOutcome:
    """run archives campaigns and served ads once."""
    tables = Tables(settings.hive_database)
    tables.ensure(spark)
    for table in (tables.campaigns, tables.served_ads):
        spark.catalog.refreshTable(table)
    campaigns_read, campaigns_changed = archive_campaigns(spark, settings, tables)
    served_read, served_added = archive_served_ads(spark, settings, tables)
    return ArchiveOutcome(campaigns_read, campaigns_changed, served_read, served_added)


def main() -> None:
    """main runs the archive once with the settings from the environment."""
    from spark.session import hive_session

    settings = load()
    spark = hive_session(settings, "archive")
    try:
        print(run(spark, settings))
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
