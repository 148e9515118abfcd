"""Served ads: the durable record of every auction won (docs/design.md rule 5).

The AdServer writes a ServedAd before its response leaves; the FeedbackService reads it
back by request id to charge the campaign, and the archive copies it to Hive.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, select

from servers.storage.literals import insert_rendered, string_quoter, time_literal
from servers.storage.schema import aware_utc, naive_utc, served_ads


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
    # The auction's floor and best losing bid (a transparent auction, docs/design.md §7).
    floor_cpm: Decimal = Decimal(0)  # the higher of the platform's and the request's floor
    runner_up_cpm: Decimal | None = None  # None: the winner was the only entrant


_TIMES = ("campaign_start_time", "campaign_end_time", "served_at")
# Hot path (every ad served): plain attribute reads, not asdict's deep copies (10x slower).
_VALUES = tuple(field.name for field in fields(ServedAd) if field.name not in _TIMES)


def to_row(ad: ServedAd) -> dict[str, Any]:
    """to_row is the table row of a served ad (times as naive UTC)."""
    row = {name: getattr(ad, name) for name in _VALUES}
    for name in _TIMES:
        row[name] = naive_utc(getattr(ad, name))
    return row


def from_row(row: Mapping[str, Any] | RowMapping) -> ServedAd:
    """from_row reads a served ad back (times as aware UTC)."""
    values = dict(row)
    for name in _TIMES:
        values[name] = aware_utc(values[name])
    return ServedAd(**values)


# record renders the batch's VALUES itself: the driver's generic per-value escaping costs
# more than the rest of serving an ad. Strings go through the driver's escaping (which
# follows the session's sql_mode); amounts, counts and times have fixed literal forms.
_INSERT_SQL = "INSERT INTO served_ads ({}) VALUES ".format(
    ", ".join(field.name for field in fields(ServedAd))
)
_KINDS = tuple(
    (field.name, "time" if field.name in _TIMES else str(field.type)) for field in fields(ServedAd)
)


def _values(ad: ServedAd, quote: Callable[[str], str]) -> str:
    """_values is the ad as one parenthesised row of SQL literals."""
    literals = []
    for name, kind in _KINDS:
        value = getattr(ad, name)
        if kind == "str":
            literals.append(quote(value))
        elif kind == "Decimal":
            literals.append(format(value, "f"))  # finite money: digits and a point
        elif kind == "Decimal | None":
            literals.append("NULL" if value is None else format(value, "f"))
        elif kind == "int":
            literals.append(str(int(value)))
        else:  # an aware instant, stored as naive UTC with microseconds
            literals.append(time_literal(value))
    return f"({','.join(literals)})"


_COLUMNS = tuple(served_ads.c[field.name] for field in fields(ServedAd))


def record(connection: Connection, ads: Sequence[ServedAd]) -> None:
    """record inserts a batch of served ads in one statement (the caller commits)."""
    if ads:
        quote = string_quoter(connection)
        insert_rendered(connection, _INSERT_SQL + ",".join(_values(ad, quote) for ad in ads))


def select_ad(request_id: str) -> Select[Any]:
    """select_ad is the query for the served ad with this request id (callers may join on)."""
    return select(*_COLUMNS).where(served_ads.c.request_id == request_id)


def find(connection: Connection, request_id: str) -> ServedAd | None:
    """find reads the served ad with this request id, or None."""
    row = connection.execute(select_ad(request_id)).mappings().first()
    return None if row is None else from_row(row)
