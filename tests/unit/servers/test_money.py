"""Tests for servers.money and servers.errors: exact decimal money, never float."""

from __future__ import annotations

from decimal import Context, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.errors import DomainError, NotFoundError, ValidationError
from servers.money import (
    MONEY_PLACES,
    ZERO,
    format_money,
    parse_money,
    quantize_down,
    scale_down,
)

money_values = st.decimals(
    min_value=Decimal(0), max_value=Decimal("99999999999999"), places=MONEY_PLACES
)


@pytest.mark.parametrize(
    ("given_value", "expected"),
    [
        ("0.00073", Decimal("0.00073")),
        ("500", Decimal(500)),
        (" 12.5 ", Decimal("12.5")),
        ("0.0000000001", Decimal("1E-10")),
        (Decimal("0.0529"), Decimal("0.0529")),
        (7, Decimal(7)),
        ("0", Decimal(0)),
        (Decimal("-0"), Decimal(0)),
        ("99999999999999.9999999999", Decimal("99999999999999.9999999999")),
    ],
)
def test_parse_money_accepts_plain_decimals(
    given_value: str | Decimal | int, expected: Decimal
) -> None:
    amount = parse_money(given_value, "cpc")
    assert amount == expected
    assert amount.as_tuple().exponent == -MONEY_PLACES
    assert not amount.is_signed()


@pytest.mark.parametrize(
    "bad",
    [
        0.5,
        True,
        None,
        [],
        "",
        "  ",
        "abc",
        "NaN",
        "Infinity",
        "-1",
        "-0.1",
        "+1",
        "1e-5",
        "1E3",
        "1.",
        ".5",
        "1,5",
        "0x10",
        "0.00000000001",
        "100000000000000",
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        Decimal("-0.01"),
        Decimal("0.00000000001"),
        Decimal("1E+20"),
        -3,
    ],
)
def test_parse_money_rejects_everything_else(bad: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_money(bad, "budget")  # type: ignore[arg-type]
    assert caught.value.field == "budget"
    assert str(caught.value).startswith("budget: ")


def test_parse_money_says_why() -> None:
    with pytest.raises(ValidationError, match="cpc: must be a non-negative decimal"):
        parse_money(Decimal(-1), "cpc")
    with pytest.raises(ValidationError, match="at most 10 decimal places"):
        parse_money(Decimal("0.12345678901"), "cpa")
    with pytest.raises(ValidationError, match="not float"):
        parse_money(0.1, "cpa")  # type: ignore[arg-type]


@given(money_values)
def test_parse_money_round_trips_through_format(amount: Decimal) -> None:
    assert parse_money(format_money(amount), "budget") == amount


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0.0000314000"), "0.0000314"),
        (Decimal("500.0000000000"), "500"),
        (Decimal("5E+2"), "500"),
        (Decimal("0E-10"), "0"),
        (ZERO, "0"),
        (Decimal("1.5000000000"), "1.5"),
        (Decimal("1E-10"), "0.0000000001"),
        (Decimal("120"), "120"),
    ],
)
def test_format_money_is_plain_without_trailing_zeros(amount: Decimal, text: str) -> None:
    assert format_money(amount) == text


def test_quantize_down_rounds_toward_zero() -> None:
    assert quantize_down(Decimal("0.12345678919")) == Decimal("0.1234567891")
    assert quantize_down(Decimal("0.99999999999999")) == Decimal("0.9999999999")
    assert quantize_down(Decimal(3)).as_tuple().exponent == -MONEY_PLACES


def test_scale_down_rounds_down_an_inexact_ratio() -> None:
    assert scale_down(Decimal(1), Decimal(2), Decimal(3)) == Decimal("0.6666666666")
    assert scale_down(Decimal("0.0529"), Decimal(1), Decimal(1)) == Decimal("0.0529")


@given(money_values, money_values, money_values)
def test_scale_down_by_a_ratio_at_most_one_never_grows(
    amount: Decimal, first: Decimal, second: Decimal
) -> None:
    low, high = sorted((first, second))
    if high == 0:
        return
    scaled = scale_down(amount, low, high)
    assert ZERO <= scaled <= amount
    with localcontext(Context(prec=100)):
        # Only rounding down separates it from the exact value: less than one unit of 1E-10.
        assert Decimal(0) <= amount * low / high - scaled < Decimal("1E-10")


def test_validation_error_names_the_field() -> None:
    error = ValidationError("target_age_range.start", "must be between 0 and 150")
    assert error.field == "target_age_range.start"
    assert error.message == "must be between 0 and 150"
    assert str(error) == "target_age_range.start: must be between 0 and 150"
    assert isinstance(error, DomainError)


def test_not_found_error_names_kind_and_key() -> None:
    error = NotFoundError("campaign", "abc")
    assert (error.kind, error.key) == ("campaign", "abc")
    assert str(error) == "campaign 'abc' not found"
    assert isinstance(error, DomainError)
