"""Ordering: ListCampaigns' `order_by` and the page tokens that continue a sorted list.

Pure: no SQL. Pages are keyset pages: a token holds the order it was made for and the last
row's sort key (its value, then its campaign_id, which breaks ties ascending in every order),
so a page never skips or repeats a campaign while rows keep their values.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeAlias

from servers.errors import ValidationError


class Kind(StrEnum):
    """Kind is how a sort key is written into a page token and read back."""

    TEXT = "text"
    MONEY = "money"
    TIME = "time"


# SORTABLE names the fields order_by accepts. Stored columns only: delivery stats come from
# another table and the current slot budget is computed on read, so neither can key a page.
SORTABLE: dict[str, Kind] = {
    "campaign_id": Kind.TEXT,
    "text": Kind.TEXT,
    "category": Kind.TEXT,
    "status": Kind.TEXT,
    "target_city": Kind.TEXT,
    "cpc": Kind.MONEY,
    "cpa": Kind.MONEY,
    "cpm": Kind.MONEY,
    "budget": Kind.MONEY,
    "spent": Kind.MONEY,
    "remaining_budget": Kind.MONEY,
    "created_at": Kind.TIME,
    "updated_at": Kind.TIME,
}
DEFAULT_FIELD = "campaign_id"

SortValue: TypeAlias = str | Decimal | datetime


@dataclass(frozen=True, slots=True)
class Order:
    """Order is one sort field and its direction."""

    field: str = DEFAULT_FIELD
    descending: bool = False

    def __str__(self) -> str:
        """__str__ is the canonical order_by text, e.g. "spent desc"."""
        return f"{self.field} desc" if self.descending else self.field


@dataclass(frozen=True, slots=True)
class Cursor:
    """Cursor is the sort key of the last campaign on a page: where the next page starts."""

    value: SortValue
    campaign_id: str


def parse_order_by(text: str) -> Order:
    """parse_order_by reads "field", "field asc" or "field desc" over the SORTABLE fields."""
    words = text.split()
    if not words:
        return Order()
    field, *rest = words
    if field not in SORTABLE:
        raise ValidationError("order_by", f"cannot sort by {field!r}; use one of {tuple(SORTABLE)}")
    direction = rest[0].lower() if rest else "asc"
    if len(rest) > 1 or direction not in ("asc", "desc"):
        raise ValidationError("order_by", 'must be "<field>", "<field> asc" or "<field> desc"')
    return Order(field, direction == "desc")


def _encode_value(value: SortValue) -> str:
    """_encode_value writes a sort key as text: decimals exactly, times in ISO 8601."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _decode_value(text: str, kind: Kind) -> SortValue:
    """_decode_value reads a sort key written by _encode_value."""
    if kind is Kind.MONEY:
        return Decimal(text)
    if kind is Kind.TIME:
        return datetime.fromisoformat(text)
    return text


def encode_page_token(order: Order, cursor: Cursor) -> str:
    """encode_page_token hides the order and the last sort key of a page in an opaque token."""
    document = [str(order), _encode_value(cursor.value), cursor.campaign_id]
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


def decode_page_token(token: str, order: Order) -> Cursor:
    """decode_page_token reads a token made for the same order; anything else is refused."""
    refused = ValidationError("page_token", "is not a token from a previous page of this order")
    try:
        document = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, UnicodeDecodeError):
        raise refused from None
    if not (
        isinstance(document, list)
        and len(document) == 3
        and all(isinstance(part, str) for part in document)
    ):
        raise refused
    made_for, value, campaign_id = document
    if made_for != str(order):
        raise refused
    try:
        return Cursor(_decode_value(value, SORTABLE[order.field]), campaign_id)
    except (ValueError, InvalidOperation):
        raise refused from None
