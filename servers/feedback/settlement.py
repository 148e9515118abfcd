"""Settlement: a user's action charged to the campaign that won its ad (docs/design.md rules 6, 7).

settle is the pure step between reading a campaign under lock and writing it back: the slot
budget rolls over to the current slot if a boundary has passed, the capped charge draws down
budget and slot budget, and a campaign whose budget reaches 0 goes INACTIVE.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from servers.ads.charging import UserAction, charge, expenditure
from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import Status, StatusReason
from servers.campaigns.pacing import SlotBudget, roll_over


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
    schedule = state.spec.schedule
    slot = roll_over(state.slot, schedule, state.remaining, now, tz)
    result = charge(state.remaining, slot.amount, expenditure(action, auction_cpc, auction_cpa))
    status, reason = state.status, state.status_reason
    if result.exhausted and status == Status.ACTIVE:
        status, reason = Status.INACTIVE, str(StatusReason.BUDGET_EXHAUSTED)
    charged = dataclasses.replace(
        state,
        spent=state.spent + result.amount_charged,
        slot=SlotBudget(slot.slot_start, result.new_slot_budget),
        status=status,
        status_reason=reason,
    )
    return Settlement(charged, result.amount_charged, result.exhausted)
