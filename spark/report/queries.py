"""The report's Spark SQL over Hive: sums and counts per campaign, dimension, category, hour.

The billing archive is read once into memory (only the columns the report needs) and every
view aggregates that; the campaigns archive supplies category, budget, spent and the bid.

Viewer views join each event to its served ad (Hive ``served_ads``: the request's device and
city, on request_id) and to its user's profile (MySQL ``users``, read over JDBC: age, gender,
income). The privacy id is never profiled (docs/design.md rule 3), so it is "unknown" there.

Unique users are Spark's HyperLogLog++ ``approx_count_distinct`` with rsd 0.01 (2^14
registers, relative standard error about 0.8 %; for a few thousand users or fewer the linear
counting it switches to is close to exact). The privacy id is not counted, as in the KPIs
(spark/kpis.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from servers.identifiers import PRIVACY_USER_ID
from servers.money import ZERO
from spark.report import views
from spark.tables import Tables

EVENTS = "report_events"
CAMPAIGNS = "report_campaigns"
VIEWERS = "report_viewers"
REACH_RSD = 0.01  # approx_count_distinct's relative standard deviation (see the docstring)
UNIQUE_USERS = (
    f"approx_count_distinct(CASE WHEN user_id <> '{PRIVACY_USER_ID}' THEN user_id END, {REACH_RSD})"
)
_EVENT_COLUMNS = (
    "campaign_id",
    "user_id",
    "request_id",
    "timestamp",
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


def load(spark: SparkSession, tables: Tables, users: DataFrame | None = None) -> None:
    """load caches the billing archive's report columns and the campaigns archive as views.

    users (MySQL's users table: id, age, gender, income_bucket) profiles the viewers; without
    it every viewer's profile is unknown.
    """
    for table in (tables.billing, tables.campaigns, tables.served_ads):
        spark.catalog.refreshTable(table)
    spark.table(tables.billing).select(*_EVENT_COLUMNS).cache().createOrReplaceTempView(EVENTS)
    spark.table(tables.campaigns).cache().createOrReplaceTempView(CAMPAIGNS)
    spark.table(tables.served_ads).select(
        "request_id", "device_type", "city"
    ).createOrReplaceTempView("report_served")
    if users is None:
        spark.sql(
            "SELECT CAST(NULL AS STRING) AS id, CAST(NULL AS INT) AS age, "
            "CAST(NULL AS STRING) AS gender, CAST(NULL AS STRING) AS income_bucket"
        ).where("id IS NOT NULL").createOrReplaceTempView("report_users")
    else:
        users.select("id", "age", "gender", "income_bucket").createOrReplaceTempView("report_users")
    spark.sql(
        f"""
        SELECT e.campaign_id, e.click, e.expenditure, s.device_type AS viewer_device,
               s.city AS viewer_city, s.request_id IS NOT NULL AS served_known,
               u.age AS viewer_age, u.gender AS viewer_gender,
               u.income_bucket AS viewer_income
        FROM {EVENTS} e
        LEFT JOIN report_served s ON e.request_id = s.request_id
        LEFT JOIN report_users u ON e.user_id = u.id AND e.user_id <> '{PRIVACY_USER_ID}'"""
    ).cache().createOrReplaceTempView(VIEWERS)


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
               COUNT(*) AS impressions, {UNIQUE_USERS} AS unique_users, SUM(e.click) AS clicks,
               SUM(e.acquisition) AS acquisitions, SUM(e.expenditure) AS expenditure,
               SUM(e.auction_cpm) AS auction_cpm_total
        FROM {EVENTS} e LEFT JOIN {CAMPAIGNS} c ON e.campaign_id = c.campaign_id
        GROUP BY e.campaign_id""",
    )


def campaign_days(spark: SparkSession, timezone: str) -> list[dict[str, Any]]:
    """campaign_days sums the archive per campaign and day of event time in the time zone."""
    day = f"CAST(to_date(from_utc_timestamp(timestamp, '{timezone}')) AS STRING)"
    return _rows(
        spark,
        f"""
        SELECT campaign_id, {day} AS day, COUNT(*) AS impressions, SUM(click) AS clicks,
               SUM(acquisition) AS acquisitions, {UNIQUE_USERS} AS unique_users,
               SUM(expenditure) AS spend
        FROM {EVENTS} GROUP BY campaign_id, {day}""",
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


def by_viewer(spark: SparkSession, column: str) -> list[dict[str, Any]]:
    """by_viewer sums impressions, clicks and expenditure per value of a viewer column.

    value is None where the viewer is not known (no profile, or its served ad not archived);
    known says whether the served ad was archived, for the request's columns.
    """
    return _rows(
        spark,
        f"""
        SELECT {column} AS value, served_known AS known, COUNT(*) AS impressions,
               SUM(click) AS clicks, SUM(expenditure) AS expenditure
        FROM {VIEWERS} GROUP BY {column}, served_known""",
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


def report_views(
    spark: SparkSession, timezone: str = "UTC"
) -> tuple[views.Totals, list[views.View]]:
    """report_views computes the bill and every BI view from the loaded archive."""
    bills = campaign_bills(spark)
    dimension_views = [
        views.ctr_by(name, by_dimension(spark, column)) for name, column in views.DIMENSIONS.items()
    ]
    viewer_views = [
        views.ctr_by_viewer(name, by_viewer(spark, column))
        for name, column in views.VIEWER_DIMENSIONS.items()
    ]
    return views.totals(bills), [
        views.bill(bills),
        views.top_spenders(bills),
        views.under_utilised(campaign_budgets(spark)),
        *dimension_views,
        *viewer_views,
        views.campaign_days(campaign_days(spark, timezone), timezone),
        views.expenditure_by_category(by_category(spark)),
        views.bid_vs_auction(bills),
        views.spend_over_time(by_hour(spark)),
    ]
