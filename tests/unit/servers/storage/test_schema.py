"""Tests for servers.storage.schema: the one conversion each way between instants and columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from servers.storage.schema import aware_utc, max_chars, naive_utc, served_ads

KOLKATA = ZoneInfo("Asia/Kolkata")


def test_an_aware_instant_is_stored_as_naive_utc() -> None:
    moment = datetime(2025, 9, 12, 10, 0, 0, 123456, tzinfo=KOLKATA)
    assert naive_utc(moment) == datetime(2025, 9, 12, 4, 30, 0, 123456)
    assert naive_utc(moment).tzinfo is None


def test_a_stored_naive_utc_is_read_back_as_an_aware_instant() -> None:
    stored = datetime(2025, 9, 12, 4, 30)
    assert aware_utc(stored) == datetime(2025, 9, 12, 10, 0, tzinfo=KOLKATA)
    assert aware_utc(stored).tzinfo is UTC


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(9998, 1, 1),
        timezones=st.sampled_from([UTC, KOLKATA, timezone(timedelta(hours=-7, minutes=-30))]),
    )
)
def test_an_instant_survives_the_round_trip(moment: datetime) -> None:
    assert aware_utc(naive_utc(moment)) == moment


def test_max_chars_is_the_columns_length() -> None:
    assert max_chars(served_ads, "user_id") == 64
