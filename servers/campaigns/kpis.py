"""KPIs for campaign managers: totals from `feedback`, per-minute KPIs from `campaign_kpis`.

Two sources, on purpose. Totals (the console's table, GetCampaign) are counted from the
`feedback` table, written in the same transaction as each charge, so they are exact and live:
impressions = feedback rows (one per displayed ad that got feedback), clicks = sum(click),
acquisitions = sum(acquisition). The per-minute series is what the Spark KPI stream upserts
into `campaign_kpis`; this module only reads it, so KPIs have one definition (Spark's).
Unique users are the estimate the KPI stream keeps beside its sketch in `campaign_reach`
(spark/kpis.py: HyperLogLog, about 1.6 % relative standard error), as of its last batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, func, select

from servers.storage.schema import aware_utc, campaign_kpis, campaign_reach, feedback, naive_utc


@dataclass(frozen=True, slots=True)
class Totals:
    """Totals is a campaign's delivery so far: displayed ads with feedback and what users did."""

    impressions: int = 0
    clicks: int = 0
    acquisitions: int = 0
    unique_users: int = 0  # estimated distinct users (HyperLogLog), 0 when not known

    @property
    def ctr(self) -> Decimal:
        """ctr is clicks / impressions, 0 without impressions."""
        return Decimal(self.clicks) / self.impressions if self.impressions else Decimal(0)


@dataclass(frozen=True, slots=True)
class KpiPoint:
    """KpiPoint is one minute of a campaign's KPIs as the KPI stream stored them."""

    minute: datetime
    impressions: int
    clicks: int
    acquisitions: int
    ctr: Decimal
    conversion_rate: Decimal
    spend: Decimal
    ecpm: Decimal


def totals(connection: Connection, campaign_ids: Sequence[str]) -> dict[str, Totals]:
    """totals counts each campaign's feedback in one grouped query; absent ids have none."""
    if not campaign_ids:
        return {}
    reach = {
        str(campaign_id): int(users)
        for campaign_id, users in connection.execute(
            select(campaign_reach.c.campaign_id, campaign_reach.c.unique_users).where(
                campaign_reach.c.campaign_id.in_(list(campaign_ids))
            )
        )
    }
    rows = connection.execute(
        select(
            feedback.c.campaign_id,
            func.count(),
            func.coalesce(func.sum(feedback.c.click), 0),
            func.coalesce(func.sum(feedback.c.acquisition), 0),
        )
        .where(feedback.c.campaign_id.in_(list(campaign_ids)))
        .group_by(feedback.c.campaign_id)
    ).all()
    return {
        str(campaign_id): Totals(
            int(impressions), int(clicks), int(acquisitions), reach.get(str(campaign_id), 0)
        )
        for campaign_id, impressions, clicks, acquisitions in rows
    }


def series(connection: Connection, campaign_id: str, since: datetime) -> list[KpiPoint]:
    """series reads a campaign's KPI minutes from the one holding since (aware), oldest first."""
    # The table holds naive UTC minute starts.
    naive_since = naive_utc(since).replace(second=0, microsecond=0)
    rows = (
        connection.execute(
            select(campaign_kpis)
            .where(campaign_kpis.c.campaign_id == campaign_id)
            .where(campaign_kpis.c.minute >= naive_since)
            .order_by(campaign_kpis.c.minute)
        )
        .mappings()
        .all()
    )
    return [
        KpiPoint(
            minute=aware_utc(row["minute"]),
            impressions=int(row["impressions"]),
            clicks=int(row["clicks"]),
            acquisitions=int(row["acquisitions"]),
            ctr=row["ctr"],
            conversion_rate=row["conversion_rate"],
            spend=row["spend"],
            ecpm=row["ecpm"],
        )
        for row in rows
    ]
