"""Tests for servers.campaigns.dayparts: hours of the week, their changes and their slots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from servers.campaigns.dayparts import (
    EVERY_DAY,
    in_daypart,
    next_change,
    serving_steps,
    week_mask,
)
from servers.campaigns.model import Daypart

KOLKATA = ZoneInfo("Asia/Kolkata")
BERLIN = ZoneInfo("Europe/Berlin")
ZONES = (KOLKATA, BERLIN, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe"))
WORK_HOURS = (Daypart(frozenset(range(5)), 9, 17),)
MONDAY_9_KOLKATA = datetime(2025, 9, 15, 9, 0, tzinfo=KOLKATA)  # a Monday


def test_no_dayparts_is_the_whole_week() -> None:
    assert in_daypart((), MONDAY_9_KOLKATA, KOLKATA)
    assert next_change((), MONDAY_9_KOLKATA, KOLKATA) is None
    assert all(week_mask(()))


def test_hours_are_wall_clock_hours_in_the_platform_zone() -> None:
    assert in_daypart(WORK_HOURS, MONDAY_9_KOLKATA, KOLKATA)
    assert not in_daypart(WORK_HOURS, MONDAY_9_KOLKATA - timedelta(seconds=1), KOLKATA)
    assert in_daypart(WORK_HOURS, MONDAY_9_KOLKATA + timedelta(hours=7, minutes=59), KOLKATA)
    assert not in_daypart(WORK_HOURS, MONDAY_9_KOLKATA + timedelta(hours=8), KOLKATA)  # 17:00
    saturday = MONDAY_9_KOLKATA + timedelta(days=5)
    assert not in_daypart(WORK_HOURS, saturday, KOLKATA)


def test_next_change_is_the_next_boundary() -> None:
    assert next_change(WORK_HOURS, MONDAY_9_KOLKATA, KOLKATA) == MONDAY_9_KOLKATA.replace(
        hour=17
    ).astimezone(UTC)
    friday_evening = MONDAY_9_KOLKATA + timedelta(days=4, hours=8)
    next_monday = MONDAY_9_KOLKATA + timedelta(days=7)
    assert next_change(WORK_HOURS, friday_evening, KOLKATA) == next_monday.astimezone(UTC)


def test_every_hour_of_the_week_never_changes() -> None:
    always = (Daypart(EVERY_DAY, 0, 24),)
    assert next_change(always, MONDAY_9_KOLKATA, KOLKATA) is None


def test_midnight_ends_a_daypart_to_24() -> None:
    evening = (Daypart(frozenset({0}), 20, 24),)
    monday_23 = datetime(2025, 9, 15, 23, 30, tzinfo=KOLKATA)
    assert in_daypart(evening, monday_23, KOLKATA)
    assert next_change(evening, monday_23, KOLKATA) == datetime(
        2025, 9, 16, tzinfo=KOLKATA
    ).astimezone(UTC)


def test_berlin_spring_forward_skips_the_hour() -> None:
    two_am = (Daypart(EVERY_DAY, 2, 3),)
    before = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)  # 01:30 CET, the jump is at 01:00 UTC
    change = next_change(two_am, before, BERLIN)
    assert change is not None and change <= datetime(2025, 3, 30, 1, 0, tzinfo=UTC)
    assert not in_daypart(two_am, datetime(2025, 3, 30, 1, 0, tzinfo=UTC), BERLIN)  # 03:00


dayparts_strategy = st.lists(
    st.builds(
        lambda days, start, length: Daypart(frozenset(days) or EVERY_DAY, start, start + length),
        st.sets(st.integers(0, 6), max_size=3),
        st.integers(0, 23),
        st.integers(1, 6),
    ).filter(lambda part: part.end_hour <= 24),
    min_size=1,
    max_size=4,
)
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(dayparts_strategy, instants, st.sampled_from(ZONES))
def test_next_change_is_never_after_a_real_change(
    dayparts: list[Daypart], now: datetime, tz: ZoneInfo
) -> None:
    """Brute force: the answer is the same at every quarter hour from now to the change."""
    change = next_change(dayparts, now, tz)
    answer = in_daypart(dayparts, now, tz)
    horizon = now + timedelta(days=8) if change is None else change
    assert horizon > now
    step = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    while step < horizon:
        if step > now:
            assert in_daypart(dayparts, step, tz) == answer, step
        step += timedelta(minutes=15)
    just_before = horizon - timedelta(microseconds=1)
    if just_before > now:
        assert in_daypart(dayparts, just_before, tz) == answer


def brute_steps(dayparts: list[Daypart], start: datetime, end: datetime, tz: ZoneInfo) -> int:
    count, step = 0, start
    while step < end:
        count += in_daypart(dayparts, step, tz)
        step += timedelta(minutes=10)
    return count


@settings(max_examples=100, deadline=None)
@given(
    dayparts_strategy,
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)),
    st.integers(0, 3 * 24 * 6),
)
def test_serving_steps_counts_ten_minute_steps_on_the_hour_grid(
    dayparts: list[Daypart], start: datetime, steps: int
) -> None:
    """Aligned to the hour in a zone without DST, the count is the brute-force count."""
    begin = start.replace(minute=start.minute // 10 * 10, second=0, microsecond=0)
    begin = begin.replace(tzinfo=KOLKATA)
    end = begin + steps * timedelta(minutes=10)
    assert serving_steps(dayparts, begin, end, KOLKATA) == brute_steps(
        dayparts, begin, end, KOLKATA
    )


def test_serving_steps_over_a_year_counts_whole_weeks() -> None:
    start = datetime(2025, 9, 15, tzinfo=KOLKATA)  # a Monday
    end = start + timedelta(weeks=52)
    assert serving_steps(WORK_HOURS, start, end, KOLKATA) == 52 * 5 * 8 * 6
    assert serving_steps((), start, end, KOLKATA) == 52 * 7 * 24 * 6
