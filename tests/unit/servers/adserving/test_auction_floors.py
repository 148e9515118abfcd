"""Tests for floors in servers.adserving.auction: who enters, and max(runner-up, floor) (§7)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.adserving.auction import Bid, PricingMode, run
from servers.campaigns.pricing import cpm

HIGH = Bid("high", Decimal("0.00004"), Decimal("0.002"), Decimal("0.05"))
MIDDLE = Bid("middle", Decimal("0.0000225"), Decimal("0.001"), Decimal("0.03"))
LOW = Bid("low", Decimal("0.000008"), Decimal("0.0004"), Decimal("0.01"))


def test_bids_under_the_floor_do_not_enter() -> None:
    assert run([LOW, MIDDLE], random.Random(1), floor=Decimal("0.00003")) is None
    result = run([LOW, HIGH], random.Random(1), floor=Decimal("0.00001"))
    assert result is not None
    assert result.winner is HIGH
    assert result.runner_up_cpm is None  # LOW was under the floor: HIGH was alone


def test_a_bid_at_the_floor_enters() -> None:
    result = run([MIDDLE], random.Random(1), floor=MIDDLE.cpm)
    assert result is not None
    assert result.auction_cpm == MIDDLE.cpm


def test_a_floor_above_the_runner_up_sets_the_price() -> None:
    floor = Decimal("0.00003")
    result = run([HIGH, MIDDLE], random.Random(1), floor=Decimal("0.00002"))
    assert result is not None
    assert (result.auction_cpm, result.runner_up_cpm) == (MIDDLE.cpm, MIDDLE.cpm)
    result = run([HIGH, MIDDLE, LOW], random.Random(1), floor=floor)
    assert result is not None
    # MIDDLE and LOW are under the floor; HIGH alone pays the floor, scaled by 0.75.
    assert result.auction_cpm == floor
    assert result.auction_cpc == Decimal("0.0015")
    assert result.auction_cpa == Decimal("0.0375")
    assert result.floor_cpm == floor


def test_the_runner_up_above_the_floor_sets_the_price() -> None:
    result = run([HIGH, MIDDLE, LOW], random.Random(1), floor=Decimal("0.00001"))
    assert result is not None
    assert result.auction_cpm == MIDDLE.cpm
    assert result.runner_up_cpm == MIDDLE.cpm
    assert result.floor_cpm == Decimal("0.00001")


@pytest.mark.parametrize("mode", list(PricingMode))
def test_a_lone_entrant_pays_the_floor_if_set_else_its_bid(mode: PricingMode) -> None:
    alone = run([HIGH], random.Random(1), mode)
    assert alone is not None
    assert (alone.auction_cpm, alone.auction_cpc, alone.auction_cpa) == (
        HIGH.cpm,
        HIGH.cpc,
        HIGH.cpa,
    )
    floored = run([HIGH], random.Random(1), mode, floor=Decimal("0.00002"))
    assert floored is not None
    assert floored.auction_cpm == Decimal("0.00002")
    assert (floored.auction_cpc, floored.auction_cpa) == (Decimal("0.001"), Decimal("0.025"))


def test_literal_mode_charges_the_runner_ups_prices_above_the_floor() -> None:
    result = run([HIGH, MIDDLE], random.Random(1), PricingMode.LITERAL, floor=Decimal("0.00001"))
    assert result is not None
    assert (result.auction_cpc, result.auction_cpa) == (MIDDLE.cpc, MIDDLE.cpa)


amounts = st.sampled_from([Decimal(0), Decimal("0.001"), Decimal("0.03")]) | st.decimals(
    min_value=Decimal(0), max_value=Decimal(100), places=6
)
bids = st.lists(st.tuples(amounts, amounts), min_size=1, max_size=30).map(
    lambda prices: [Bid(f"c{n}", cpm(cpc, cpa), cpc, cpa) for n, (cpc, cpa) in enumerate(prices)]
)
floors = st.sampled_from([Decimal(0), Decimal("0.0000075")]) | st.decimals(
    min_value=Decimal(0), max_value=Decimal(2), places=10
)


@given(bids, floors, st.integers(0, 2**32))
def test_the_price_never_exceeds_the_bid_nor_falls_under_the_floor(
    entries: list[Bid], floor: Decimal, seed: int
) -> None:
    result = run(entries, random.Random(seed), floor=floor)
    entering = sorted((e.cpm for e in entries if e.cpm >= floor), reverse=True)
    if not entering:
        assert result is None
        return
    assert result is not None
    assert result.winner.cpm == entering[0]
    expected = max(entering[1], floor) if len(entering) > 1 else (floor or entering[0])
    assert result.auction_cpm == expected
    assert floor <= result.auction_cpm <= result.winner.cpm
    assert Decimal(0) <= result.auction_cpc <= result.winner.cpc
    assert Decimal(0) <= result.auction_cpa <= result.winner.cpa
    assert result.runner_up_cpm == (entering[1] if len(entering) > 1 else None)


@given(bids, st.integers(0, 2**32))
def test_no_floor_keeps_todays_prices(entries: list[Bid], seed: int) -> None:
    today = run(entries, random.Random(seed))
    floored = run(entries, random.Random(seed), floor=Decimal(0))
    assert today is not None and floored is not None
    assert (today.winner, today.auction_cpm, today.auction_cpc, today.auction_cpa) == (
        floored.winner,
        floored.auction_cpm,
        floored.auction_cpc,
        floored.auction_cpa,
    )
    cpms = sorted((e.cpm for e in entries), reverse=True)
    assert today.auction_cpm == (cpms[1] if len(cpms) > 1 else cpms[0])
