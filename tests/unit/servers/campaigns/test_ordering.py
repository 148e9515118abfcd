"""Tests for servers.campaigns.ordering: order_by and the page tokens of sorted lists."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.campaigns.ordering import (
    SORTABLE,
    Cursor,
    Kind,
    Order,
    decode_page_token,
    encode_page_token,
    parse_order_by,
)
from servers.errors import ValidationError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Order("campaign_id", descending=False)),
        ("   ", Order("campaign_id", descending=False)),
        ("spent", Order("spent", descending=False)),
        ("spent asc", Order("spent", descending=False)),
        ("spent desc", Order("spent", descending=True)),
        ("  remaining_budget   DESC ", Order("remaining_budget", descending=True)),
    ],
)
def test_parse_order_by_reads_a_field_and_a_direction(text: str, expected: Order) -> None:
    assert parse_order_by(text) == expected


@pytest.mark.parametrize(
    "text", ["impressions", "spent down", "spent desc campaign_id", "SPENT", "budget;drop"]
)
def test_parse_order_by_refuses_anything_else_naming_the_field(text: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_order_by(text)
    assert raised.value.field == "order_by"


def test_an_order_writes_back_as_order_by_text() -> None:
    assert str(Order("spent", descending=True)) == "spent desc"
    assert parse_order_by(str(Order("cpm"))) == Order("cpm")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("campaign_id", "c-1"),
        ("text", 'Shoes "Trail" — 2 ✓'),
        ("spent", Decimal("12.5000000000")),
        ("remaining_budget", Decimal("0E-10")),
        ("created_at", datetime(2026, 11, 27, 20, 8, 25, 123456)),
    ],
)
def test_a_token_gives_back_the_cursor_it_was_made_from(field: str, value: object) -> None:
    order = Order(field, descending=True)
    cursor = Cursor(value, "campaign-9")  # type: ignore[arg-type]
    assert decode_page_token(encode_page_token(order, cursor), order) == cursor


@given(
    amount=st.decimals(min_value=0, max_value=10**13, places=10, allow_nan=False),
    campaign_id=st.text(min_size=1, max_size=64),
)
def test_money_cursors_survive_exactly(amount: Decimal, campaign_id: str) -> None:
    order = Order("budget")
    cursor = Cursor(amount, campaign_id)
    decoded = decode_page_token(encode_page_token(order, cursor), order)
    assert decoded == cursor
    assert str(decoded.value) == str(amount)  # the same digits, not just an equal number


def test_a_token_only_continues_the_order_it_was_made_for() -> None:
    token = encode_page_token(Order("spent", descending=True), Cursor(Decimal(1), "c-1"))
    for other in (Order("spent"), Order("budget", descending=True), Order()):
        with pytest.raises(ValidationError) as raised:
            decode_page_token(token, other)
        assert raised.value.field == "page_token"


def _token(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


SPENT = Order("spent")
CREATED = Order("created_at")


@pytest.mark.parametrize(
    ("token", "order"),
    [
        ("not base64!", SPENT),
        (base64.urlsafe_b64encode(b"c-1").decode(), SPENT),  # an id alone: not a token
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), SPENT),
        (_token({"order": "spent"}), SPENT),
        (_token(["spent", "1"]), SPENT),
        (_token(["spent", 1, "c-1"]), SPENT),
        (_token(["spent", "one", "c-1"]), SPENT),
        (_token(["created_at", "yesterday", "c-1"]), CREATED),
    ],
)
def test_anything_but_a_token_is_refused_naming_page_token(token: str, order: Order) -> None:
    with pytest.raises(ValidationError) as raised:
        decode_page_token(token, order)
    assert raised.value.field == "page_token"


def test_every_sortable_field_has_a_kind() -> None:
    assert set(SORTABLE.values()) <= set(Kind)
    assert SORTABLE["campaign_id"] is Kind.TEXT
