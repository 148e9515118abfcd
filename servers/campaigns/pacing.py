"""Pacing: spreading a budget over the window's 10-minute slots (docs/design.md rule 7).

At each slot boundary, and on any budget change, slot budget = remaining budget / remaining
slots. Charges draw the slot budget down (feedback.charging); an ad with no slot budget
left waits for the next slot. Store a SlotBudget with the campaign and call roll_over
whenever it is read, so a slot boundary needs no timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from servers.campaigns import schedule as schedules
from servers.campaigns.model import Schedule
from servers.money import MONEY_CONTEXT, ZERO, quantize_down


@dataclass(frozen=True, slots=True)
class SlotBudget:
    """SlotBudget is what a campaign may still spend in the slot starting at slot_start (UTC)."""

    slot_start: datetime
    amount: Decimal


def slot_budget(remaining_budget: Decimal, remaining_slots: int) -> Decimal:
    """slot_budget is remaining_budget / remaining_slots rounded down; 0 without either."""
    if remaining_slots <= 0 or remaining_budget <= 0:
        return ZERO
    return quantize_down(MONEY_CONTEXT.divide(remaining_budget, Decimal(remaining_slots)))


def fresh_slot(
    schedule: Schedule, remaining_budget: Decimal, now: datetime, tz: ZoneInfo
) -> SlotBudget:
    """fresh_slot recomputes the slot budget at now, as on a budget change."""
    return SlotBudget(
        slot_start=schedules.slot_start(schedule, now, tz),
        amount=slot_budget(remaining_budget, schedules.remaining_slots(schedule, now, tz)),
    )


def roll_over(
    current: SlotBudget, schedule: Schedule, remaining_budget: Decimal, now: datetime, tz: ZoneInfo
) -> SlotBudget:
    """roll_over keeps current within its slot and starts a fresh slot budget past a boundary."""
    if schedules.slot_start(schedule, now, tz) == current.slot_start:
        return current
    return fresh_slot(schedule, remaining_budget, now, tz)
