"""Tests for servers.campaigns.pacing: the slot budget of rule 7."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from servers.campaigns.model import Schedule
from servers.campaigns.pacing import SlotBudget, fresh_slot, roll_over, slot_budget
from servers.campaigns.schedule import SLOT, utc_window
from servers.money import MONEY_PLACES

KOLKATA = ZoneInfo("Asia/Kolkata")
SIX_HOURS = Schedule(date(2025, 9, 12), date(2025, 9, 12), time(6), time(12))  # 36 slots


def test_slot_budget_divides_what_is_left_by_the_slots_left() -> None:
    assert slot_budget(Decimal(360), 36) == Decimal(10)
    assert slot_budget(Decimal(1), 3) == Decimal("0.3333333333")


def test_slot_budget_is_zero_without_slots_or_budget() -> None:
    assert slot_budget(Decimal(100), 0) == 0
    assert slot_budget(Decimal(0), 36) == 0
    assert slot_budget(Decimal(-1), 36) == 0


@given(
    st.decimals(min_value=Decimal(0), max_value=Decimal(10**9), places=MONEY_PLACES),
    st.integers(min_value=1, max_value=100_000),
)
def test_slot_budgets_never_add_up_to_more_than_the_budget(remaining: Decimal, slots: int) -> None:
    share = slot_budget(remaining, slots)
    assert share * slots <= remaining
    assert remaining - share * slots < Decimal("1E-10") * slots + Decimal("1E-10")
    assert share.as_tuple().exponent == -MONEY_PLACES


def test_fresh_slot_paces_at_now() -> None:
    start, _ = utc_window(SIX_HOURS, KOLKATA)
    before = fresh_slot(SIX_HOURS, Decimal(360), datetime(2025, 9, 12, 1, tzinfo=KOLKATA), KOLKATA)
    assert before == SlotBudget(slot_start=start, amount=Decimal(10))
    midway = start + 18 * SLOT + timedelta(minutes=4)
    assert fresh_slot(SIX_HOURS, Decimal(180), midway, KOLKATA) == SlotBudget(
        slot_start=start + 18 * SLOT, amount=Decimal(10)
    )
    after = fresh_slot(SIX_HOURS, Decimal(180), start + timedelta(hours=7), KOLKATA)
    assert after.amount == 0


def test_roll_over_keeps_the_slot_until_its_boundary() -> None:
    start, _ = utc_window(SIX_HOURS, KOLKATA)
    current = SlotBudget(slot_start=start, amount=Decimal("2.5"))  # partly spent
    same = roll_over(current, SIX_HOURS, Decimal(300), start + SLOT - timedelta(seconds=1), KOLKATA)
    assert same is current
    nxt = roll_over(current, SIX_HOURS, Decimal(350), start + SLOT, KOLKATA)
    assert nxt == SlotBudget(slot_start=start + SLOT, amount=Decimal(10))


def test_the_window_opening_does_not_reset_an_early_slot_budget() -> None:
    start, _ = utc_window(SIX_HOURS, KOLKATA)
    early = fresh_slot(SIX_HOURS, Decimal(360), start - timedelta(hours=2), KOLKATA)
    assert roll_over(early, SIX_HOURS, Decimal(360), start, KOLKATA) is early
