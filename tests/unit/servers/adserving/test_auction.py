"""Tests for servers.adserving.auction: highest CPM wins, second price, fair ties (rule 4)."""

from __future__ import annotations

import collections
import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.adserving.auction import Bid, PricingMode, run, second_price
from servers.campaigns.pricing import cpm
from servers.money import MONEY_PLACES


def bid(campaign_id: str, cpc: str, cpa: str) -> Bid:
    return Bid(campaign_id, cpm(Decimal(cpc), Decimal(cpa)), Decimal(cpc), Decimal(cpa))


HIGH = bid("high", "0.002", "0.05")  # cpm 0.00004
MIDDLE = bid("middle", "0.001", "0.03")  # cpm 0.0000225
LOW = bid("low", "0.0004", "0.01")  # cpm 0.000008


def test_no_bids_no_fill() -> None:
    assert run([], random.Random(1)) is None
    assert run(iter(()), random.Random(1), PricingMode.LITERAL) is None


@pytest.mark.parametrize("mode", list(PricingMode))
def test_a_single_bid_pays_its_own_bid(mode: PricingMode) -> None:
    result = run([MIDDLE], random.Random(1), mode)
    assert result is not None
    assert result.winner is MIDDLE
    assert (result.auction_cpm, result.auction_cpc, result.auction_cpa) == (
        MIDDLE.cpm,
        MIDDLE.cpc,
        MIDDLE.cpa,
    )


def test_highest_cpm_wins_and_pays_the_second_highest() -> None:
    result = run([LOW, HIGH, MIDDLE], random.Random(1))
    assert result is not None
    assert result.winner is HIGH
    assert result.auction_cpm == MIDDLE.cpm == Decimal("0.0000225")
    # Scaled by 0.0000225 / 0.00004 = 0.5625.
    assert result.auction_cpc == Decimal("0.001125")
    assert result.auction_cpa == Decimal("0.028125")


def test_scaled_prices_are_rounded_down() -> None:
    winner = Bid("w", Decimal(3), Decimal(1), Decimal(1))
    loser = Bid("l", Decimal(2), Decimal(1), Decimal(1))
    result = run([winner, loser], random.Random(1))
    assert result is not None
    assert result.auction_cpc == Decimal("0.6666666666")
    assert result.auction_cpc.as_tuple().exponent == -MONEY_PLACES


def test_literal_mode_charges_the_runner_ups_own_prices() -> None:
    result = run([LOW, HIGH, MIDDLE], random.Random(1), PricingMode.LITERAL)
    assert result is not None
    assert result.winner is HIGH
    assert (result.auction_cpm, result.auction_cpc, result.auction_cpa) == (
        MIDDLE.cpm,
        MIDDLE.cpc,
        MIDDLE.cpa,
    )


def test_literal_mode_can_charge_more_per_action_than_the_winner_bid() -> None:
    winner = bid("clicks", "0.01", "0")  # cpm 0.000075
    runner_up = bid("sales", "0", "0.1")  # cpm 0.00005, a bigger cpa
    result = run([winner, runner_up], random.Random(1), PricingMode.LITERAL)
    assert result is not None
    assert result.winner is winner
    assert result.auction_cpa == Decimal("0.1") > winner.cpa


def test_a_tie_pays_its_own_bid_and_names_the_other_as_runner_up() -> None:
    first = bid("first", "0.002", "0")
    second = bid("second", "0", "0.03")  # the same cpm 0.000015
    assert first.cpm == second.cpm
    result = run([first, second, LOW], random.Random(7))
    assert result is not None
    assert result.auction_cpm == first.cpm
    assert (result.auction_cpc, result.auction_cpa) == (result.winner.cpc, result.winner.cpa)
    # The other top bidder is the runner-up: literal mode charges its own prices.
    literal = run([first, second, LOW], random.Random(7), PricingMode.LITERAL)
    assert literal is not None
    other = second if literal.winner is first else first
    assert {literal.winner, other} == {first, second}
    assert (literal.auction_cpm, literal.auction_cpc, literal.auction_cpa) == (
        other.cpm,
        other.cpc,
        other.cpa,
    )


