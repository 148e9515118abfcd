"""Tests for servers.campaigns.pricing: the CPM bid of rule 1."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.campaigns.pricing import DEFAULT_WEIGHTS, Weights, cpm
from servers.errors import ValidationError
from servers.money import MONEY_PLACES

amounts = st.decimals(min_value=Decimal(0), max_value=Decimal(10**6), places=MONEY_PLACES)


def test_cpm_weighs_cpc_and_cpa() -> None:
    # The feed's first campaign: 0.0075 * 0.00066 + 0.0005 * 0.0529.
    assert cpm(Decimal("0.00066"), Decimal("0.0529")) == Decimal("0.0000314")


def test_default_weights_are_the_designs() -> None:
    assert Weights(cpc=Decimal("0.0075"), cpa=Decimal("0.0005")) == DEFAULT_WEIGHTS


def test_weights_are_configurable() -> None:
    weights = Weights.parse(" 0.01 ", "0")
    assert cpm(Decimal(2), Decimal(100), weights) == Decimal("0.02")


@pytest.mark.parametrize(
    ("cpc", "cpa"), [("abc", "0"), ("-0.1", "0"), ("0", "NaN"), ("0", "1E-11")]
)
def test_bad_weights_are_refused(cpc: str, cpa: str) -> None:
    with pytest.raises(ValidationError):
        Weights.parse(cpc, cpa)


def test_cpm_is_rounded_down_to_money_places() -> None:
    tiny = cpm(Decimal("0.0000000001"), Decimal(0))  # 7.5E-13 exactly
    assert tiny == 0
    assert tiny.as_tuple().exponent == -MONEY_PLACES
    assert cpm(Decimal("0.0000001"), Decimal(0)) == Decimal("0.0000000007")


@given(amounts, amounts)
def test_cpm_is_exact_up_to_rounding_down(cpc: Decimal, cpa: Decimal) -> None:
    exact = Decimal("0.0075") * cpc + Decimal("0.0005") * cpa
    bid = cpm(cpc, cpa)
    assert bid <= exact < bid + Decimal("1E-10")
