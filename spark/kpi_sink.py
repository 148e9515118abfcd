"""The KPI stream's micro-batch sink: upserts into MySQL and appends to Hive's change log.

The streaming aggregate runs in update mode, so each batch carries, for every campaign-minute
that changed, its complete value so far (not a delta). Writing a batch twice (a replay after a
crash) therefore writes the same values: the MySQL upsert (INSERT … ON DUPLICATE KEY UPDATE)
is idempotent by nature, and the Hive change log skips rows already written for the same
campaign, minute and batch id. The batch is small (campaigns x minutes), so the formulas of
spark/kpis.py run on the driver in exact decimals.

A MySQL that is out of reach for a moment (restarting, locked, failing over: the rule of
servers.storage.faults.is_transient) does not fail the batch: the upsert is retried with a
bounded backoff, each attempt bounded by the engine's timeouts. Past that, the batch fails,
and the writer restarts the KPI query from its checkpoint (spark/restarts.py) while the
billing archive goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from functools import cache

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as sf
from sqlalchemy import Engine, MetaData, Table
from sqlalchemy.dialects.mysql import insert

from servers.storage.faults import is_transient
from servers.storage.schema import aware_utc, campaign_kpis, naive_utc
from spark.kpis import CampaignMinute, campaign_minute
from spark.restarts import Backoff, retry
from spark.tables import KPI_COLUMNS, Tables, names

log = logging.getLogger(__name__)

# The KPI upsert is small (campaigns x minutes of one batch): 30 s bounds a hung MySQL.
MYSQL_TIMEOUT_SECONDS = 30
UPSERT_ATTEMPTS = 5
UPSERT_BACKOFF = Backoff(first=0.5, cap=8.0)  # 0.5 + 1 + 2 + 4 s between the five attempts
UPDATED = ("impressions", "clicks", "acquisitions", "ctr", "conversion_rate", "spend", "ecpm")


@cache
def mysql_table(name: str) -> Table:
    """mysql_table is the campaign_kpis table shape under the configured name."""
    return campaign_kpis.to_metadata(MetaData(), name=name)


def collect_minutes(batch: DataFrame) -> list[CampaignMinute]:
    """collect_minutes brings the batch's aggregates to the driver and derives the rates."""
    rows = batch.select(
        "campaign_id",
        sf.unix_micros(sf.col("window.start")).alias("minute_us"),
        "impressions",
        "clicks",
        "acquisitions",
        "spend",
    ).collect()
    return [
        campaign_minute(
            row.campaign_id,
            naive_utc(datetime.fromtimestamp(row.minute_us / 1_000_000, UTC)),
            impressions=int(row.impressions),
            clicks=int(row.clicks or 0),
            acquisitions=int(row.acquisitions or 0),
            spend=row.spend,
        )
        for row in rows
    ]


def upsert_mysql(
    engine: Engine,
    table_name: str,
    minutes: Sequence[CampaignMinute],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """upsert_mysql writes the values into MySQL's KPI table, retrying while MySQL is away."""
    if not minutes:
        return
    table = mysql_table(table_name)
    statement = insert(table)
    statement = statement.on_duplicate_key_update(
        {column: statement.inserted[column] for column in (*UPDATED, "updated_at")}
    )

    def attempt() -> None:
        now = naive_utc(datetime.now(UTC))
        with engine.begin() as connection:
            connection.execute(
                statement, [asdict(minute) | {"updated_at": now} for minute in minutes]
            )

    def retrying(number: int, error: BaseException, delay: float) -> None:
        log.warning(
            "KPI upsert attempt %s of %s failed, retrying in %.1f s: %s",
            number,
            UPSERT_ATTEMPTS,
            delay,
            error,
        )

    retry(
        attempt,
        retryable=is_transient,
        attempts=UPSERT_ATTEMPTS,
        backoff=UPSERT_BACKOFF,
        sleep=sleep,
        on_retry=retrying,
    )


def append_hive(
    spark: SparkSession, tables: Tables, minutes: Sequence[CampaignMinute], batch_id: int
) -> None:
    """append_hive adds the values to the Hive change log, once per campaign-minute and batch."""
    if not minutes:
        return
    now = datetime.now(UTC)  # aware datetimes: Spark reads naive ones as local time
    records = [
        (
            m.campaign_id,
            aware_utc(m.minute),
            m.impressions,
            m.clicks,
            m.acquisitions,
            m.ctr,
            m.conversion_rate,
            m.spend,
            m.ecpm,
            batch_id,
            now,
            f"{m.minute:%Y-%m-%d}",
        )
        for m in minutes
    ]
    schema = ", ".join(f"`{name}` {kind}" for name, kind in KPI_COLUMNS)
    frame = spark.createDataFrame(records, schema)
    days = sorted({record[-1] for record in records})
    written = (
        spark.table(tables.kpi_updates)
        .where(sf.col("dt").isin(days) & (sf.col("writer_batch") == batch_id))
        .select("campaign_id", "minute", "writer_batch")
    )
    frame.join(written, ["campaign_id", "minute", "writer_batch"], "left_anti").select(
        *names(KPI_COLUMNS)
    ).write.insertInto(tables.kpi_updates)


def write_batch(
    spark: SparkSession,
    tables: Tables,
    engine: Engine,
    *,
    table_name: str,
    batch: DataFrame,
    batch_id: int,
) -> int:
    """write_batch stores one batch of KPI updates on both sides; returns how many."""
    minutes = collect_minutes(batch)
    upsert_mysql(engine, table_name, minutes)
    append_hive(spark, tables, minutes, batch_id)
    return len(minutes)
