"""Frequency caps: at most N ads of a campaign per user per calendar period (docs/design.md §7).

Pure: no I/O. A campaign's effective cap is its own, else the platform's default
(settings.frequency_cap, "3/day"). MINUTE, HOUR and DAY are calendar periods in the
platform's time zone: the count starts over at the top of the local minute, hour or day.
LIFETIME never starts over.

Counts live in MySQL (servers/adserving/frequency.py) and every AdServer worker and host
reads and adds to the same rows. A request reads its user's counts before its auction and
adds its impression when its served ad commits, so requests of one user in flight at the same
time read the same count: with c concurrent requests of a user, a cap of N is exceeded by at
most c - 1 (overshoot_bound). admitted is the pure model of that race, and a property test
holds it to the bound.

A stored count belongs to the period it started in (period_start). It counts against the
current period when it started there or later (a host whose clock runs ahead): a clock
disagreement can only make a cap stricter, never looser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from servers.campaigns.model import FrequencyCap, Period

# LIFETIME_START is the period start of every LIFETIME count: it never moves on.
LIFETIME_START = datetime(1970, 1, 1, tzinfo=UTC)
# Kept in step with settings' frequency_cap pattern (a unit test compares them).
CAP_PATTERN = re.compile(r"[1-9][0-9]{0,8}/(minute|hour|day|lifetime)")


def parse_cap(text: str) -> FrequencyCap:
    """parse_cap reads a cap written like "3/day" (minute, hour, day or lifetime)."""
    written = text.strip().lower()
    if CAP_PATTERN.fullmatch(written) is None:
        raise ValueError(f"{text[:40]!r} is not a cap like 3/day (minute, hour, day, lifetime)")
    count, unit = written.split("/")
    return FrequencyCap(int(count), Period(unit.upper()))


def format_cap(cap: FrequencyCap) -> str:
    """format_cap writes a cap the way parse_cap reads it ("3/day")."""
    return f"{cap.max_impressions}/{cap.period.value.lower()}"


def effective_cap(own: FrequencyCap | None, default: FrequencyCap | None) -> FrequencyCap | None:
    """effective_cap is the campaign's own cap, else the platform's default (None: uncapped)."""
    return own if own is not None else default


def period_start(period: Period, now: datetime, tz: ZoneInfo) -> datetime:
    """period_start is the UTC instant the calendar period holding now (aware) began in tz."""
    if period is Period.LIFETIME:
        return LIFETIME_START
    local = now.astimezone(tz)
    if period is Period.MINUTE:
        start = local.replace(second=0, microsecond=0)
    elif period is Period.HOUR:
        start = local.replace(minute=0, second=0, microsecond=0)
    else:
        # Local midnight as a wall-clock time, then its instant (a midnight that a
        # daylight-saving jump skips is the first instant after it, as zoneinfo reads it).
        start = datetime(local.year, local.month, local.day, tzinfo=tz)
        return start.astimezone(UTC).replace(fold=0)
    return start.astimezone(UTC)


def current_count(stored_start: datetime, stored: int, current_start: datetime) -> int:
    """current_count is a stored count as it counts in the period starting at current_start."""
    return stored if stored_start >= current_start else 0


def is_capped(cap: FrequencyCap, count: int) -> bool:
    """is_capped is true when a user already saw count ads and the cap allows no more."""
    return count >= cap.max_impressions


def overshoot_bound(concurrent: int) -> int:
    """overshoot_bound is how far past its cap a user with this many requests in flight can go."""
    return max(concurrent - 1, 0)


def admitted(cap: FrequencyCap, waves: Iterable[int]) -> int:
    """admitted models the race: ads served to one user over waves of concurrent requests.

    Every request of a wave reads the count as the previous waves left it, and is served if
    that count is under the cap; the wave's impressions are added once they all commit.
    """
    count = 0
    for concurrent in waves:
        if not is_capped(cap, count):
            count += concurrent
    return count
