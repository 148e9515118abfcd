"""Tests for servers.campaigns.schedule: the live window (rule 2) and pacing slots (rule 7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.campaigns.model import Schedule
from servers.campaigns.schedule import (
    SLOT,
    is_live,
    local_window,
    remaining_slots,
    slot_count,
    slot_start,
    utc_window,
    window,
)

KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")

DAY_TIME = Schedule(date(2025, 9, 12), date(2025, 9, 13), time(5), time(18))
TO_MIDNIGHT = Schedule(date(2025, 9, 12), date(2025, 9, 13), time(22), time(0))


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, *, month: int = 9) -> datetime:
    """at is a moment of 2025 in Kolkata."""
    return datetime(2025, month, day, hour, minute, second, tzinfo=KOLKATA)


def test_window_is_one_continuous_span() -> None:
    start, end = window(DAY_TIME, KOLKATA)
    assert start == at(12, 5)
    assert end == at(13, 18)
    assert start.tzinfo is KOLKATA


def test_end_time_midnight_is_the_end_of_the_end_date() -> None:
    assert window(TO_MIDNIGHT, KOLKATA) == (at(12, 22), at(14, 0))
    assert local_window(TO_MIDNIGHT)[1] == datetime(2025, 9, 14, 0, 0)


def test_window_start_is_inclusive_and_end_exclusive() -> None:
    start, end = window(DAY_TIME, KOLKATA)
    assert not is_live(DAY_TIME, start - timedelta(microseconds=1), KOLKATA)
    assert is_live(DAY_TIME, start, KOLKATA)
    assert is_live(DAY_TIME, end - timedelta(microseconds=1), KOLKATA)
    assert not is_live(DAY_TIME, end, KOLKATA)


def test_midnight_end_serves_until_the_last_moment_of_the_end_date() -> None:
    assert is_live(TO_MIDNIGHT, at(13, 23, 59, 59), KOLKATA)
    assert not is_live(TO_MIDNIGHT, at(14, 0, 0), KOLKATA)


def test_the_window_is_in_the_platform_time_zone() -> None:
    start, _ = utc_window(DAY_TIME, KOLKATA)
    assert start == datetime(2025, 9, 11, 23, 30, tzinfo=UTC)
    # 23:29 UTC is 04:59 in Kolkata: not yet live.
    assert not is_live(DAY_TIME, datetime(2025, 9, 11, 23, 29, tzinfo=UTC), KOLKATA)
    assert is_live(DAY_TIME, datetime(2025, 9, 11, 23, 30, tzinfo=UTC), KOLKATA)


def test_slots_are_aligned_to_the_window_start() -> None:
    odd = Schedule(date(2025, 9, 12), date(2025, 9, 12), time(5, 3, 7), time(6))
    start, _ = utc_window(odd, KOLKATA)
    assert slot_start(odd, at(12, 5, 3, 7), KOLKATA) == start
    assert slot_start(odd, at(12, 5, 13, 6), KOLKATA) == start
    assert slot_start(odd, at(12, 5, 13, 7), KOLKATA) == start + SLOT


def test_slot_start_is_clamped_to_the_window() -> None:
    start, end = utc_window(DAY_TIME, KOLKATA)
    assert slot_start(DAY_TIME, at(1), KOLKATA) == start
    assert slot_start(DAY_TIME, at(30), KOLKATA) == end
    assert slot_start(DAY_TIME, at(13, 18), KOLKATA) == end


def test_remaining_slots_counts_the_current_slot() -> None:
    # 05:00 on the 12th to 18:00 on the 13th is 37 hours: 222 slots.
    assert slot_count(DAY_TIME, KOLKATA) == 222
    assert remaining_slots(DAY_TIME, at(1), KOLKATA) == 222
    assert remaining_slots(DAY_TIME, at(12, 5), KOLKATA) == 222
    assert remaining_slots(DAY_TIME, at(12, 5, 9, 59), KOLKATA) == 222
    assert remaining_slots(DAY_TIME, at(12, 5, 10), KOLKATA) == 221
    assert remaining_slots(DAY_TIME, at(13, 17, 59, 59), KOLKATA) == 1
    assert remaining_slots(DAY_TIME, at(13, 18), KOLKATA) == 0
    assert remaining_slots(DAY_TIME, at(1, month=10), KOLKATA) == 0


def test_a_partial_last_slot_counts_as_one() -> None:
    short = Schedule(date(2025, 9, 12), date(2025, 9, 12), time(5), time(5, 25))
    assert slot_count(short, KOLKATA) == 3
    assert remaining_slots(short, at(12, 5, 20), KOLKATA) == 1
    tiny = Schedule(date(2025, 9, 12), date(2025, 9, 12), time(5), time(5, 0, 1))
    assert slot_count(tiny, KOLKATA) == 1


def test_slots_stay_ten_minutes_across_a_daylight_saving_change() -> None:
    # New York falls back on 2025-11-02: 00:00 to 04:00 local is five real hours.
    night = Schedule(date(2025, 11, 2), date(2025, 11, 2), time(0), time(4))
    assert slot_count(night, NEW_YORK) == 30
    start, end = utc_window(night, NEW_YORK)
    assert end - start == timedelta(hours=5)


def test_any_aware_now_works() -> None:
    in_utc = datetime(2025, 9, 12, 0, 0, tzinfo=UTC)  # 05:30 in Kolkata
    assert is_live(DAY_TIME, in_utc, KOLKATA)
    assert remaining_slots(DAY_TIME, in_utc, KOLKATA) == 219


@given(st.datetimes(min_value=datetime(2025, 9, 10), max_value=datetime(2025, 9, 16)))
def test_remaining_slots_never_grow_and_are_live_iff_positive(moment: datetime) -> None:
    now = moment.replace(tzinfo=KOLKATA)
    later = now + timedelta(minutes=7)
    count = remaining_slots(TO_MIDNIGHT, now, KOLKATA)
    assert (
        0
        <= remaining_slots(TO_MIDNIGHT, later, KOLKATA)
        <= count
        <= slot_count(TO_MIDNIGHT, KOLKATA)
    )
    start, end = utc_window(TO_MIDNIGHT, KOLKATA)
    if now >= start:
        assert (count > 0) == is_live(TO_MIDNIGHT, now, KOLKATA)
        assert slot_start(TO_MIDNIGHT, now, KOLKATA) <= now or now >= end


@pytest.mark.parametrize("tz", [KOLKATA, NEW_YORK, ZoneInfo("UTC")])
def test_slot_starts_step_by_ten_minutes(tz: ZoneInfo) -> None:
    start, _ = utc_window(DAY_TIME, tz)
    for k in (0, 1, 5, 221):
        moment = start + k * SLOT + timedelta(minutes=3)
        assert slot_start(DAY_TIME, moment, tz) == start + k * SLOT
