"""The report job: wait for the writer, archive MySQL, compute the views, reconcile the money.

Run through `adplatform report` (clients/report_commands.py). Steps, each announced to
``progress``:

1. wait (up to ``wait_seconds``) until the outbox is empty and the writer's Kafka lag is 0,
   so Hive holds every charge MySQL holds (spark/catchup.py);
2. read MySQL's spent total, then copy campaigns and served ads into Hive (spark/archive.py);
3. compute the bill and the BI views with Spark over Hive, the viewers' profiles read from
   MySQL's users (spark/report/queries.py);
4. compare Hive's billed total with MySQL's spent total (spark/report/reconcile.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from pyspark.sql import SparkSession
from sqlalchemy import func, select

from servers.money import ZERO
from servers.settings import Settings
from servers.storage.db import TOOL_TIMEOUT_SECONDS, engine
from servers.storage.schema import campaigns
from spark import archive, catchup
from spark.report import queries
from spark.report.reconcile import Reconciliation
from spark.report.views import Report
from spark.tables import Tables

Progress = Callable[[str], None]


def mysql_spent(settings: Settings) -> Decimal:
    """mysql_spent is Σ spent over every campaign in MySQL."""
    database = engine(settings.database_url, pool_size=1, timeout_seconds=TOOL_TIMEOUT_SECONDS)
    try:
        with database.connect() as connection:
            total = connection.execute(select(func.sum(campaigns.c.spent))).scalar()
    finally:
        database.dispose()
    return ZERO if total is None else Decimal(total)


def build(spark: SparkSession, settings: Settings) -> Report:
    """build computes the report's views from the Hive archive as it stands."""
    tables = Tables(settings.hive_database)
    tables.ensure(spark)
    users = archive.read_mysql(spark, settings, "users", "id", None)
    queries.load(spark, tables, users)
    totals, views = queries.report_views(spark, settings.timezone)
    return Report(datetime.now(UTC), settings.hive_database, totals, views)


def run(
    spark: SparkSession,
    settings: Settings,
    wait_seconds: float,
    progress: Progress,
    refresh_archive: bool = True,
) -> tuple[Report, Reconciliation]:
    """run produces the report and its reconciliation (see the module docstring)."""
    progress(f"waiting up to {wait_seconds:.0f} s for the outbox and the writer to catch up")
    caught = catchup.wait(settings, wait_seconds)
    spent = mysql_spent(settings)
    if refresh_archive:
        progress("archiving campaigns and served ads from MySQL into Hive")
        archive.run(spark, settings)
    progress("computing the bill and the BI views over Hive")
    report = build(spark, settings)
    billed = queries.billed_total(spark)
    reconciliation = Reconciliation(billed, spent, caught.caught_up, caught.waited_seconds)
    return report, reconciliation
