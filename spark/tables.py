"""The Hive tables of the archive: names, columns and DDL, created idempotently.

Every table is a Spark data source table (``USING parquet``) in the Hive metastore, which
Spark, the Spark Thrift server and Hive-compatible readers all see. Money is DECIMAL(24,10),
times are UTC TIMESTAMPs, and partition columns are strings (``dt='2026-01-31'``, ``hr='07'``)
because the metastore filters partitions only on string keys.

- ``feedback_events``: the billing archive (docs/design.md rule 9), one row per charged feedback,
  partitioned by the event's UTC date and hour, plus Kafka lineage and the writer's batch id.
  ``target_age_range`` is a string ``"start-end"`` ("20-45"; "0-0" means any age), which BI
  tools group by directly.
- ``feedback_quarantine``: records the writer could not archive, with their raw bytes.
- ``campaign_kpi_updates``: every KPI value the streaming aggregate emitted (a change log);
  the view ``campaign_kpis`` shows the latest value per campaign and minute.
- ``campaigns`` and ``served_ads``: the archive of the MySQL tables (spark/archive.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from servers.money import MONEY_PLACES, MONEY_PRECISION

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MONEY = f"DECIMAL({MONEY_PRECISION},{MONEY_PLACES})"  # as exact as MySQL's amounts

# The rule 9 columns, in the order of the table (insertInto writes by position).
EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("campaign_id", "STRING"),
    ("user_id", "STRING"),
    ("request_id", "STRING"),
    ("click", "INT"),
    ("view", "INT"),
    ("acquisition", "INT"),
    ("auction_cpm", MONEY),
    ("auction_cpc", MONEY),
    ("auction_cpa", MONEY),
    ("target_age_range", "STRING"),
    ("target_location", "STRING"),
    ("target_gender", "STRING"),
    ("target_income_bucket", "STRING"),
    ("target_device_type", "STRING"),
    ("campaign_start_time", "TIMESTAMP"),
    ("campaign_end_time", "TIMESTAMP"),
    ("user_action", "STRING"),
    ("expenditure", MONEY),
    ("timestamp", "TIMESTAMP"),
)
LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("kafka_partition", "INT"),
    ("kafka_offset", "BIGINT"),
    ("writer_batch", "BIGINT"),
    ("archived_at", "TIMESTAMP"),
)
HOUR_PARTITIONS: tuple[tuple[str, str], ...] = (("dt", "STRING"), ("hr", "STRING"))
BILLING_COLUMNS = EVENT_COLUMNS + LINEAGE_COLUMNS + HOUR_PARTITIONS

QUARANTINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("kafka_topic", "STRING"),
    ("kafka_partition", "INT"),
    ("kafka_offset", "BIGINT"),
    ("kafka_timestamp", "TIMESTAMP"),
    ("raw", "BINARY"),
    ("reason", "STRING"),
    ("writer_batch", "BIGINT"),
    ("quarantined_at", "TIMESTAMP"),
)

KPI_COLUMNS: tuple[tuple[str, str], ...] = (
    ("campaign_id", "STRING"),
    ("minute", "TIMESTAMP"),
    ("impressions", "BIGINT"),
    ("clicks", "BIGINT"),
    ("acquisitions", "BIGINT"),
    ("ctr", "DECIMAL(12,8)"),
    ("conversion_rate", "DECIMAL(12,8)"),
    ("spend", MONEY),
    ("ecpm", MONEY),
    ("writer_batch", "BIGINT"),
    ("updated_at", "TIMESTAMP"),
    ("dt", "STRING"),
)

CAMPAIGN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("campaign_id", "STRING"),
    ("text", "STRING"),
    ("category", "STRING"),
    ("keywords", "STRING"),  # the JSON array as MySQL holds it
    ("target_gender", "STRING"),
    ("target_age_start", "INT"),
    ("target_age_end", "INT"),
    ("target_city", "STRING"),
    ("target_state", "STRING"),
    ("target_country", "STRING"),
    ("target_income_bucket", "STRING"),
    ("target_device", "STRING"),
    ("cpc", MONEY),
    ("cpa", MONEY),
    ("cpm", MONEY),
    ("budget", MONEY),
    ("spent", MONEY),
    ("start_date", "DATE"),
    ("end_date", "DATE"),
    ("start_time", "STRING"),
    ("end_time", "STRING"),
    ("window_start", "TIMESTAMP"),
    ("window_end", "TIMESTAMP"),
    ("status", "STRING"),
    ("status_reason", "STRING"),
    ("last_sequence", "BIGINT"),
    ("created_at", "TIMESTAMP"),
    ("updated_at", "TIMESTAMP"),
)

SERVED_AD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("request_id", "STRING"),
    ("campaign_id", "STRING"),
    ("user_id", "STRING"),
    ("device_type", "STRING"),
    ("city", "STRING"),
    ("state", "STRING"),
    ("country", "STRING"),
    ("auction_cpm", MONEY),
    ("auction_cpc", MONEY),
    ("auction_cpa", MONEY),
    ("bid_cpm", MONEY),
    ("bidders", "INT"),
    ("target_age_start", "INT"),
    ("target_age_end", "INT"),
    ("target_location", "STRING"),
    ("target_gender", "STRING"),
    ("target_income_bucket", "STRING"),
    ("target_device", "STRING"),
    ("campaign_start_time", "TIMESTAMP"),
    ("campaign_end_time", "TIMESTAMP"),
    ("served_at", "TIMESTAMP"),
    ("dt", "STRING"),
)


def names(columns: tuple[tuple[str, str], ...]) -> list[str]:
    """names lists the column names of a column spec, in table order."""
    return [name for name, _ in columns]


def _ddl(
    table: str, columns: tuple[tuple[str, str], ...], partitions: tuple[str, ...], comment: str
) -> str:
    """_ddl is a CREATE TABLE IF NOT EXISTS statement for a parquet table."""
    body = ",\n  ".join(f"`{name}` {kind}" for name, kind in columns)
    partitioned = f"\nPARTITIONED BY ({', '.join(partitions)})" if partitions else ""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (\n  {body}\n) USING parquet"
        f"{partitioned}\nCOMMENT '{comment}'"
    )


@dataclass(frozen=True)
class Tables:
    """Tables names the archive's tables in one Hive database."""

    database: str

    @property
    def billing(self) -> str:
        """billing is the feedback archive (docs/design.md rule 9)."""
        return f"{self.database}.feedback_events"

    @property
    def quarantine(self) -> str:
        """quarantine holds the records the writer could not decode."""
        return f"{self.database}.feedback_quarantine"

    @property
    def kpi_updates(self) -> str:
        """kpi_updates is the change log of per-campaign, per-minute KPIs."""
        return f"{self.database}.campaign_kpi_updates"

    @property
    def kpis(self) -> str:
        """kpis is the view of the latest KPI values per campaign and minute."""
        return f"{self.database}.campaign_kpis"

    @property
    def campaigns(self) -> str:
        """campaigns is the latest archived row of every campaign."""
        return f"{self.database}.campaigns"

    @property
    def served_ads(self) -> str:
        """served_ads is the archive of every served ad."""
        return f"{self.database}.served_ads"

    def statements(self) -> list[str]:
        """statements is the DDL creating the database, tables and view if missing."""
        partitions = tuple(names(HOUR_PARTITIONS))
        return [
            f"CREATE DATABASE IF NOT EXISTS {self.database}",
            _ddl(self.billing, BILLING_COLUMNS, partitions, "charged feedback, exactly once"),
            _ddl(self.quarantine, QUARANTINE_COLUMNS, (), "user-feedback records not archived"),
            _ddl(self.kpi_updates, KPI_COLUMNS, ("dt",), "KPI values as the stream emitted them"),
            f"""CREATE VIEW IF NOT EXISTS {self.kpis}
COMMENT 'latest KPIs per campaign and minute' AS
SELECT {", ".join(names(KPI_COLUMNS))} FROM (
  SELECT *, row_number() OVER (
    PARTITION BY campaign_id, minute ORDER BY updated_at DESC, writer_batch DESC) AS version
  FROM {self.kpi_updates}) WHERE version = 1""",
            _ddl(self.campaigns, CAMPAIGN_COLUMNS, (), "latest row of every campaign (MySQL)"),
            _ddl(self.served_ads, SERVED_AD_COLUMNS, ("dt",), "every served ad (MySQL)"),
        ]

    def ensure(self, spark: SparkSession) -> None:
        """ensure creates whatever is missing; running it again changes nothing."""
        for statement in self.statements():
            spark.sql(statement)
