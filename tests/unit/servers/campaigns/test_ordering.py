"""Tests for servers.campaigns.ordering: order_by and the page tokens of sorted lists."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.campaigns.model import Status
from servers.campaigns.ordering import (
    SORTABLE,
    TEXT_MAX_CHARS,
    TIME_MIN,
    Cursor,
    Kind,
    Order,
    SortValue,
    decode_page_token,
    encode_page_token,
    parse_order_by,
)
from servers.errors import ValidationError

# campaign_ids are ids as servers/identifiers.py defines them: 1-64 ASCII characters.
campaign_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", fullmatch=True)


@st.composite
def money(draw: st.DrawFn) -> Decimal:
    """money is any value of a DECIMAL(24,10) column: up to 14 digits, up to 10 places."""
    exponent = draw(st.integers(min_value=-10, max_value=13))
    bound = 10 ** (14 - exponent) - 1
    coefficient = draw(st.integers(min_value=-bound, max_value=bound))
    return Decimal(f"{coefficient}E{exponent}")


def sort_values(field: str) -> st.SearchStrategy[SortValue]:
    """sort_values are the values a stored row can have in field's column."""
    kind = SORTABLE[field]
    if kind is Kind.MONEY:
        return money()
    if kind is Kind.TIME:
        return st.datetimes(min_value=TIME_MIN)
    if field == "status":
        return st.sampled_from([str(status) for status in Status])
    return st.text(max_size=TEXT_MAX_CHARS[field] if field != "text" else 300)


@st.composite
def orders_and_cursors(draw: st.DrawFn) -> tuple[Order, Cursor]:
    """orders_and_cursors is any order with the cursor of a row it could have listed."""
    order = Order(draw(st.sampled_from(sorted(SORTABLE))), draw(st.booleans()))
    campaign_id = draw(campaign_ids)
    value = campaign_id if order.field == "campaign_id" else draw(sort_values(order.field))
    return order, Cursor(value, campaign_id)


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


def test_a_refused_order_by_is_quoted_short() -> None:
    with pytest.raises(ValidationError) as raised:
        parse_order_by("x" * 100_000)
    assert len(raised.value.message) < 400


def test_an_order_writes_back_as_order_by_text() -> None:
    assert str(Order("spent", descending=True)) == "spent desc"
    assert parse_order_by(str(Order("cpm"))) == Order("cpm")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("campaign_id", "campaign-9"),
        ("text", 'Shoes "Trail" — 2 ✓'),
        ("status", "INACTIVE"),
        ("spent", Decimal("12.5000000000")),
        ("remaining_budget", Decimal("0E-10")),
        ("budget", Decimal("99999999999999.9999999999")),
        ("created_at", datetime(2026, 11, 27, 20, 8, 25, 123456)),
        ("updated_at", datetime(9999, 12, 31, 23, 59, 59, 999999)),
        ("updated_at", datetime(1000, 1, 1)),
    ],
)
def test_a_token_gives_back_the_cursor_it_was_made_from(field: str, value: SortValue) -> None:
    order = Order(field, descending=True)
    cursor = Cursor(value, "campaign-9")
    assert decode_page_token(encode_page_token(order, cursor), order) == cursor


@given(orders_and_cursors())
def test_every_cursor_of_a_stored_row_survives_its_token(case: tuple[Order, Cursor]) -> None:
    order, cursor = case
    decoded = decode_page_token(encode_page_token(order, cursor), order)
    assert decoded == cursor
    assert type(decoded.value) is type(cursor.value)
    assert str(decoded.value) == str(cursor.value)  # the same digits, not just an equal number


def test_the_longest_text_a_row_holds_survives_its_token() -> None:
    order, cursor = Order("text"), Cursor("é" * (65_535 // 2), "c-1")
    assert decode_page_token(encode_page_token(order, cursor), order) == cursor


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
        (base64.urlsafe_b64encode(b"[" * 100_000).decode(), SPENT),  # nested too deep
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


@pytest.mark.parametrize(
    "value",
    [
        "NaN",
        "-NaN",
        "sNaN",
        "Infinity",
        "-Infinity",
        "1e999",
        "1E+999",
        "1E+999999999999999999",
        "100000000000000",  # 15 digits before the point
        "-100000000000000",
        "1E+14",
        "1E-11",  # 11 places
        "0.00000000001",
        "1.00000000000",  # an 11th place, even a zero
        "١٠٠",  # Arabic-Indic digits: Decimal reads them, but we never write them  # noqa: RUF001
        " 1",
        "1_000",
        "+1",
        "1e5",  # we write 1E+5
        "",
    ],
)
def test_a_money_key_outside_the_column_is_refused(value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        decode_page_token(_token(["spent", value, "c-1"]), SPENT)
    assert raised.value.field == "page_token"


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00",
        "0999-12-31T23:59:59.999999",
        "2026-01-01T00:00:00+00:00",  # times in tokens are naive UTC
        "2026-01-01",
        "20260101T000000",
        "2026-01-01 00:00:00",
        "2026-02-30T00:00:00",
        "10000-01-01T00:00:00",
    ],
)
def test_a_time_key_outside_the_column_is_refused(value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        decode_page_token(_token(["created_at", value, "c-1"]), CREATED)
    assert raised.value.field == "page_token"


@pytest.mark.parametrize(
    ("order", "value", "campaign_id"),
    [
        (SPENT, "1", ""),
        (SPENT, "1", " c-1"),  # a padded id is another spelling, not ours
        (SPENT, "1", "c" * 65),
        (SPENT, "1", "kampagne-ü"),
        (SPENT, "1", "-c"),
        (Order("campaign_id"), "c-2", "c-1"),  # the id order's key is the id itself
        (Order("campaign_id"), "c-1 ", "c-1"),
        (Order("status"), "PAUSED", "c-1"),
        (Order("category"), "x" * (TEXT_MAX_CHARS["category"] + 1), "c-1"),
        (Order("target_city"), "x" * (TEXT_MAX_CHARS["target_city"] + 1), "c-1"),
        (Order("text"), "ü" * (65_535 // 2 + 1), "c-1"),  # more bytes than TEXT holds
        (Order("text"), "\ud800", "c-1"),  # a lone surrogate is no text MySQL stores
    ],
)
def test_a_key_no_row_can_have_is_refused(order: Order, value: str, campaign_id: str) -> None:
    with pytest.raises(ValidationError) as raised:
        decode_page_token(_token([str(order), value, campaign_id]), order)
    assert raised.value.field == "page_token"


def test_every_sortable_field_has_a_kind() -> None:
    assert set(SORTABLE.values()) <= set(Kind)
    assert SORTABLE["campaign_id"] is Kind.TEXT
    texts = {field for field, kind in SORTABLE.items() if kind is Kind.TEXT}
    assert texts - {"campaign_id", "status"} == set(TEXT_MAX_CHARS)
