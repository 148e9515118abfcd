"""Auction: choosing the ad to show and its price (docs/design.md rule 4).

Highest CPM wins; ties are broken uniformly at random. In second-price mode the winner pays
the second-highest CPM and its per-action prices are scaled to it, auction_cpc = cpc *
cpm₂/cpm₁ and auction_cpa = cpa * cpm₂/cpm₁ (rounded down), so it never pays more than it
bid; a lone bidder pays its own bid. Literal mode, kept for compatibility, charges the
winner the runner-up's own cpc and cpa, which can exceed the winner's own.

Floors (docs/design.md §7): bids under the floor do not enter. The clearing CPM is
max(runner-up, floor), scaled into cpc and cpa as above and never above the winner's bid; a
lone entrant pays the floor when one is set (> 0), its own bid when not, so with no floor the
prices are rule 4's. Literal mode charges the runner-up's own prices as before (the runner-up
bids at least the floor); a lone entrant under a floor pays the floor, scaled as in second
price mode.

Hot path: build each campaign's Bid once with the ad index and pass the eligible ones to run,
which is one pass with no allocation per bid.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from servers.money import scale_down


class PricingMode(StrEnum):
    """PricingMode says what the winner pays; SECOND_PRICE unless configured for compatibility."""

    SECOND_PRICE = "second_price"
    LITERAL = "literal"


@dataclass(frozen=True, slots=True)
class Bid:
    """Bid is a campaign entering the auction: its CPM bid and its per-action bids."""

    campaign_id: str
    cpm: Decimal
    cpc: Decimal
    cpa: Decimal


@dataclass(frozen=True, slots=True)
class AuctionResult:
    """AuctionResult is the winner and what it pays per thousand views, per click, per sale."""

    winner: Bid
    auction_cpm: Decimal
    auction_cpc: Decimal
    auction_cpa: Decimal
    runner_up_cpm: Decimal | None = None  # the best losing bid; None when the winner was alone
    floor_cpm: Decimal = Decimal(0)  # the floor the auction held


def run(
    bids: Iterable[Bid],
    rng: random.Random,
    mode: PricingMode = PricingMode.SECOND_PRICE,
    floor: Decimal = Decimal(0),
) -> AuctionResult | None:
    """run holds the auction over bids at floor or more; None when nobody enters (no fill).

    The runner-up is the best losing bid: another top bidder on a tie (the first in input
    order), else the first bid with the highest lower CPM.
    """
    winner: Bid | None = None
    first_top: Bid | None = None  # the first bid seen at the top CPM
    second_top: Bid | None = None  # the second bid seen at the top CPM
    best_below: Bid | None = None  # the first bid at the highest CPM below the top
    ties = 0
    for bid in bids:
        if bid.cpm < floor:
            continue  # under the floor: does not enter
        if winner is None or bid.cpm > winner.cpm:
            if first_top is not None:
                best_below = first_top
            winner = first_top = bid
            second_top = None
            ties = 1
        elif bid.cpm == winner.cpm:
            ties += 1
            if second_top is None:
                second_top = bid
            # Reservoir sampling: the k-th tied bid takes the lead with probability 1/k,
            # which leaves every tied bidder equally likely to win after one pass.
            if rng.randrange(ties) == 0:
                winner = bid
        elif best_below is None or bid.cpm > best_below.cpm:
            best_below = bid
    if winner is None:
        return None
    runner_up = best_below
    if ties > 1:  # a tie: the runner-up is another top bidder
        runner_up = second_top if winner is first_top else first_top
    return _price(winner, runner_up, mode, floor)


def _price(winner: Bid, runner_up: Bid | None, mode: PricingMode, floor: Decimal) -> AuctionResult:
    """_price is what winner pays given the best losing bid (None with a single bidder)."""
    if runner_up is None:
        if floor > 0:
            cpm, cpc, cpa = second_price(winner, floor)
        else:
            cpm, cpc, cpa = winner.cpm, winner.cpc, winner.cpa
    elif mode is PricingMode.LITERAL:
        cpm, cpc, cpa = runner_up.cpm, runner_up.cpc, runner_up.cpa
    else:
        cpm, cpc, cpa = second_price(winner, max(runner_up.cpm, floor))
    return AuctionResult(
        winner=winner,
        auction_cpm=cpm,
        auction_cpc=cpc,
        auction_cpa=cpa,
        runner_up_cpm=None if runner_up is None else runner_up.cpm,
        floor_cpm=floor,
    )


def second_price(winner: Bid, price_cpm: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """second_price scales the winner's cpc and cpa to price_cpm: (cpm, cpc, cpa) it pays."""
    if winner.cpm == 0 or price_cpm >= winner.cpm:
        return winner.cpm, winner.cpc, winner.cpa
    return (
        price_cpm,
        scale_down(winner.cpc, price_cpm, winner.cpm),
        scale_down(winner.cpa, price_cpm, winner.cpm),
    )
