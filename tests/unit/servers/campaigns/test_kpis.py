"""Tests for servers.campaigns.kpis' pure part: delivery totals and their CTR."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from servers.campaigns.kpis import Totals


def test_ctr_is_clicks_over_impressions() -> None:
    assert Totals(impressions=4, clicks=1).ctr == Decimal("0.25")
    assert Totals(impressions=3, clicks=3, acquisitions=1).ctr == 1


def test_no_impressions_is_a_ctr_of_zero() -> None:
    assert Totals().ctr == 0


@given(impressions=st.integers(min_value=1, max_value=10**9), share=st.fractions(0, 1))
def test_ctr_is_a_ratio_between_zero_and_one(impressions: int, share: object) -> None:
    clicks = int(impressions * share)  # type: ignore[operator]
    assert 0 <= Totals(impressions, clicks).ctr <= 1
