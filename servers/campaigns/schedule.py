"""Schedule: the live window (docs/design.md rule 2) and its 10-minute pacing slots (rule 7).

The window is one continuous span from start date + start time to end date + end time in
the platform's time zone; an end time of 0:00:00 is midnight at the end of the end date.
Slot arithmetic runs on absolute (UTC) time, so a daylight-saving jump never makes a slot
longer or shorter than ten minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from servers.campaigns.model import Schedule

SLOT = timedelta(minutes=10)
MIDNIGHT = time(0, 0, 0)


def local_window(schedule: Schedule) -> tuple[datetime, datetime]:
    """local_window is the window as naive wall-clock datetimes, end exclusive."""
    start = datetime.combine(schedule.start_date, schedule.start_time)
    if schedule.end_time == MIDNIGHT:
        end = datetime.combine(schedule.end_date + timedelta(days=1), MIDNIGHT)
    else:
        end = datetime.combine(schedule.end_date, schedule.end_time)
    return start, end


def window(schedule: Schedule, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """window is [start, end) as aware datetimes in the platform's time zone tz."""
    start, end = local_window(schedule)
    return start.replace(tzinfo=tz), end.replace(tzinfo=tz)


def utc_window(schedule: Schedule, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """utc_window is the window in UTC, the form hot paths compare against a UTC now."""
    start, end = window(schedule, tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def is_live(schedule: Schedule, now: datetime, tz: ZoneInfo) -> bool:
    """is_live is true when the aware instant now is inside [start, end)."""
    start, end = window(schedule, tz)
    return start <= now < end


def _slot_index(start: datetime, now: datetime) -> int:
    # Aware datetimes that share a tzinfo subtract as wall clocks; UTC makes it real time.
    return (now.astimezone(UTC) - start.astimezone(UTC)) // SLOT


def slot_count(schedule: Schedule, tz: ZoneInfo) -> int:
    """slot_count is how many slots the whole window has; a partial last slot counts."""
    start, end = window(schedule, tz)
    return -(-(end.astimezone(UTC) - start.astimezone(UTC)) // SLOT)


def slot_start(schedule: Schedule, now: datetime, tz: ZoneInfo) -> datetime:
    """slot_start is the start of the slot holding now, clamped to the window (UTC).

    Slot k covers [start + k·10 min, start + (k+1)·10 min). Before the window it is the first
    slot's start; from the window end on it is the window end, a slot with no budget.
    """
    start, end = utc_window(schedule, tz)
    if now < start:
        return start
    if now >= end:
        return end
    return start + _slot_index(start, now) * SLOT


def remaining_slots(schedule: Schedule, now: datetime, tz: ZoneInfo) -> int:
    """remaining_slots counts slots from the current one (inclusive) to the window end."""
    start, end = utc_window(schedule, tz)
    if now >= end:
        return 0
    if now < start:
        return slot_count(schedule, tz)
    return slot_count(schedule, tz) - _slot_index(start, now)
