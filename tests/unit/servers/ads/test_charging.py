"""Tests for servers.ads.charging: action, expenditure and capped charges (rules 6 and 7).

A charge applied to a campaign (what the FeedbackService runs) is tested in
tests/unit/servers/feedback/test_settlement.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.ads.charging import (
    Charge,
    UserAction,
    charge,
    expenditure,
    user_action,
)
from servers.errors import ValidationError
from servers.money import MONEY_PLACES

CPC = Decimal("0.001125")
CPA = Decimal("0.028125")


@pytest.mark.parametrize(
    ("view", "click", "acquisition", "action"),
    [
        (0, 0, 0, UserAction.VIEW),
        (1, 0, 0, UserAction.VIEW),
        (0, 1, 0, UserAction.CLICK),
        (1, 1, 0, UserAction.CLICK),
        (0, 0, 1, UserAction.ACQUISITION),
        (1, 0, 1, UserAction.ACQUISITION),
        (0, 1, 1, UserAction.ACQUISITION),
        (1, 1, 1, UserAction.ACQUISITION),
        (True, False, False, UserAction.VIEW),
        (False, True, False, UserAction.CLICK),
    ],
)
def test_the_most_valuable_flag_is_the_action(
    view: int, click: int, acquisition: int, action: UserAction
) -> None:
    assert user_action(view, click, acquisition) is action


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        ((2, 0, 0), "view"),
        ((0, -1, 0), "click"),
        ((0, 0, "1"), "acquisition"),
        ((0, 1.0, 0), "click"),
        ((None, 0, 0), "view"),
        ((0, 0, 5), "acquisition"),
    ],
)
def test_flags_must_be_zero_or_one(flags: tuple[object, object, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        user_action(*flags)
    assert caught.value.field == field
    assert str(caught.value) == f"{field}: must be 0 or 1"


def test_user_action_values_are_lower_case() -> None:
    assert [action.value for action in UserAction] == ["view", "click", "acquisition"]


def test_expenditure_follows_the_action() -> None:
    assert expenditure(UserAction.ACQUISITION, CPC, CPA) == CPA
    assert expenditure(UserAction.CLICK, CPC, CPA) == CPC
    assert expenditure(UserAction.VIEW, CPC, CPA) == 0


def test_a_charge_draws_down_budget_and_slot_budget() -> None:
    result = charge(Decimal(10), Decimal(1), Decimal("0.25"))
    assert result == Charge(
        amount_charged=Decimal("0.25"),
        new_remaining=Decimal("9.75"),
        new_slot_budget=Decimal("0.75"),
        exhausted=False,
    )


def test_a_charge_is_capped_at_the_remaining_budget() -> None:
    result = charge(Decimal("0.01"), Decimal("0.5"), Decimal("0.028125"))
    assert result.amount_charged == Decimal("0.01") < Decimal("0.028125")
    assert result.new_remaining == 0
    assert result.exhausted


def test_spending_exactly_the_remaining_budget_exhausts_it() -> None:
    result = charge(CPA, Decimal(1), CPA)
    assert result.amount_charged == CPA  # not capped
    assert result.exhausted
    assert result.new_remaining == 0


def test_the_slot_budget_never_goes_below_zero() -> None:
    result = charge(Decimal(10), Decimal("0.01"), Decimal("0.5"))
    assert result.amount_charged == Decimal("0.5")  # the ad was served: the action is owed
    assert result.new_slot_budget == 0
    assert charge(Decimal(10), Decimal(0), CPC).new_slot_budget == 0


def test_an_exhausted_budget_charges_nothing() -> None:
    result = charge(Decimal(0), Decimal(0), CPA)
    assert result.amount_charged == 0 < CPA
    assert result.exhausted


def test_a_view_charges_nothing() -> None:
    result = charge(Decimal(5), Decimal(1), expenditure(UserAction.VIEW, CPC, CPA))
    assert (result.amount_charged, result.new_remaining, result.exhausted) == (
        Decimal(0),
        Decimal(5),
        False,
    )


def test_a_negative_amount_is_refused() -> None:
    with pytest.raises(ValidationError):
        charge(Decimal(5), Decimal(1), Decimal("-0.1"))


money = st.decimals(min_value=Decimal(0), max_value=Decimal(50), places=MONEY_PLACES)
flags = st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 1))


@given(
    budget=st.decimals(
        min_value=Decimal("0.0000000001"), max_value=Decimal(100), places=MONEY_PLACES
    ),
    slot=money,
    prices=st.lists(st.tuples(flags, money, money), max_size=60),
)
def test_charges_never_pass_the_budget_and_add_up_to_spent(
    budget: Decimal, slot: Decimal, prices: list[tuple[tuple[int, int, int], Decimal, Decimal]]
) -> None:
    remaining, spent = budget, Decimal(0)
    for (view, click, acquisition), cpc, cpa in prices:
        owed = expenditure(user_action(view, click, acquisition), cpc, cpa)
        result = charge(remaining, slot, owed)
        assert Decimal(0) <= result.amount_charged <= owed
        assert result.new_slot_budget >= 0
        assert result.new_slot_budget <= slot
        assert result.exhausted == (result.new_remaining == 0)
        remaining, slot = result.new_remaining, result.new_slot_budget
        spent += result.amount_charged
        assert Decimal(0) <= remaining <= budget
        assert spent <= budget
    assert spent == budget - remaining  # Σ acknowledged = Σ spent: test_settlement
