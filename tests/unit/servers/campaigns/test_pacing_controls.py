"""Tests for pacing with the delivery controls: ASAP, EVEN over dayparts and daily budgets."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from servers.campaigns.model import Daypart, Pacing, Schedule
from servers.campaigns.pacing import paced_amount, serving_slots, slot_budget
from servers.campaigns.schedule import remaining_slots, utc_window
from servers.money import MONEY_PLACES

KOLKATA = ZoneInfo("Asia/Kolkata")
TWO_DAYS = Schedule(date(2025, 9, 15), date(2025, 9, 16), time(6), time(18))  # Mon 6:00-Tue 18:00
MORNINGS = (Daypart(frozenset(range(7)), 9, 12),)
START = datetime(2025, 9, 15, 6, 0, tzinfo=KOLKATA)


def test_even_without_controls_is_rule_7() -> None:
    for now in (START, START + timedelta(hours=5, minutes=3)):
        slots = remaining_slots(TWO_DAYS, now, KOLKATA)
        assert paced_amount(TWO_DAYS, Decimal(360), now, KOLKATA) == slot_budget(
            Decimal(360), slots
        )


def test_asap_may_spend_everything_left_or_what_is_left_today() -> None:
    assert paced_amount(TWO_DAYS, Decimal(360), START, KOLKATA, pacing=Pacing.ASAP) == 360
    assert (
        paced_amount(
            TWO_DAYS, Decimal(360), START, KOLKATA, pacing=Pacing.ASAP, daily_left=Decimal(7)
        )
        == 7
    )


def test_even_over_dayparts_counts_only_the_daypart_slots() -> None:
    # Monday 9-12 and Tuesday 9-12 are left: 36 slots.
    assert serving_slots(TWO_DAYS, MORNINGS, START, utc_window(TWO_DAYS, KOLKATA)[1], KOLKATA) == 36
    assert paced_amount(TWO_DAYS, Decimal(360), START, KOLKATA, dayparts=MORNINGS) == 10


def test_even_with_a_daily_budget_spreads_it_over_todays_slots() -> None:
    # Monday has 18 hours left to midnight: 108 slots; the window's 216 slots would give 1.66.
    assert paced_amount(TWO_DAYS, Decimal(360), START, KOLKATA, daily_left=Decimal(54)) == Decimal(
        "0.5"
    )
    assert paced_amount(TWO_DAYS, Decimal(360), START, KOLKATA, daily_left=Decimal(0)) == 0
    share = paced_amount(TWO_DAYS, Decimal(360), START, KOLKATA, daily_left=Decimal(10**6))
    assert share == slot_budget(Decimal(360), 216)  # the budget's share is the smaller


def test_even_with_both_takes_todays_daypart_slots() -> None:
    # Today's daypart: 9-12, 18 slots.
    amount = paced_amount(
        TWO_DAYS, Decimal(360), START, KOLKATA, dayparts=MORNINGS, daily_left=Decimal(9)
    )
    assert amount == Decimal("0.5")


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 2 * 24 * 6),
    st.decimals(min_value=Decimal(0), max_value=Decimal(10**6), places=MONEY_PLACES),
    st.none() | st.decimals(min_value=Decimal(0), max_value=Decimal(10**6), places=MONEY_PLACES),
    st.sampled_from([(), MORNINGS]),
)
def test_an_even_slot_never_spends_more_than_its_share(
    minutes10: int, remaining: Decimal, daily_left: Decimal | None, dayparts: tuple[Daypart, ...]
) -> None:
    now = START + timedelta(minutes=10 * minutes10)
    amount = paced_amount(
        TWO_DAYS, remaining, now, KOLKATA, dayparts=dayparts, daily_left=daily_left
    )
    assert 0 <= amount <= remaining
    if daily_left is not None:
        assert amount <= daily_left
    slots = serving_slots(TWO_DAYS, dayparts, now, utc_window(TWO_DAYS, KOLKATA)[1], KOLKATA)
    assert amount * max(slots, 1) <= remaining
