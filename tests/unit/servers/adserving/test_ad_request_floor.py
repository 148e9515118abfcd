"""Tests for servers.adserving.ad_request.bid_floor: a CPM amount as money is, or none."""

from __future__ import annotations

from decimal import Decimal

import pytest

from servers.adserving.ad_request import bid_floor
from servers.errors import ValidationError


@pytest.mark.parametrize(
    ("text", "floor"),
    [
        ("", Decimal(0)),
        ("   ", Decimal(0)),
        ("0", Decimal(0)),
        ("0.00003", Decimal("0.00003")),
        (" 1.5 ", Decimal("1.5")),
        ("99999999999999.9999999999", Decimal("99999999999999.9999999999")),
    ],
)
def test_a_floor_is_read_as_an_amount(text: str, floor: Decimal) -> None:
    assert bid_floor(text) == floor


@pytest.mark.parametrize(
    "text",
    [
        "-1",
        "abc",
        "1e-5",
        "NaN",
        "Infinity",
        "0.00000000001",
        "100000000000000",
        "\u0661",
        "0x10",
        "1,5",
    ],
)
def test_anything_else_is_refused_naming_bid_floor(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        bid_floor(text)
    assert refused.value.violations[0].field == "bid_floor"


def test_a_non_string_is_refused() -> None:
    with pytest.raises(ValidationError, match="bid_floor"):
        bid_floor(0.5)
