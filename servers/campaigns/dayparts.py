"""Dayparts: the hours of the week a campaign serves inside its live window (issue 15 item 4).

A daypart is start_hour to end_hour (exclusive) on some days of the week, read on the
wall clock of the platform's time zone; a campaign with several serves in any of them, and
one with none serves the whole window. Pure: the diagnostics, servability (servable.py)
and pacing (pacing.py) all call these functions, so they agree on every instant.

Wall-clock hours are what campaign managers mean: on a daylight-saving day the skipped hour
never happens and the repeated hour happens twice, both times with that hour's answer.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from servers.campaigns.model import Daypart

DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
EVERY_DAY = frozenset(range(7))
HOURS_PER_WEEK = 7 * 24
_HOUR = timedelta(hours=1)
_STEP = timedelta(minutes=10)


@functools.lru_cache(maxsize=4096)
def week_mask(dayparts: tuple[Daypart, ...]) -> tuple[bool, ...]:
    """week_mask is, per hour of the week (Monday 0:00 is 0), whether a daypart holds it.

    Every hour is on when there are no dayparts. Cached: campaigns share a few schedules.
    """
    if not dayparts:
        return (True,) * HOURS_PER_WEEK
    hours = [False] * HOURS_PER_WEEK
    for part in dayparts:
        for day in part.days:
            for hour in range(part.start_hour, part.end_hour):
                hours[day * 24 + hour] = True
    return tuple(hours)


def hour_of_week(local: datetime) -> int:
    """hour_of_week is a wall-clock time's hour counted from Monday 0:00."""
    return local.weekday() * 24 + local.hour


def in_daypart(dayparts: Sequence[Daypart], now: datetime, tz: ZoneInfo) -> bool:
    """in_daypart is true when the aware instant now falls in one of dayparts (or none is set)."""
    if not dayparts:
        return True
    return week_mask(tuple(dayparts))[hour_of_week(now.astimezone(tz))]


def next_change(dayparts: Sequence[Daypart], now: datetime, tz: ZoneInfo) -> datetime | None:
    """next_change is the first instant (UTC) after now at which in_daypart may change.

    None when it never changes (no dayparts, or every hour of the week is in one). On a
    daylight-saving day it may be an instant at which the answer stays the same (a skipped
    hour), never later than a real change.
    """
    mask = week_mask(tuple(dayparts))
    local = now.astimezone(tz)
    hour = hour_of_week(local)
    current = mask[hour]
    for ahead in range(1, HOURS_PER_WEEK + 1):
        if mask[(hour + ahead) % HOURS_PER_WEEK] != current:
            break
    else:
        return None
    start = local.replace(tzinfo=None, minute=0, second=0, microsecond=0)
    # fold=0: a repeated wall time is its first occurrence, a skipped one the jump's instant.
    change = (start + ahead * _HOUR).replace(tzinfo=tz).astimezone(UTC)
    return change if change > now else now.astimezone(UTC) + _HOUR


def serving_steps(dayparts: Sequence[Daypart], start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """serving_steps counts the 10-minute steps of wall-clock time in [start, end) in a daypart.

    The pacing rule's count of slots left (pacing.py); whole hours are counted by the week
    mask, so a year-long window costs one pass over a week, not one per slot. Steps start at
    start; a partial last step counts.
    """
    if end <= start:
        return 0
    mask = week_mask(tuple(dayparts))
    first = start.astimezone(tz).replace(tzinfo=None)
    last = end.astimezone(tz).replace(tzinfo=None)
    if last <= first:  # a daylight-saving fall-back inside a very short span
        return 1 if mask[hour_of_week(first)] else 0
    next_hour = first.replace(minute=0, second=0, microsecond=0) + _HOUR
    if last <= next_hour:
        return _ceil_steps(last - first) if mask[hour_of_week(first)] else 0
    steps = _ceil_steps(next_hour - first) if mask[hour_of_week(first)] else 0
    final_hour = last.replace(minute=0, second=0, microsecond=0)
    whole = int((final_hour - next_hour) // _HOUR)
    weeks, rest = divmod(whole, HOURS_PER_WEEK)
    steps += 6 * weeks * sum(mask)
    base = hour_of_week(next_hour)
    steps += 6 * sum(mask[(base + i) % HOURS_PER_WEEK] for i in range(rest))
    if last > final_hour and mask[hour_of_week(final_hour)]:
        steps += _ceil_steps(last - final_hour)
    return steps


def _ceil_steps(span: timedelta) -> int:
    return -(-span // _STEP)
