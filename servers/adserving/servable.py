"""Servable: whether a stored campaign may serve at an instant, and when that changes by itself.

Pure: the time rules of eligibility (docs/design.md rules 2, 3 and 7) for one campaign, kept
apart from the index's bitsets (index.py), which re-evaluates a campaign at the instant this
module says its answer may next change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from servers.adserving.targeting import is_servable
from servers.campaigns import schedule as schedules
from servers.campaigns.model import Status
from servers.campaigns.pacing import roll_over

if TYPE_CHECKING:
    from servers.adserving.index import IndexedAd


def servable_at(ad: IndexedAd, now: datetime, tz: ZoneInfo) -> tuple[bool, datetime | None]:
    """servable_at says whether ad may serve at now, and when that can next change by itself.

    The stored slot budget is rolled over first: past its slot it is stale, and a fresh
    slot's budget applies (pacing.roll_over). The next change is the window's start, the
    next slot boundary or the window's end, whichever comes first after now; None when only
    a change to the stored campaign can make it servable again.
    """
    state = ad.state
    if state.status is not Status.ACTIVE or state.remaining <= 0:
        return False, None  # time alone never revives it
    schedule = state.spec.schedule
    slot = roll_over(state.slot, schedule, state.remaining, now, tz)
    live = ad.live
    if slot.amount != live.slot_budget:
        live = replace(live, slot_budget=slot.amount)
    boundary = schedules.slot_start(schedule, now, tz) + schedules.SLOT
    upcoming = [t for t in (live.starts_at, boundary, live.ends_at) if t > now]
    return is_servable(live, now), min(upcoming, default=None)
