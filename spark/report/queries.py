"""The report's Spark SQL over Hive: sums and counts per campaign, dimension, category, hour.

The billing archive is read once into memory (only the columns the report needs) and every
view aggregates that; the campaigns archive supplies category, budget, spent and the bid.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pyspark.sql import SparkSession

from servers.money import ZERO
from spark.report import views
from spark.tables import Tables

EVENTS = "report_events"
CAMPAIGNS = "report_campaigns"
_EVENT_COLUMNS = (
    "campaign_id",
    "click",
    "acquisition",
    "expenditure",
    "auction_cpm",
    "target_age_range",
    "target_location",
    "target_gender",
    "target_income_bucket",
    "target_device_type",
    "dt",
    "hr",
)


def _rows(spark: SparkSession, sql: str) -> list[dict[str, Any]]:
    return [row.asDict() for row in spark.sql(sql).collect()]


def load(spark: SparkSession, tables: Tables) -> None:
    """load caches the billing archive's report columns and the campaigns archive as views."""
    for table in (tables.billing, tables.campaigns):
        spark.catalog.refreshTable(table)
    spark.table(tables.billing).select(*_EVENT_COLUMNS).cache().createOrReplaceTempView(EVENTS)
    spark.table(tables.campaigns).cache().createOrReplaceTempView(CAMPAIGNS)


def billed_total(spark: SparkSession) -> Decimal:
    """billed_total is Σ expenditure over the whole billing archive."""
    value = spark.sql(f"SELECT SUM(expenditure) AS total FROM {EVENTS}").first()
    return ZERO if value is None or value.total is None else Decimal(value.total)


def campaign_bills(spark: SparkSession) -> list[dict[str, Any]]:
    """campaign_bills sums the archive per campaign, with the campaign's archived budget."""
    return _rows(
        spark,
        f"""
        SELECT e.campaign_id, FIRST(c.category) AS category, FIRST(c.budget) AS budget,
               FIRST(c.spent) AS spent, FIRST(c.cpm) AS bid_cpm,
               COUNT(*) AS impressions, SUM(e.click) AS clicks,
               SUM(e.acquisition) AS acquisitions, SUM(e.expenditure) AS expenditure,
               SUM(e.auction_cpm) AS auction_cpm_total
        FROM {EVENTS} e LEFT JOIN {CAMPAIGNS} c ON e.campaign_id = c.campaign_id
        GROUP BY e.campaign_id""",
    )


def campaign_budgets(spark: SparkSession) -> list[dict[str, Any]]:
    """campaign_budgets lists archived campaigns that billed under the threshold of budget."""
    share = views.UNDER_UTILISED_BELOW
    return _rows(
        spark,
        f"""
        SELECT c.campaign_id, c.category, c.status, c.budget,
               COALESCE(b.expenditure, 0) AS expenditure, COALESCE(b.impressions, 0) AS impressions
        FROM {CAMPAIGNS} c LEFT JOIN (
            SELECT campaign_id, SUM(expenditure) AS expenditure, COUNT(*) AS impressions
            FROM {EVENTS} GROUP BY campaign_id) b ON b.campaign_id = c.campaign_id
        WHERE c.budget > 0 AND COALESCE(b.expenditure, 0) < c.budget * {share}""",
    )


def by_dimension(spark: SparkSession, column: str) -> list[dict[str, Any]]:
    """by_dimension sums impressions, clicks and expenditure per value of a targeting column."""
    return _rows(
        spark,
        f"""
        SELECT {column} AS value, COUNT(*) AS impressions, SUM(click) AS clicks,
               SUM(expenditure) AS expenditure
        FROM {EVENTS} GROUP BY {column}""",
    )


def by_category(spark: SparkSession) -> list[dict[str, Any]]:
    """by_category sums the archive per campaign category."""
    return _rows(
        spark,
        f"""
        SELECT c.category, COUNT(DISTINCT e.campaign_id) AS campaigns, COUNT(*) AS impressions,
               SUM(e.expenditure) AS expenditure
        FROM {EVENTS} e LEFT JOIN {CAMPAIGNS} c ON e.campaign_id = c.campaign_id
        GROUP BY c.category""",
    )


def by_hour(spark: SparkSession) -> list[dict[str, Any]]:
    """by_hour sums the archive per UTC hour of event time."""
    return _rows(
        spark,
        f"""
        SELECT CONCAT(dt, ' ', hr, ':00') AS hour, COUNT(*) AS impressions,
               SUM(expenditure) AS expenditure
        FROM {EVENTS} GROUP BY dt, hr""",
    )


def report_views(spark: SparkSession) -> tuple[views.Totals, list[views.View]]:
    """report_views computes the bill and every BI view from the loaded archive."""
    bills = campaign_bills(spark)
    dimension_views = [
        views.ctr_by(name, by_dimension(spark, column)) for name, column in views.DIMENSIONS.items()
    ]
    return views.totals(bills), [
        views.bill(bills),
        views.top_spenders(bills),
        views.under_utilised(campaign_budgets(spark)),
        *dimension_views,
        views.expenditure_by_category(by_category(spark)),
        views.bid_vs_auction(bills),
        views.spend_over_time(by_hour(spark)),
    ]
