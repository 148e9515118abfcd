"""Daily budgets: what a campaign spent today and may still spend today (issue 15 item 3).

A day is a calendar day in the platform's time zone. spent_today belongs to the local day
spent_day; read on a later day it is 0, so midnight needs no timer (as pacing.roll_over
does for slots). Reaching the daily budget never makes a campaign INACTIVE: it is simply
not servable until the next local midnight. Pure: charging, servability, pacing and the
diagnostics all call these functions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from servers.money import ZERO


class _Spec(Protocol):
    @property
    def daily_budget(self) -> Decimal | None: ...


class DailySpending(Protocol):
    """DailySpending is anything with a spec, spent_today and spent_day (a CampaignState)."""

    @property
    def spec(self) -> _Spec: ...

    @property
    def spent_today(self) -> Decimal: ...

    @property
    def spent_day(self) -> date | None: ...


def local_day(now: datetime, tz: ZoneInfo) -> date:
    """local_day is the calendar day the aware instant now falls on in tz."""
    return now.astimezone(tz).date()


def day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """day_start is the instant (UTC) now's local day began."""
    return datetime.combine(local_day(now, tz), time(0, 0), tzinfo=tz).astimezone(UTC)


def next_midnight(now: datetime, tz: ZoneInfo) -> datetime:
    """next_midnight is the instant (UTC) the local day after now's begins."""
    tomorrow = local_day(now, tz) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 0), tzinfo=tz).astimezone(UTC)


def spent_on(spent_today: Decimal, spent_day: date | None, now: datetime, tz: ZoneInfo) -> Decimal:
    """spent_on is a stored spent_today as of now: 0 once its day is over."""
    return spent_today if spent_day == local_day(now, tz) else ZERO


def spent_today(state: DailySpending, now: datetime, tz: ZoneInfo) -> Decimal:
    """spent_today is what state's campaign has spent on now's local day."""
    return spent_on(state.spent_today, state.spent_day, now, tz)


def daily_left(state: DailySpending, now: datetime, tz: ZoneInfo) -> Decimal | None:
    """daily_left is what state's campaign may still spend today; None without a daily budget."""
    budget = state.spec.daily_budget
    if budget is None:
        return None
    return max(budget - spent_today(state, now, tz), ZERO)


def capped_out(state: DailySpending, now: datetime, tz: ZoneInfo) -> bool:
    """capped_out is true when the campaign has a daily budget and nothing of it is left today."""
    left = daily_left(state, now, tz)
    return left is not None and left <= 0