def test_a_zero_cpm_winner_pays_its_own_prices() -> None:
    free = Bid("free", Decimal(0), Decimal("0.0000000001"), Decimal(0))
    result = run([free, Bid("also", Decimal(0), Decimal(0), Decimal("1E-10"))], random.Random(1))
    assert result is not None
    assert (result.auction_cpc, result.auction_cpa) == (result.winner.cpc, result.winner.cpa)
    assert second_price(free, Decimal(0)) == (free.cpm, free.cpc, free.cpa)


def test_runner_up_is_the_first_bid_at_the_second_highest_cpm() -> None:
    twin = Bid("middle-twin", MIDDLE.cpm, Decimal(1), Decimal(1))
    result = run([LOW, MIDDLE, twin, HIGH], random.Random(1), PricingMode.LITERAL)
    assert result is not None
    assert (result.auction_cpc, result.auction_cpa) == (MIDDLE.cpc, MIDDLE.cpa)  # not the twin's


def test_no_tie_uses_no_randomness() -> None:
    rng = random.Random(5)
    state = rng.getstate()
    run([LOW, MIDDLE, HIGH], rng)
    assert rng.getstate() == state


def test_ties_are_broken_uniformly_at_random() -> None:
    tied = [Bid(f"tied-{n}", HIGH.cpm, HIGH.cpc, HIGH.cpa) for n in range(3)]
    bids = [LOW, tied[0], MIDDLE, tied[1], LOW, tied[2], MIDDLE]
    rng = random.Random(20250912)
    rounds = 30_000
    wins: collections.Counter[str] = collections.Counter()
    for _ in range(rounds):
        result = run(bids, rng)
        assert result is not None
        wins[result.winner.campaign_id] += 1
    assert set(wins) == {"tied-0", "tied-1", "tied-2"}
    expected = rounds / 3
    chi_square = sum((count - expected) ** 2 / expected for count in wins.values())
    assert chi_square < 13.82  # 2 degrees of freedom, p = 0.001


def test_each_of_two_tied_bidders_wins_about_half_the_time() -> None:
    pair = [bid("a", "0.002", "0"), bid("b", "0", "0.03")]
    rng = random.Random(3)
    wins = collections.Counter(run(pair, rng).winner.campaign_id for _ in range(10_000))  # type: ignore[union-attr]
    assert abs(wins["a"] - 5_000) < 200  # about 4 standard deviations


# A few common prices make ties frequent; arbitrary ones cover the rest.
amounts = st.sampled_from([Decimal(0), Decimal("0.001"), Decimal("0.03")]) | st.decimals(
    min_value=Decimal(0), max_value=Decimal(100), places=6
)
bids = st.lists(st.tuples(amounts, amounts), min_size=1, max_size=30).map(
    lambda prices: [Bid(f"c{n}", cpm(cpc, cpa), cpc, cpa) for n, (cpc, cpa) in enumerate(prices)]
)


@given(bids, st.integers(0, 2**32))
def test_the_winner_never_pays_more_than_it_bid(entries: list[Bid], seed: int) -> None:
    result = run(entries, random.Random(seed))
    assert result is not None
    cpms = sorted((entry.cpm for entry in entries), reverse=True)
    assert result.winner.cpm == cpms[0]
    assert result.auction_cpm == (cpms[1] if len(cpms) > 1 else cpms[0])
    assert result.auction_cpm <= result.winner.cpm
    assert Decimal(0) <= result.auction_cpc <= result.winner.cpc
    assert Decimal(0) <= result.auction_cpa <= result.winner.cpa


@given(bids, st.integers(0, 2**32))
def test_literal_mode_prices_are_the_runner_ups(entries: list[Bid], seed: int) -> None:
    result = run(entries, random.Random(seed), PricingMode.LITERAL)
    assert result is not None
    others = [entry for entry in entries if entry is not result.winner]
    if not others:  # a lone bidder pays its own bid
        assert (result.auction_cpc, result.auction_cpa) == (result.winner.cpc, result.winner.cpa)
        return
    # The runner-up is the first of the other bids at their highest CPM.
    runner_up = next(entry for entry in others if entry.cpm == max(e.cpm for e in others))
    assert result.auction_cpm == runner_up.cpm
    assert (result.auction_cpc, result.auction_cpa) == (runner_up.cpc, runner_up.cpa)
