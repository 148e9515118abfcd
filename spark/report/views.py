"""The report's views as plain data: the bill and the BI views of docs/design.md rule 10.

Spark sums and counts (spark/report/queries.py); the rates are derived here, in exact
decimals with the KPI formulas (spark/kpis.py), so the report and the KPI tables agree.
Ratio columns hold fractions (0.0123); renderers show them as percentages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from servers.money import MONEY_CONTEXT, ZERO, quantize_down
from spark.kpis import RATIO_QUANTUM, ratio

Row = Mapping[str, Any]
RATIO_COLUMNS = frozenset({"ctr", "conversion_rate", "utilisation", "share", "discount"})
DIMENSIONS = {
    "age": "target_age_range",
    "location": "target_location",
    "gender": "target_gender",
    "income": "target_income_bucket",
    "device": "target_device_type",
}
# The same views by the viewer: the user's profile (users) and the request (served_ads).
VIEWER_DIMENSIONS = {
    "age": "viewer_age",
    "location": "viewer_city",
    "gender": "viewer_gender",
    "income": "viewer_income",
    "device": "viewer_device",
}
# Age buckets as audience tools report them: (first, last) inclusive; older is "65+".
AGE_BUCKETS: tuple[tuple[int, int, str], ...] = (
    (0, 17, "under 18"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
)
UNKNOWN = "unknown"  # no profile (unknown user or the privacy id), or served ad not archived
NONE_GIVEN = "(none)"  # the request named no device or city
UNDER_UTILISED_BELOW = Decimal("0.10")


@dataclass(frozen=True)
class View:
    """View is one table of the report: a name for files, a title, columns and rows."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """records are the rows as column → value mappings."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Totals:
    """Totals sums the bill over every campaign."""

    campaigns: int
    impressions: int
    clicks: int
    acquisitions: int
    expenditure: Decimal

    @property
    def ctr(self) -> Decimal:
        """ctr is clicks over impressions for the whole bill."""
        return ratio(self.clicks, self.impressions)


