"""Ordering: ListCampaigns' `order_by` and the page tokens that continue a sorted list.

Pure: no SQL. Pages are keyset pages: a token holds the order it was made for and the last
row's sort key (its value, then its campaign_id, which breaks ties ascending in every order),
so a page never skips or repeats a campaign while rows keep their values.

A token is opaque to clients but not trusted: decode_page_token gives back only a sort key
that a stored row could have (the column's type and range, written exactly as
encode_page_token writes it) and refuses anything else as a page_token error, so no client
text reaches the database as a key MySQL would reject or misread.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeAlias

from servers import identifiers
from servers.campaigns.model import Status
from servers.campaigns.validation import NAME_MAX_CHARS
from servers.errors import ValidationError
from servers.money import MONEY_LIMIT, MONEY_PLACES


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

# TEXT_MAX_CHARS is the longest value each text column holds (servers/storage/schema.py;
# `text` is a TEXT column of 65,535 bytes, checked as UTF-8 bytes). Money keys fit the money
# columns: MONEY_PLACES places and below MONEY_LIMIT (servers/money.py).
TEXT_MAX_CHARS = {"text": 65_535, "category": NAME_MAX_CHARS, "target_city": NAME_MAX_CHARS}
TIME_MIN = datetime(1000, 1, 1)  # the DATETIME column's range starts here; datetime.max ends it
ECHO_CHARS = 40  # how much of a refused order_by an error message repeats

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


def _echo(text: str) -> str:
    """_echo is text as an error message quotes it: repr, cut short so a huge input stays out."""
    shown = text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "…"
    return repr(shown)


def parse_order_by(text: str) -> Order:
    """parse_order_by reads "field", "field asc" or "field desc" over the SORTABLE fields."""
    words = text.split()
    if not words:
        return Order()
    field, *rest = words
    if field not in SORTABLE:
        raise ValidationError(
            "order_by", f"cannot sort by {_echo(field)}; use one of {tuple(SORTABLE)}"
        )
    direction = rest[0].lower() if rest else "asc"
    if len(rest) > 1 or direction not in ("asc", "desc"):
        raise ValidationError("order_by", 'must be "<field>", "<field> asc" or "<field> desc"')
    return Order(field, direction == "desc")


def _encode_value(value: SortValue) -> str:
    """_encode_value writes a sort key as text: decimals exactly, times in ISO 8601."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _money(text: str) -> Decimal:
    """_money reads a money sort key that fits the DECIMAL(24,10) columns, or ValueError."""
    value = Decimal(text)  # InvalidOperation for what is no number at all
    exponent = value.as_tuple().exponent
    if not value.is_finite() or not isinstance(exponent, int):
        raise ValueError("money is finite")
    if (
        exponent < -MONEY_PLACES or value.copy_abs() >= MONEY_LIMIT
    ):  # copy_abs: no context, no overflow
        raise ValueError("money fits DECIMAL(24,10)")
    return value


def _time(text: str) -> datetime:
    """_time reads a naive UTC time in the DATETIME column's range, or ValueError."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None or value < TIME_MIN:
        raise ValueError("times are naive UTC within DATETIME's range")
    return value


def _text(text: str, field: str) -> str:
    """_text checks a text sort key against its column, or raises ValueError."""
    if field == "campaign_id":
        return identifiers.campaign_id(text)  # a ValidationError when it is no campaign id
    if field == "status":
        return str(Status(text))
    encoded = text.encode()  # UnicodeEncodeError, a ValueError, for lone surrogates
    size = len(encoded) if field == "text" else len(text)
    if size > TEXT_MAX_CHARS[field]:
        raise ValueError("longer than the column")
    return text


def _decode_value(text: str, field: str) -> SortValue:
    """_decode_value reads a sort key for field exactly as _encode_value wrote it, or raises."""
    kind = SORTABLE[field]
    value: SortValue
    if kind is Kind.MONEY:
        value = _money(text)
    elif kind is Kind.TIME:
        value = _time(text)
    else:
        value = _text(text, field)
    if _encode_value(value) != text:  # Arabic-Indic digits, " 1", "1_0", a bare date: not ours
        raise ValueError("not written by encode_page_token")
    return value


def encode_page_token(order: Order, cursor: Cursor) -> str:
    """encode_page_token hides the order and the last sort key of a page in an opaque token."""
    document = [str(order), _encode_value(cursor.value), cursor.campaign_id]
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


def decode_page_token(token: str, order: Order) -> Cursor:
    """decode_page_token reads a token made for the same order; anything else is refused."""
    refused = ValidationError("page_token", "is not a token from a previous page of this order")
    try:
        document = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, RecursionError):  # bad base64, bytes, JSON, or JSON nested too deep
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
        cursor = Cursor(_decode_value(value, order.field), identifiers.campaign_id(campaign_id))
    except (ValueError, InvalidOperation, ValidationError):
        raise refused from None
    if cursor.campaign_id != campaign_id:  # padded with spaces: not our writing
        raise refused
    if order.field == "campaign_id" and cursor.value != cursor.campaign_id:
        raise refused
    return cursor
