"""ListCampaigns' three text inputs are total: any text is a valid value or a ValidationError.

filter (servers.campaigns.store.parse_filter), order_by and page_token
(servers.campaigns.ordering) come straight from clients. Whatever they send, each reader
returns a value the SQL can use as it is, or refuses naming its own field; nothing else
escapes (no decimal signal, recursion error or unicode error becomes a 500).
"""

from __future__ import annotations

import base64
import json
import shlex
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servers import identifiers
from servers.campaigns.model import Status
from servers.campaigns.ordering import (
    SORTABLE,
    TEXT_MAX_CHARS,
    TIME_MIN,
    Cursor,
    Kind,
    Order,
    decode_page_token,
    encode_page_token,
    parse_order_by,
)
from servers.campaigns.store import FILTERABLE, parse_filter
from servers.errors import ValidationError
from servers.storage.schema import campaigns

FILTER_LENGTHS = {key: campaigns.c[key].type.length for key in FILTERABLE}  # type: ignore[attr-defined]

# Strings that look like sort keys but are not ones: what a forger or a broken client sends.
ODD_VALUES = [
    "NaN",
    "-NaN",
    "sNaN",
    "Infinity",
    "-inf",
    "1e999",
    "-1E+999999999999999999",
    "1E-999999999",
    "١٠٠",  # noqa: RUF001 - Arabic-Indic digits
    "100000000000000",
    "0.00000000001",
    "0E-10",
    "1E+5",
    "12.5000000000",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59.999999",
    "1000-01-01T00:00:00",
    "2026-01-01T00:00:00+05:30",
    "2026-01-01",
    "ACTIVE",
    "PAUSED",
    "",
    " ",
    "\x00",
    "\ud800",
    "x" * 101,
    "c-1",
]
ORDER_TEXTS = [str(Order(field, descending)) for field in SORTABLE for descending in (0, 1)]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)
parts = st.sampled_from(ODD_VALUES) | st.text(max_size=30) | st.sampled_from(ORDER_TEXTS)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


tokens = st.one_of(
    st.text(),
    st.binary().map(_b64),
    json_values.map(lambda value: _b64(json.dumps(value).encode())),
    st.lists(parts, min_size=2, max_size=4).map(lambda doc: _b64(json.dumps(doc).encode())),
    st.tuples(st.sampled_from(ORDER_TEXTS), parts, parts).map(
        lambda doc: _b64(json.dumps(list(doc)).encode())
    ),
)
orders = st.builds(Order, st.sampled_from(sorted(SORTABLE)), st.booleans())


def _assert_storable(cursor: Cursor, order: Order) -> None:
    """_assert_storable checks that cursor is a key a stored row could have in order."""
    assert identifiers.campaign_id(cursor.campaign_id) == cursor.campaign_id
    value, kind = cursor.value, SORTABLE[order.field]
    if kind is Kind.MONEY:
        assert isinstance(value, Decimal)
        assert value.is_finite()
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        assert exponent >= -10
        assert value.copy_abs() < Decimal(10) ** 14
    elif kind is Kind.TIME:
        assert isinstance(value, datetime)
        assert value.tzinfo is None
        assert value >= TIME_MIN
    else:
        assert isinstance(value, str)
        if order.field == "campaign_id":
            assert value == cursor.campaign_id
        elif order.field == "status":
            assert value in set(Status)
        elif order.field == "text":
            assert len(value.encode()) <= 65_535
        else:
            assert len(value) <= TEXT_MAX_CHARS[order.field]


@given(st.text())
def test_any_filter_is_columns_and_values_or_a_filter_error(text: str) -> None:
    try:
        terms = parse_filter(text)
    except ValidationError as error:
        assert error.field == "filter"
        return
    for key, value in terms.items():
        assert key in FILTERABLE
        assert 0 < len(value) <= FILTER_LENGTHS[key]


@given(
    st.dictionaries(
        st.sampled_from(FILTERABLE),
        st.text(min_size=1, max_size=16).filter(lambda v: "\0" not in v),
    )
)
def test_any_filter_a_client_quotes_reads_back(terms: dict[str, str]) -> None:
    text = " ".join(f"{key}={shlex.quote(value)}" for key, value in terms.items())
    assert parse_filter(text) == terms


@pytest.mark.parametrize(
    "text",
    [
        "status=" + "A" * 17,
        "category=" + "x" * 101,
        "target_device=" + "x" * 33,
        "status=ACTIVE status=INACTIVE",
        "campaign_id=c-1",
        "status",
        "status=",
        'category="unclosed',
        "a" * 1_000_000,  # one long word: shlex would take minutes over it
    ],
)
def test_a_filter_no_column_can_match_is_refused(text: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_filter(text)
    assert raised.value.field == "filter"
    assert len(raised.value.message) < 400


@given(st.text() | st.sampled_from(ORDER_TEXTS).map(lambda text: f" {text.upper()} "))
def test_any_order_by_is_a_sortable_field_or_an_order_by_error(text: str) -> None:
    try:
        order = parse_order_by(text)
    except ValidationError as error:
        assert error.field == "order_by"
        return
    assert order.field in SORTABLE
    assert parse_order_by(str(order)) == order


@settings(max_examples=500)
@given(tokens, orders)
def test_any_page_token_is_a_storable_key_or_a_page_token_error(token: str, order: Order) -> None:
    try:
        cursor = decode_page_token(token, order)
    except ValidationError as error:
        assert error.field == "page_token"
        return
    _assert_storable(cursor, order)
    assert decode_page_token(encode_page_token(order, cursor), order) == cursor


@pytest.mark.parametrize("value", ODD_VALUES)
@pytest.mark.parametrize("order", [Order(field) for field in SORTABLE])
def test_no_odd_value_decodes_to_a_key_no_row_has(value: str, order: Order) -> None:
    for campaign_id in ("c-1", value):
        token = _b64(json.dumps([str(order), value, campaign_id]).encode())
        try:
            cursor = decode_page_token(token, order)
        except ValidationError as error:
            assert error.field == "page_token"
        else:
            _assert_storable(cursor, order)
