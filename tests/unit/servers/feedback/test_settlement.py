"""Tests for servers.feedback.settlement: a user's action charged to its campaign (rules 6, 7).

settle is what the FeedbackService's ledger runs under the campaign's row lock: the action's
expenditure, capped at the remaining budget, added to spent and drawn from the slot budget
(rolled over at a slot boundary first); a campaign spent to zero goes INACTIVE.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.ads.charging import UserAction, expenditure
from servers.campaigns import schedule as schedules
from servers.campaigns.instructions import CampaignState, apply
from servers.campaigns.model import Action, CampaignSpec, Instruction, Status, StatusReason
from servers.campaigns.pacing import SlotBudget, fresh_slot
from servers.feedback.settlement import Settlement, settle
from servers.money import MONEY_PLACES

KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = datetime(2025, 9, 12, 10, 0, tzinfo=KOLKATA)  # inside the valid campaign's window
CPC = Decimal("0.001125")
CPA = Decimal("0.028125")
STOPPED = f"{StatusReason.STOPPED}: fraud"

MakeSpec = Callable[..., CampaignSpec]


def campaign(spec: CampaignSpec, *, spent: str = "0", **changes: object) -> CampaignState:
    """campaign is spec created at NOW, having spent spent, with any field replaced."""
    state = apply(None, Instruction(Action.NEW, spec, 7, partition=2, record_ms=99), NOW, KOLKATA)
    return dataclasses.replace(state.state, spent=Decimal(spent), **changes)  # type: ignore[arg-type]


def settle_at(
    state: CampaignState,
    action: UserAction,
    now: datetime = NOW,
    cpc: Decimal = CPC,
    cpa: Decimal = CPA,
) -> Settlement:
    return settle(state, action, auction_cpc=cpc, auction_cpa=cpa, now=now, tz=KOLKATA)


@pytest.mark.parametrize(
    ("action", "owed"),
    [(UserAction.VIEW, Decimal(0)), (UserAction.CLICK, CPC), (UserAction.ACQUISITION, CPA)],
)
def test_the_action_is_charged_at_the_auctions_price(
    make_spec: MakeSpec, action: UserAction, owed: Decimal
) -> None:
    state = campaign(make_spec(), spent="100")
    result = settle_at(state, action)
    assert result.expenditure == owed
    assert result.state.spent == Decimal(100) + owed
    assert result.state.slot == SlotBudget(state.slot.slot_start, state.slot.amount - owed)
    assert not result.exhausted
    assert (result.state.status, result.state.status_reason) == (state.status, state.status_reason)


def test_a_view_leaves_the_campaign_as_it_was(make_spec: MakeSpec) -> None:
    state = campaign(make_spec(), spent="1")
    assert settle_at(state, UserAction.VIEW) == Settlement(state, Decimal(0), exhausted=False)


def test_the_charge_is_capped_at_the_remaining_budget(make_spec: MakeSpec) -> None:
    state = campaign(make_spec(budget="500"), spent="499.98")
    result = settle_at(state, UserAction.ACQUISITION)
    assert result.expenditure == Decimal("0.02") < CPA  # what the device is told it cost
    assert result.state.spent == Decimal(500)
    assert result.state.remaining == 0
    assert result.exhausted
    assert result.state.status is Status.INACTIVE
    assert result.state.status_reason == StatusReason.BUDGET_EXHAUSTED


def test_spending_exactly_what_is_left_exhausts_the_budget(make_spec: MakeSpec) -> None:
    state = campaign(make_spec(budget="500"), spent=str(Decimal(500) - CPA))
    result = settle_at(state, UserAction.ACQUISITION)
    assert result.expenditure == CPA  # not capped
    assert result.exhausted
    assert result.state.status is Status.INACTIVE


def test_an_exhausted_campaign_is_charged_nothing(make_spec: MakeSpec) -> None:
    spent = campaign(make_spec(budget="500"), spent="500")
    exhausted = dataclasses.replace(
        spent, status=Status.INACTIVE, status_reason=str(StatusReason.BUDGET_EXHAUSTED)
    )
    result = settle_at(exhausted, UserAction.ACQUISITION)
    assert result.expenditure == 0
    assert result.exhausted
    assert result.state == exhausted


def test_the_slot_budget_never_goes_below_zero(make_spec: MakeSpec) -> None:
    state = campaign(make_spec())
    state = dataclasses.replace(state, slot=SlotBudget(state.slot.slot_start, Decimal("0.01")))
    result = settle_at(state, UserAction.ACQUISITION)
    assert result.expenditure == CPA  # the ad was served: the action is owed in full
    assert result.state.slot.amount == 0
    assert settle_at(result.state, UserAction.CLICK).state.slot.amount == 0


def test_within_a_slot_the_slot_budget_is_only_drawn_down(make_spec: MakeSpec) -> None:
    state = campaign(make_spec())
    state = dataclasses.replace(state, slot=SlotBudget(state.slot.slot_start, Decimal("0.5")))
    just_before_the_boundary = NOW + schedules.SLOT - timedelta(microseconds=1)
    result = settle_at(state, UserAction.CLICK, now=just_before_the_boundary)
    assert result.state.slot == SlotBudget(state.slot.slot_start, Decimal("0.5") - CPC)


def test_a_slot_boundary_rolls_the_slot_budget_over_before_the_charge(
    make_spec: MakeSpec,
) -> None:
    spec = make_spec()
    state = campaign(spec, spent="100")
    state = dataclasses.replace(state, slot=SlotBudget(state.slot.slot_start, Decimal(0)))
    later = NOW + schedules.SLOT
    fresh = fresh_slot(spec.schedule, Decimal(400), later, KOLKATA)  # what was left before
    assert fresh.slot_start > state.slot.slot_start
    result = settle_at(state, UserAction.ACQUISITION, now=later)
    assert result.state.slot == SlotBudget(fresh.slot_start, fresh.amount - CPA)
    assert result.expenditure == CPA


def test_past_the_window_the_slot_budget_is_zero_but_the_action_is_owed(
    make_spec: MakeSpec,
) -> None:
    spec = make_spec()
    _, end = schedules.window(spec.schedule, KOLKATA)
    result = settle_at(campaign(spec, spent="1"), UserAction.CLICK, now=end + timedelta(hours=1))
    assert result.expenditure == CPC
    assert result.state.spent == Decimal(1) + CPC
    assert result.state.slot == SlotBudget(end.astimezone(UTC), Decimal(0))


def test_only_an_active_campaign_goes_inactive_for_its_budget(make_spec: MakeSpec) -> None:
    stopped = campaign(
        make_spec(budget="500"), spent="499.99", status=Status.INACTIVE, status_reason=STOPPED
    )
    result = settle_at(stopped, UserAction.ACQUISITION)
    assert result.expenditure == Decimal("0.01")
    assert result.exhausted
    assert (result.state.status, result.state.status_reason) == (Status.INACTIVE, STOPPED)


def test_a_status_read_back_as_plain_text_is_still_active(make_spec: MakeSpec) -> None:
    stored = campaign(make_spec(budget="500"), spent="499.99", status="ACTIVE")
    result = settle_at(stored, UserAction.ACQUISITION)
    assert result.state.status is Status.INACTIVE
    assert result.state.status_reason == StatusReason.BUDGET_EXHAUSTED


def test_money_is_exact(make_spec: MakeSpec) -> None:
    state = campaign(make_spec(budget="10"))
    total = Decimal(0)
    for _ in range(100):  # 0.1 is not a binary fraction: floats would drift
        result = settle_at(state, UserAction.CLICK, cpc=Decimal("0.1"))
        assert isinstance(result.expenditure, Decimal)
        total += result.expenditure
        state = result.state
    assert total == state.spent == Decimal(10)
    assert result.exhausted
    assert settle_at(state, UserAction.CLICK, cpc=Decimal("0.1")).expenditure == 0


_money = st.decimals(min_value=Decimal(0), max_value=Decimal(3), places=MONEY_PLACES)
_steps = st.lists(
    st.tuples(st.sampled_from(list(UserAction)), _money, _money, st.integers(0, 25)), max_size=40
)


@given(
    budget=st.decimals(min_value=Decimal("1E-10"), max_value=Decimal(20), places=MONEY_PLACES),
    start_minutes=st.integers(-30, 90),
    stopped=st.booleans(),
    steps=_steps,
)
def test_settlements_add_up_and_never_pass_the_budget(
    make_spec: MakeSpec,
    budget: Decimal,
    start_minutes: int,
    stopped: bool,
    steps: list[tuple[UserAction, Decimal, Decimal, int]],
) -> None:
    # One hour, six slots: the steps cross slot boundaries and the window's end.
    spec = make_spec(
        budget=format(budget, "f"),
        date_range={"start": "2025-09-12", "end": "2025-09-12"},
        time_range={"start": "10:00:00", "end": "11:00:00"},
    )
    opens, _ = schedules.window(spec.schedule, KOLKATA)
    now = opens + timedelta(minutes=start_minutes)
    state = campaign(spec)
    state = dataclasses.replace(state, slot=fresh_slot(spec.schedule, budget, now, KOLKATA))
    if stopped:
        state = dataclasses.replace(state, status=Status.INACTIVE, status_reason=STOPPED)
    acknowledged = Decimal(0)
    for action, cpc, cpa, minutes in steps:
        now += timedelta(minutes=minutes)
        owed = expenditure(action, cpc, cpa)
        result = settle_at(state, action, now=now, cpc=cpc, cpa=cpa)
        after = result.state
        # The action's price, capped at what is left: the device is told exactly that.
        assert result.expenditure == min(owed, state.remaining)
        assert after.spent == state.spent + result.expenditure
        assert after.spent <= spec.budget
        assert result.exhausted == (after.remaining == 0)
        # The slot budget: rolled over at a boundary (from what was left before), then drawn.
        if schedules.slot_start(spec.schedule, now, KOLKATA) == state.slot.slot_start:
            slot = state.slot
        else:
            slot = fresh_slot(spec.schedule, state.remaining, now, KOLKATA)
        assert after.slot == SlotBudget(
            slot.slot_start, max(slot.amount - result.expenditure, Decimal(0))
        )
        assert after.slot.amount >= 0
        # Spent to zero: INACTIVE for its budget, but only a campaign that was ACTIVE.
        if result.exhausted and state.status is Status.ACTIVE:
            assert (after.status, after.status_reason) == (
                Status.INACTIVE,
                StatusReason.BUDGET_EXHAUSTED,
            )
        else:
            assert (after.status, after.status_reason) == (state.status, state.status_reason)
        # Nothing else about the campaign changes.
        assert (after.spec, after.last_sequence, after.last_partition, after.last_record_ms) == (
            spec,
            7,
            2,
            99,
        )
        acknowledged += result.expenditure
        state = after
    assert acknowledged == state.spent == spec.budget - state.remaining
