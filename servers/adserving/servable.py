"""Servable: whether a stored campaign may serve at an instant, and when that changes by itself.

Pure: the time rules of eligibility (docs/design.md rules 2, 3 and 7, and the delivery
controls: dayparts, daily budgets, pacing) for one campaign, kept apart from the index's
bitsets (index.py), which re-evaluates a campaign at the instant this module says its answer
may next change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from servers.adserving.targeting import is_servable
from servers.campaigns import daily, dayparts
from servers.campaigns import schedule as schedules
from servers.campaigns.model import Status
from servers.campaigns.pacing import rolled_slot

if TYPE_CHECKING:
    from servers.adserving.index import IndexedAd


def servable_at(ad: IndexedAd, now: datetime, tz: ZoneInfo) -> tuple[bool, datetime | None]:
    """servable_at says whether ad may serve at now, and when that can next change by itself.

    The stored slot budget is rolled over first: past its slot it is stale, and a fresh
    slot's budget applies (pacing.rolled_slot); what is left of a daily budget is read as of
    now (daily.daily_left: 0 spent once the stored day is over). The next change is the
    first after now of: the window's start, the next slot boundary, the window's end, the
    next local midnight (a daily budget's new day) and the next daypart boundary; None when
    only a change to the stored campaign can make it servable again.
    """
    state = ad.state
    if state.status is not Status.ACTIVE or state.remaining <= 0:
        return False, None  # time alone never revives it
    spec = state.spec
    slot = rolled_slot(state, now, tz)
    left = daily.daily_left(state, now, tz)
    live = ad.live
    if slot.amount != live.slot_budget or left != live.daily_left:
        live = replace(live, slot_budget=slot.amount, daily_left=left)
    boundary = schedules.slot_start(spec.schedule, now, tz) + schedules.SLOT
    changes = [live.starts_at, boundary, live.ends_at]
    if spec.daily_budget is not None:
        changes.append(daily.next_midnight(now, tz))
    if spec.dayparts:
        daypart_change = dayparts.next_change(spec.dayparts, now, tz)
        if daypart_change is not None:
            changes.append(daypart_change)
    upcoming = [t for t in changes if t > now]
    return is_servable(live, now), min(upcoming, default=None)
