"""Tests for settle with the delivery controls: daily budgets, their midnight, ASAP pacing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from servers.ads.charging import UserAction, charge
from servers.campaigns.instructions import CampaignState, apply
from servers.campaigns.model import Action, CampaignSpec, Instruction, Status
from servers.feedback.settlement import settle
from servers.money import MONEY_PLACES

KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = datetime(2025, 9, 12, 10, 0, tzinfo=KOLKATA)  # inside the valid campaign's window
TODAY = date(2025, 9, 12)
MakeSpec = Callable[..., CampaignSpec]


def created(spec: CampaignSpec, **changes: object) -> CampaignState:
    state = apply(None, Instruction(Action.NEW, spec, 1), NOW, KOLKATA).state
    return dataclasses.replace(state, **changes)  # type: ignore[arg-type]


def click(state: CampaignState, price: str, now: datetime = NOW) -> tuple[CampaignState, Decimal]:
    result = settle(
        state,
        UserAction.CLICK,
        auction_cpc=Decimal(price),
        auction_cpa=Decimal(0),
        now=now,
        tz=KOLKATA,
    )
    return result.state, result.expenditure


def test_a_charge_stops_at_the_daily_budget_without_exhausting(make_spec: MakeSpec) -> None:
    state = created(make_spec(daily_budget="1", pacing="ASAP"))
    state, paid = click(state, "0.75")
    assert paid == Decimal("0.75") and state.spent_today == Decimal("0.75")
    assert state.spent_day == TODAY
    state, paid = click(state, "0.75")
    assert paid == Decimal("0.25")  # what the device is told: only what is left today
    assert state.spent_today == Decimal(1) and state.spent == Decimal(1)
    assert state.status is Status.ACTIVE  # it resumes tomorrow
    state, paid = click(state, "0.75")
    assert paid == 0 and state.spent == Decimal(1)


def test_spent_today_starts_over_at_local_midnight(make_spec: MakeSpec) -> None:
    state = created(make_spec(daily_budget="1", pacing="ASAP"), spent=Decimal(1))
    state = dataclasses.replace(state, spent_today=Decimal(1), spent_day=TODAY)
    tomorrow = datetime(2025, 9, 13, 0, 0, tzinfo=KOLKATA)
    state, paid = click(state, "0.5", tomorrow - timedelta(seconds=1))
    assert paid == 0
    state, paid = click(state, "0.5", tomorrow)
    assert paid == Decimal("0.5")
    assert (state.spent_today, state.spent_day, state.spent) == (
        Decimal("0.5"),
        date(2025, 9, 13),
        Decimal("1.5"),
    )


def test_asap_has_no_slot_limit_but_even_waits(make_spec: MakeSpec) -> None:
    asap = created(make_spec(pacing="ASAP", budget="500"))
    assert asap.slot.amount == Decimal(500)  # all it may spend now
    even = created(make_spec(budget="500"))
    assert even.slot.amount < Decimal(10)  # rule 7: 500 over the 192 slots left


def test_the_budget_still_caps_before_the_daily_budget(make_spec: MakeSpec) -> None:
    state = created(make_spec(budget="2", daily_budget="5"), spent=Decimal("1.5"))
    state, paid = click(state, "1")
    assert paid == Decimal("0.5")
    assert state.status is Status.INACTIVE  # the lifetime budget is exhausted


amounts = st.decimals(min_value=Decimal(0), max_value=Decimal(1000), places=MONEY_PLACES)


@settings(max_examples=200)
@given(amounts, amounts, amounts, st.none() | amounts)
def test_a_charge_never_passes_the_budget_nor_the_daily_budget(
    remaining: Decimal, slot: Decimal, amount: Decimal, daily_left: Decimal | None
) -> None:
    result = charge(remaining, slot, amount, daily_left=daily_left)
    assert 0 <= result.amount_charged <= min(amount, remaining)
    if daily_left is not None:
        assert result.amount_charged <= daily_left
    assert result.new_remaining == remaining - result.amount_charged
    assert result.new_slot_budget == max(slot - result.amount_charged, Decimal(0))


def test_an_even_day_is_paced_afresh_from_local_midnight(make_spec: MakeSpec) -> None:
    """A slot that began before midnight does not carry yesterday's spent daily budget over."""
    spec = make_spec(
        daily_budget="1",
        date_range={"start": "2025-09-12", "end": "2025-09-14"},
        time_range={"start": "0:05:00", "end": "0:00:00"},  # slots start at :05, :15, ...
    )
    evening = datetime(2025, 9, 12, 23, 55, tzinfo=KOLKATA)
    state = apply(None, Instruction(Action.NEW, spec, 1), evening, KOLKATA).state
    state = dataclasses.replace(
        state,
        spent=Decimal(1),
        spent_today=Decimal(1),
        spent_day=TODAY,
        slot=dataclasses.replace(state.slot, amount=Decimal(0)),
    )
    state, paid = click(state, "0.01", evening + timedelta(minutes=4))
    assert paid == 0
    midnight = datetime(2025, 9, 13, 0, 0, tzinfo=KOLKATA)
    state, paid = click(state, "0.001", midnight + timedelta(seconds=1))
    assert paid == Decimal("0.001")
    assert state.slot.slot_start == midnight  # the day's first pacing slot
    # 1 over the day's 145 slots (a partial first one counts), less the click.
    assert state.slot.amount == Decimal("0.0058965517")
