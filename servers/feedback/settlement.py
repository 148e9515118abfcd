"""Settlement: a user's action charged to the campaign that won its ad (docs/design.md rules 6, 7).

settle is the pure step between reading a campaign under lock and writing it back: the slot
budget rolls over to the current slot if a boundary has passed (pacing.rolled_slot, with the
campaign's delivery controls), spent today rolls over at local midnight (daily.spent_today),
the capped charge draws down budget, daily budget and slot budget, and a campaign whose
budget reaches 0 goes INACTIVE. Reaching the daily budget leaves it ACTIVE: it is not
servable until the next local day (servers/adserving/servable.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from servers.ads.charging import UserAction, charge, expenditure
from servers.campaigns import daily
from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import Status, StatusReason
from servers.campaigns.pacing import SlotBudget, rolled_slot


@dataclass(frozen=True, slots=True)
class Settlement:
    """Settlement is the campaign after a charge and the expenditure acknowledged."""

    state: CampaignState
    expenditure: Decimal
    exhausted: bool


def settle(
    state: CampaignState,
    action: UserAction,
    *,
    auction_cpc: Decimal,
    auction_cpa: Decimal,
    now: datetime,
    tz: ZoneInfo,
) -> Settlement:
    """settle charges action at the auction's prices to state, as of the aware instant now."""
    slot = rolled_slot(state, now, tz)
    result = charge(
        state.remaining,
        slot.amount,
        expenditure(action, auction_cpc, auction_cpa),
        daily_left=daily.daily_left(state, now, tz),
    )
    status, reason = state.status, state.status_reason
    if result.exhausted and status == Status.ACTIVE:
        status, reason = Status.INACTIVE, str(StatusReason.BUDGET_EXHAUSTED)
    spent_today, spent_day = state.spent_today, state.spent_day
    if result.amount_charged:  # nothing charged changes nothing (a view, an exhausted budget)
        spent_today = daily.spent_today(state, now, tz) + result.amount_charged
        spent_day = daily.local_day(now, tz)
    charged = dataclasses.replace(
        state,
        spent=state.spent + result.amount_charged,
        slot=SlotBudget(slot.slot_start, result.new_slot_budget),
        spent_today=spent_today,
        spent_day=spent_day,
        status=status,
        status_reason=reason,
    )
    return Settlement(charged, result.amount_charged, result.exhausted)
