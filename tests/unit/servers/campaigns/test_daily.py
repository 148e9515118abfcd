"""Tests for servers.campaigns.daily: spent today and what is left of a daily budget."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from servers.campaigns.daily import (
    capped_out,
    daily_left,
    local_day,
    next_midnight,
    spent_today,
)
from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import Status
from servers.campaigns.pacing import SlotBudget
from servers.campaigns.validation import validate_spec
from tests.fixtures.campaigns import VALID_FIELDS

KOLKATA = ZoneInfo("Asia/Kolkata")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2025, 9, 12, 10, 0, tzinfo=UTC)  # 15:30 in Kolkata


def state(daily_budget: str | None, spent: str, day: date | None) -> CampaignState:
    spec = validate_spec({**VALID_FIELDS, "daily_budget": daily_budget})
    return CampaignState(
        spec=spec,
        status=Status.ACTIVE,
        status_reason="",
        spent=Decimal(spent),
        slot=SlotBudget(NOW, Decimal(1)),
        last_sequence=1,
        spent_today=Decimal(spent),
        spent_day=day,
    )


def test_the_day_is_the_platform_zones_calendar_day() -> None:
    assert local_day(datetime(2025, 9, 12, 18, 29, tzinfo=UTC), KOLKATA) == date(2025, 9, 12)
    assert local_day(datetime(2025, 9, 12, 18, 30, tzinfo=UTC), KOLKATA) == date(2025, 9, 13)


def test_next_midnight_is_local_midnight_in_utc() -> None:
    assert next_midnight(NOW, KOLKATA) == datetime(2025, 9, 12, 18, 30, tzinfo=UTC)
    # The day the clocks go back in Berlin has 25 hours; midnight is still midnight.
    assert next_midnight(datetime(2025, 10, 26, 12, tzinfo=UTC), BERLIN) == datetime(
        2025, 10, 26, 23, 0, tzinfo=UTC
    )


def test_spent_today_rolls_over_at_local_midnight() -> None:
    today = state("10", "4", date(2025, 9, 12))
    assert spent_today(today, NOW, KOLKATA) == Decimal(4)
    assert spent_today(today, datetime(2025, 9, 12, 18, 30, tzinfo=UTC), KOLKATA) == 0
    assert spent_today(state(None, "4", None), NOW, KOLKATA) == 0


def test_daily_left_is_none_without_a_daily_budget() -> None:
    assert daily_left(state(None, "4", date(2025, 9, 12)), NOW, KOLKATA) is None
    assert not capped_out(state(None, "4", date(2025, 9, 12)), NOW, KOLKATA)


def test_daily_left_never_goes_below_zero() -> None:
    assert daily_left(state("10", "4", date(2025, 9, 12)), NOW, KOLKATA) == Decimal(6)
    over = dataclasses.replace(state("10", "4", date(2025, 9, 12)), spent_today=Decimal(12))
    assert daily_left(over, NOW, KOLKATA) == 0
    assert capped_out(over, NOW, KOLKATA)
    assert daily_left(state("10", "10", date(2025, 9, 11)), NOW, KOLKATA) == Decimal(10)
