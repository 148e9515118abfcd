"""Pacing: spreading a budget over the window's 10-minute slots (docs/design.md rule 7).

At each slot boundary, and on any budget change, slot budget = remaining budget / remaining
slots. Charges draw the slot budget down (feedback.charging); an ad with no slot budget
left waits for the next slot. Store a SlotBudget with the campaign and call roll_over
whenever it is read, so a slot boundary needs no timer.

The delivery controls (issue 15) refine the share, and every reader uses the same one
(rolled_slot, or roll_over given the controls):
- EVEN with dayparts counts only the slots left that lie in a daypart (dayparts.serving_steps,
  in 10-minute steps of wall-clock time), so the budget is spread over the hours it can serve.
- EVEN with a daily budget takes the smaller of that share and what is left of the daily
  budget divided by the slots left today (up to local midnight or the window's end).
- ASAP has no slot limit: its slot budget is all it may spend now, the remaining budget or
  what is left of the daily budget today, whichever is smaller.
- With a daily budget, local midnight also starts a pacing slot (pacing_slot_start): the
  new day's share is computed at midnight, not at the next 10-minute boundary.
Without dayparts or a daily budget, EVEN is rule 7 exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from servers.campaigns import daily
from servers.campaigns import dayparts as hours
from servers.campaigns import schedule as schedules
from servers.campaigns.model import CampaignSpec, Daypart, Pacing, Schedule
from servers.money import MONEY_CONTEXT, ZERO, quantize_down


@dataclass(frozen=True, slots=True)
class SlotBudget:
    """SlotBudget is what a campaign may still spend in the slot starting at slot_start (UTC)."""

    slot_start: datetime
    amount: Decimal


class PacedState(daily.DailySpending, Protocol):
    """PacedState is what pacing reads of a stored campaign (a CampaignState)."""

    @property
    def spec(self) -> CampaignSpec: ...

    @property
    def slot(self) -> SlotBudget: ...

    @property
    def remaining(self) -> Decimal: ...


def slot_budget(remaining_budget: Decimal, remaining_slots: int) -> Decimal:
    """slot_budget is remaining_budget / remaining_slots rounded down; 0 without either."""
    if remaining_slots <= 0 or remaining_budget <= 0:
        return ZERO
    return quantize_down(MONEY_CONTEXT.divide(remaining_budget, Decimal(remaining_slots)))


def serving_slots(
    schedule: Schedule,
    dayparts: Sequence[Daypart],
    now: datetime,
    until: datetime,
    tz: ZoneInfo,
) -> int:
    """serving_slots counts the slots from the one holding now up to until that may serve.

    Without dayparts these are the window's slots (schedule.remaining_slots); with them,
    the 10-minute steps of wall-clock time inside a daypart and the window.
    """
    start, end = schedules.utc_window(schedule, tz)
    until = min(until, end)
    if until <= now or until <= start:
        return 0
    if not dayparts:
        left = schedules.remaining_slots(schedule, now, tz)
        after = schedules.remaining_slots(schedule, until, tz)
        # The slot holding until starts before it: it belongs to the span too.
        partial = 1 if until < end and schedules.slot_start(schedule, until, tz) < until else 0
        return left - after + partial
    return hours.serving_steps(dayparts, max(now, start), until, tz)


def paced_amount(
    schedule: Schedule,
    remaining_budget: Decimal,
    now: datetime,
    tz: ZoneInfo,
    *,
    pacing: Pacing = Pacing.EVEN,
    dayparts: Sequence[Daypart] = (),
    daily_left: Decimal | None = None,
) -> Decimal:
    """paced_amount is the slot budget at now under the module's rules."""
    if pacing == Pacing.ASAP:
        if daily_left is not None:
            return max(min(remaining_budget, daily_left), ZERO)
        return max(remaining_budget, ZERO)
    if not dayparts:
        share = slot_budget(remaining_budget, schedules.remaining_slots(schedule, now, tz))
    else:
        _, end = schedules.utc_window(schedule, tz)
        share = slot_budget(remaining_budget, serving_slots(schedule, dayparts, now, end, tz))
    if daily_left is not None:
        today = serving_slots(schedule, dayparts, now, daily.next_midnight(now, tz), tz)
        share = min(share, slot_budget(daily_left, today))
    return share


def fresh_slot(
    schedule: Schedule,
    remaining_budget: Decimal,
    now: datetime,
    tz: ZoneInfo,
    *,
    pacing: Pacing = Pacing.EVEN,
    dayparts: Sequence[Daypart] = (),
    daily_left: Decimal | None = None,
) -> SlotBudget:
    """fresh_slot recomputes the slot budget at now, as on a budget change."""
    amount = paced_amount(
        schedule,
        remaining_budget,
        now,
        tz,
        pacing=pacing,
        dayparts=dayparts,
        daily_left=daily_left,
    )
    return SlotBudget(slot_start=schedules.slot_start(schedule, now, tz), amount=amount)


def roll_over(
    current: SlotBudget,
    schedule: Schedule,
    remaining_budget: Decimal,
    now: datetime,
    tz: ZoneInfo,
    *,
    pacing: Pacing = Pacing.EVEN,
    dayparts: Sequence[Daypart] = (),
    daily_left: Decimal | None = None,
) -> SlotBudget:
    """roll_over keeps current within its slot and starts a fresh slot budget past a boundary."""
    if schedules.slot_start(schedule, now, tz) == current.slot_start:
        return current
    return fresh_slot(
        schedule,
        remaining_budget,
        now,
        tz,
        pacing=pacing,
        dayparts=dayparts,
        daily_left=daily_left,
    )


def pacing_slot_start(spec: CampaignSpec, now: datetime, tz: ZoneInfo) -> datetime:
    """pacing_slot_start is when the slot holding now began (UTC), for spec's pacing.

    The schedule's slot (schedule.slot_start); with a daily budget, local midnight when the
    day began inside that slot, so a new day's budget is paced from its first instant.
    """
    start = schedules.slot_start(spec.schedule, now, tz)
    if spec.daily_budget is None:
        return start
    return max(start, daily.day_start(now, tz))


def fresh_slot_for(state: PacedState, now: datetime, tz: ZoneInfo) -> SlotBudget:
    """fresh_slot_for is fresh_slot with state's delivery controls and daily spending."""
    spec = state.spec
    amount = paced_amount(
        spec.schedule,
        state.remaining,
        now,
        tz,
        pacing=spec.pacing,
        dayparts=spec.dayparts,
        daily_left=daily.daily_left(state, now, tz),
    )
    return SlotBudget(slot_start=pacing_slot_start(spec, now, tz), amount=amount)


def rolled_slot(state: PacedState, now: datetime, tz: ZoneInfo) -> SlotBudget:
    """rolled_slot is state's stored slot budget rolled over to now with its delivery controls.

    The one call every reader of a stored slot budget makes (charging, the index, the pacer,
    GetCampaign, the diagnostics).
    """
    if pacing_slot_start(state.spec, now, tz) == state.slot.slot_start:
        return state.slot
    return fresh_slot_for(state, now, tz)
