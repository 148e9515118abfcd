"""Charging: what a user's action costs and how it draws down the budget (docs/design.md rule 6).

Action = acquisition if acquisition, else click if click, else view. Expenditure: acquisition
→ auction_cpa, click → auction_cpc, view → 0. The charge is capped so a campaign never spends
past its budget, and the capped amount is the expenditure acknowledged to the device, which
keeps Σ acknowledged = Σ spent. A campaign with a daily budget is also never charged past
what is left of it today; that cap does not exhaust the campaign (it resumes the next day).
Charges also draw down the slot budget (rule 7), never below 0; the slot budget is not a
cap on a charge (an ad already shown is paid for in full while budget is left).
servers.feedback.settlement applies a charge to a campaign; the FeedbackService writes
the result atomically with the feedback record.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from servers.errors import ValidationError
from servers.money import ZERO


class UserAction(StrEnum):
    """UserAction is what the user did with an ad, the most valuable of the reported flags."""

    VIEW = "view"
    CLICK = "click"
    ACQUISITION = "acquisition"


@dataclass(frozen=True, slots=True)
class Charge:
    """Charge is one draw on a campaign's budget and slot budget."""

    amount_charged: Decimal
    new_remaining: Decimal
    new_slot_budget: Decimal
    exhausted: bool  # the budget is used up: the campaign goes INACTIVE


def _flag(value: object, field: str) -> bool:
    # 0/1 integers on the wire; protobuf bools are accepted as the same thing.
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    raise ValidationError(field, "must be 0 or 1")


def user_action(view: object, click: object, acquisition: object) -> UserAction:
    """user_action picks acquisition over click over view; every flag must be 0 or 1."""
    _flag(view, "view")  # a view flag changes nothing, but a bad one is still bad input
    clicked = _flag(click, "click")
    if _flag(acquisition, "acquisition"):
        return UserAction.ACQUISITION
    return UserAction.CLICK if clicked else UserAction.VIEW


def expenditure(action: UserAction, auction_cpc: Decimal, auction_cpa: Decimal) -> Decimal:
    """expenditure is what an action owes at the auction's prices; a view is free."""
    if action is UserAction.ACQUISITION:
        return auction_cpa
    if action is UserAction.CLICK:
        return auction_cpc
    return ZERO


def charge(
    remaining_budget: Decimal,
    slot_budget: Decimal,
    amount: Decimal,
    *,
    daily_left: Decimal | None = None,
) -> Charge:
    """charge takes min(amount, remaining_budget, daily_left) from the budget and slot budget.

    daily_left is what is left of the daily budget today; None without a daily budget.
    """
    if amount < 0:
        raise ValidationError("expenditure", "must not be negative")
    remaining = max(remaining_budget, ZERO)
    charged = min(amount, remaining)
    if daily_left is not None:
        charged = min(charged, max(daily_left, ZERO))
    new_remaining = remaining - charged
    return Charge(
        amount_charged=charged,
        new_remaining=new_remaining,
        new_slot_budget=max(slot_budget - charged, ZERO),
        exhausted=new_remaining == 0,
    )
