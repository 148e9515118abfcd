"""Served ads: the durable record of every auction won (DESIGN rule 5).

The AdServer writes a ServedAd before its response leaves; the FeedbackService reads it
back by request id to charge the campaign, and the archive copies it to Hive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select

from servers.storage.schema import served_ads


@dataclass(frozen=True, slots=True)
class ServedAd:
    """ServedAd is one ad shown to one user: the auction's prices and the targeting then."""

    request_id: str
    campaign_id: str
    user_id: str
    device_type: str
    city: str
    state: str
    country: str
    auction_cpm: Decimal
    auction_cpc: Decimal
    auction_cpa: Decimal
    bid_cpm: Decimal  # the winner's own bid, for bid-vs-price analytics
    bidders: int
    target_age_start: int
    target_age_end: int
    target_location: str  # "city, state, country" as the campaign targeted it
    target_gender: str
    target_income_bucket: str
    target_device: str
    campaign_start_time: datetime  # aware UTC
    campaign_end_time: datetime
    served_at: datetime


_TIMES = ("campaign_start_time", "campaign_end_time", "served_at")


def to_row(ad: ServedAd) -> dict[str, Any]:
    """to_row is the table row of a served ad (times as naive UTC)."""
    row = asdict(ad)
    for name in _TIMES:
        row[name] = row[name].astimezone(UTC).replace(tzinfo=None)
    return row


def from_row(row: Mapping[str, Any] | RowMapping) -> ServedAd:
    """from_row reads a served ad back (times as aware UTC)."""
    values = dict(row)
    for name in _TIMES:
        values[name] = values[name].replace(tzinfo=UTC)
    return ServedAd(**values)


_INSERT = insert(served_ads)


def record(connection: Connection, ads: Sequence[ServedAd]) -> None:
    """record inserts a batch of served ads in one statement (the caller commits)."""
    if ads:
        connection.execute(_INSERT, [to_row(ad) for ad in ads])


def find(connection: Connection, request_id: str) -> ServedAd | None:
    """find reads the served ad with this request id, or None."""
    row = (
        connection.execute(select(served_ads).where(served_ads.c.request_id == request_id))
        .mappings()
        .first()
    )
    return None if row is None else from_row(row)