def fraction(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """fraction is numerator / denominator to 8 places, None when the denominator is 0."""
    if denominator == 0:
        return None
    return MONEY_CONTEXT.divide(numerator, denominator).quantize(RATIO_QUANTUM)


def average(total: Decimal, count: int) -> Decimal:
    """average is a money total over a count, rounded down like every derived price."""
    return quantize_down(MONEY_CONTEXT.divide(total, Decimal(count))) if count else ZERO


def bill(rows: Sequence[Row]) -> View:
    """bill is the bill for every campaign with displayed ads, the biggest spender first."""
    lines = []
    for row in sorted(rows, key=lambda r: (-r["expenditure"], r["campaign_id"])):
        budget, spent = row.get("budget"), row.get("spent")
        remaining = None if budget is None or spent is None else max(budget - spent, ZERO)
        lines.append(
            (
                row["campaign_id"],
                row.get("category") or "",
                row["impressions"],
                int(row.get("unique_users") or 0),
                row["clicks"],
                row["acquisitions"],
                ratio(row["clicks"], row["impressions"]),
                row["expenditure"],
                budget,
                remaining,
                average(row["auction_cpm_total"], row["impressions"]),
            )
        )
    columns = (
        "campaign_id",
        "category",
        "impressions",
        "unique_users",
        "clicks",
        "acquisitions",
        "ctr",
        "expenditure",
        "budget",
        "remaining",
        "avg_auction_cpm",
    )
    return View("bill", "Bill per campaign (every ad displayed)", columns, lines)


def totals(rows: Sequence[Row]) -> Totals:
    """totals sums the bill's rows."""
    return Totals(
        campaigns=len(rows),
        impressions=sum(int(r["impressions"]) for r in rows),
        clicks=sum(int(r["clicks"]) for r in rows),
        acquisitions=sum(int(r["acquisitions"]) for r in rows),
        expenditure=sum((r["expenditure"] for r in rows), ZERO),
    )


def top_spenders(rows: Sequence[Row], limit: int = 10) -> View:
    """top_spenders are the campaigns with the largest expenditure and their share of it."""
    total = sum((r["expenditure"] for r in rows), ZERO)
    ranked = sorted(rows, key=lambda r: (-r["expenditure"], r["campaign_id"]))[:limit]
    lines = [
        (
            rank,
            r["campaign_id"],
            r.get("category") or "",
            r["impressions"],
            r["expenditure"],
            fraction(r["expenditure"], total),
        )
        for rank, r in enumerate(ranked, start=1)
    ]
    columns = ("rank", "campaign_id", "category", "impressions", "expenditure", "share")
    return View("top_spenders", f"Top {limit} spenders", columns, lines)


def under_utilised(rows: Sequence[Row], limit: int = 20) -> View:
    """under_utilised lists archived campaigns that billed under 10% of their budget."""
    lines = []
    for r in rows:
        billed = r.get("expenditure") or ZERO
        use = fraction(billed, r["budget"])
        if use is not None and use < UNDER_UTILISED_BELOW:
            lines.append(
                (
                    r["campaign_id"],
                    r.get("category") or "",
                    r["status"],
                    r["budget"],
                    billed,
                    use,
                    int(r.get("impressions") or 0),
                )
            )
    lines.sort(key=lambda line: (line[5], -line[3], line[0]))
    columns = (
        "campaign_id",
        "category",
        "status",
        "budget",
        "expenditure",
        "utilisation",
        "impressions",
    )
    title = f"Under-utilised campaigns (billed < {UNDER_UTILISED_BELOW:.0%} of budget)"
    return View("under_utilised", title, columns, lines[:limit])


def age_group(value: str) -> str:
    """age_group names an archived age range; "0-0" targets every age."""
    return "All" if value in ("0-0", "") else value


def ctr_by(dimension: str, rows: Sequence[Row]) -> View:
    """ctr_by is impressions, clicks and CTR per value of one targeting dimension."""
    lines = []
    for r in rows:
        value = r["value"] if dimension != "age" else age_group(r["value"])
        lines.append(
            (
                value,
                r["impressions"],
                r["clicks"],
                ratio(r["clicks"], r["impressions"]),
                r["expenditure"],
            )
        )
    lines.sort(key=lambda line: (-line[1], str(line[0])))
    columns = (dimension, "impressions", "clicks", "ctr", "expenditure")
    title = f"CTR by {dimension}, by targeting (the campaign's)"
    return View(f"ctr_by_{dimension}", title, columns, lines)


def age_bucket(age: int | None) -> str:
    """age_bucket names a viewer's age group; None (no profile) is unknown."""
    if age is None:
        return UNKNOWN
    for first, last, name in AGE_BUCKETS:
        if first <= age <= last:
            return name
    return "65+"


def viewer_value(dimension: str, row: Row) -> str:
    """viewer_value names the viewer group of one by_viewer row (see the constants above)."""
    value = row["value"]
    if dimension == "age":
        return age_bucket(value)
    if dimension in ("location", "device"):  # from the served ad: known once it is archived
        if not row.get("known"):
            return UNKNOWN
        return str(value) if value else NONE_GIVEN
    return UNKNOWN if value is None or value == "" else str(value)


def ctr_by_viewer(dimension: str, rows: Sequence[Row]) -> View:
    """ctr_by_viewer is impressions, clicks and CTR per group of viewers (who saw the ad)."""
    groups: dict[str, tuple[int, int, Decimal]] = {}
    for r in rows:
        name = viewer_value(dimension, r)
        impressions, clicks, spent = groups.get(name, (0, 0, ZERO))
        groups[name] = (
            impressions + int(r["impressions"]),
            clicks + int(r["clicks"] or 0),
            spent + (r["expenditure"] or ZERO),
        )
    lines = [
        (name, impressions, clicks, ratio(clicks, impressions), spent)
        for name, (impressions, clicks, spent) in groups.items()
    ]
    lines.sort(key=lambda line: (-line[1], str(line[0])))
    columns = (dimension, "impressions", "clicks", "ctr", "expenditure")
    title = f"CTR by {dimension}, by viewer (who saw the ad)"
    return View(f"ctr_by_viewer_{dimension}", title, columns, lines)


def campaign_days(rows: Sequence[Row], timezone: str) -> View:
    """campaign_days is each campaign's delivery per day in the platform's time zone."""
    lines = [
        (
            r["campaign_id"],
            r["day"],
            r["impressions"],
            r["clicks"],
            r["acquisitions"],
            int(r.get("unique_users") or 0),
            r["spend"],
        )
        for r in sorted(rows, key=lambda r: (r["campaign_id"], str(r["day"])))
    ]
    columns = (
        "campaign_id",
        "day",
        "impressions",
        "clicks",
        "acquisitions",
        "unique_users",
        "spend",
    )
    return View("campaign_days", f"Per campaign per day ({timezone})", columns, lines)


def expenditure_by_category(rows: Sequence[Row]) -> View:
    """expenditure_by_category is spend per campaign category, with its share of the total."""
    total = sum((r["expenditure"] for r in rows), ZERO)
    lines = [
        (
            r["category"] or "(not archived)",
            r["campaigns"],
            r["impressions"],
            r["expenditure"],
            fraction(r["expenditure"], total),
        )
        for r in sorted(rows, key=lambda r: (-r["expenditure"], str(r["category"])))
    ]
    columns = ("category", "campaigns", "impressions", "expenditure", "share")
    return View("expenditure_by_category", "Expenditure by category", columns, lines)


def bid_vs_auction(rows: Sequence[Row], limit: int = 20) -> View:
    """bid_vs_auction compares each campaign's bid (CPM) with the second price it paid."""
    lines = []
    for r in sorted(rows, key=lambda r: (-r["impressions"], r["campaign_id"]))[:limit]:
        paid = average(r["auction_cpm_total"], r["impressions"])
        bid = r["bid_cpm"]
        discount = None if not bid else Decimal(1) - (fraction(paid, bid) or ZERO)
        lines.append((r["campaign_id"], r["impressions"], bid, paid, discount))
    columns = ("campaign_id", "impressions", "bid_cpm", "avg_auction_cpm", "discount")
    return View("bid_vs_auction", "Bid vs auction price (CPM)", columns, lines)


def spend_over_time(rows: Sequence[Row]) -> View:
    """spend_over_time is impressions and expenditure per hour of event time (UTC)."""
    lines = [
        (r["hour"], r["impressions"], r["expenditure"])
        for r in sorted(rows, key=lambda r: str(r["hour"]))
    ]
    columns = ("hour", "impressions", "expenditure")
    return View("spend_over_time", "Spend over time (per UTC hour)", columns, lines)


@dataclass(frozen=True)
class Report:
    """Report is everything the renderers show."""

    generated_at: datetime
    database: str
    totals: Totals
    views: list[View]

    def view(self, name: str) -> View:
        """view finds a view by name."""
        return next(view for view in self.views if view.name == name)
