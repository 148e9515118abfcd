"""Tests for servers.campaigns.frequency: caps, calendar periods and the overshoot bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers import settings
from servers.campaigns import frequency
from servers.campaigns.frequency import (
    LIFETIME_START,
    admitted,
    current_count,
    effective_cap,
    format_cap,
    is_capped,
    overshoot_bound,
    parse_cap,
    period_start,
)
from servers.campaigns.model import FrequencyCap, Period

KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")
THREE_A_DAY = FrequencyCap(3, Period.DAY)


@pytest.mark.parametrize(
    ("text", "cap"),
    [
        ("3/day", FrequencyCap(3, Period.DAY)),
        ("1/minute", FrequencyCap(1, Period.MINUTE)),
        ("12/hour", FrequencyCap(12, Period.HOUR)),
        ("999999999/lifetime", FrequencyCap(999_999_999, Period.LIFETIME)),
        (" 2/DAY ", FrequencyCap(2, Period.DAY)),
    ],
)
def test_caps_are_read_as_written(text: str, cap: FrequencyCap) -> None:
    assert parse_cap(text) == cap
    assert parse_cap(format_cap(cap)) == cap


@pytest.mark.parametrize(
    "text", ["", "3", "0/day", "-1/day", "3/week", "3 / day", "1000000000/day", "3/days", "x/day"]
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="cap like 3/day"):
        parse_cap(text)


def test_the_settings_pattern_is_the_parsers() -> None:
    pattern, _ = settings._TEXT_PATTERNS["frequency_cap"]
    assert pattern == frequency.CAP_PATTERN.pattern


@given(st.integers(1, 999_999_999), st.sampled_from(list(Period)))
def test_every_cap_the_settings_accept_parses(count: int, period: Period) -> None:
    text = f"{count}/{period.value.lower()}"
    loaded = settings.Settings(frequency_cap=text)
    assert parse_cap(loaded.frequency_cap or "") == FrequencyCap(count, period)


def test_a_campaigns_own_cap_wins_over_the_default() -> None:
    own = FrequencyCap(1, Period.HOUR)
    assert effective_cap(own, THREE_A_DAY) == own
    assert effective_cap(None, THREE_A_DAY) == THREE_A_DAY
    assert effective_cap(None, None) is None


def test_periods_are_calendar_periods_in_the_platform_zone() -> None:
    now = datetime(2026, 12, 3, 20, 47, 31, 5, tzinfo=UTC)  # 02:17:31 on Dec 4 in Kolkata
    assert period_start(Period.MINUTE, now, KOLKATA) == datetime(2026, 12, 3, 20, 47, tzinfo=UTC)
    # Kolkata's hours begin at :30 UTC.
    assert period_start(Period.HOUR, now, KOLKATA) == datetime(2026, 12, 3, 20, 30, tzinfo=UTC)
    assert period_start(Period.DAY, now, KOLKATA) == datetime(2026, 12, 3, 18, 30, tzinfo=UTC)
    assert period_start(Period.LIFETIME, now, KOLKATA) == LIFETIME_START


def test_a_day_across_a_daylight_saving_change_starts_at_local_midnight() -> None:
    # 2026-03-08 in New York has 23 hours; the next day starts at 04:00 UTC, not 05:00.
    during = datetime(2026, 3, 8, 12, tzinfo=UTC)
    after = datetime(2026, 3, 9, 12, tzinfo=UTC)
    assert period_start(Period.DAY, during, NEW_YORK) == datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert period_start(Period.DAY, after, NEW_YORK) == datetime(2026, 3, 9, 4, tzinfo=UTC)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from([Period.MINUTE, Period.HOUR, Period.DAY]),
    st.sampled_from([KOLKATA, NEW_YORK, ZoneInfo("UTC"), ZoneInfo("Australia/Lord_Howe")]),
)
def test_a_period_holds_its_instant_and_is_at_most_a_day_long(
    naive: datetime, period: Period, tz: ZoneInfo
) -> None:
    now = naive.replace(tzinfo=UTC)
    start = period_start(period, now, tz)
    assert start <= now
    assert now - start < timedelta(days=1, hours=1)
    assert period_start(period, start, tz) == start  # the start is in its own period


def test_a_count_of_an_earlier_period_starts_over() -> None:
    today = datetime(2026, 12, 3, 18, 30, tzinfo=UTC)
    assert current_count(today, 2, today) == 2
    assert current_count(today - timedelta(days=1), 2, today) == 0
    # A count stamped later (a host whose clock runs ahead) still counts: stricter, not looser.
    assert current_count(today + timedelta(days=1), 2, today) == 2


def test_capped_at_n() -> None:
    assert not is_capped(THREE_A_DAY, 2)
    assert is_capped(THREE_A_DAY, 3)
    assert is_capped(THREE_A_DAY, 4)


def test_the_race_model() -> None:
    assert admitted(THREE_A_DAY, [1, 1, 1, 1, 1]) == 3  # one at a time: exactly the cap
    assert admitted(THREE_A_DAY, [2, 2, 2]) == 4  # the second pair reads 2 < 3: both served
    assert admitted(THREE_A_DAY, [5]) == 5  # five at once all read 0
    assert overshoot_bound(1) == 0
    assert overshoot_bound(5) == 4


@given(
    st.integers(1, 20),
    st.lists(st.integers(1, 16), max_size=60),
)
def test_a_capped_user_never_sees_more_than_n_plus_the_bound(cap: int, waves: list[int]) -> None:
    limit = FrequencyCap(cap, Period.DAY)
    served = admitted(limit, waves)
    concurrent = max(waves, default=1)
    assert served <= cap + overshoot_bound(concurrent)
    if all(wave == 1 for wave in waves):
        assert served == min(cap, len(waves))  # one request at a time: never over
