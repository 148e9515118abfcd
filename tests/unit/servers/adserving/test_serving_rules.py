"""Tests for servers.adserving.server.delivery_rules: the platform's floor and default cap."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from servers.adserving.server import delivery_rules
from servers.campaigns.model import FrequencyCap, Period
from servers.settings import Settings


def test_the_defaults_keep_todays_auction() -> None:
    rules = delivery_rules(Settings())
    assert (rules.floor_cpm, rules.default_cap) == (Decimal(0), None)
    assert rules.tz == ZoneInfo("Asia/Kolkata")


def test_a_platform_floor_and_default_cap_are_read() -> None:
    rules = delivery_rules(
        Settings(floor_cpm="0.00002", frequency_cap="3/day", timezone="Europe/Berlin")
    )
    assert rules.floor_cpm == Decimal("0.00002")
    assert rules.default_cap == FrequencyCap(3, Period.DAY)
    assert rules.tz == ZoneInfo("Europe/Berlin")
