"""Tests for is_servable with the delivery controls: pacing, dayparts, daily budget left."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from servers.adserving.targeting import LiveCampaign, is_servable
from servers.campaigns.model import CampaignSpec, Status

KOLKATA = ZoneInfo("Asia/Kolkata")
FRIDAY_10 = datetime(2025, 9, 12, 10, 0, tzinfo=KOLKATA)  # inside the valid campaign's window
MakeSpec = Callable[..., CampaignSpec]


def live(spec: CampaignSpec, slot: str = "1", spent_today: str = "0") -> LiveCampaign:
    return LiveCampaign.build(
        spec, Status.ACTIVE, Decimal(100), Decimal(slot), KOLKATA, spent_today=Decimal(spent_today)
    )


def test_without_controls_nothing_changes(make_spec: MakeSpec) -> None:
    campaign = live(make_spec())
    assert is_servable(campaign, FRIDAY_10)
    assert not is_servable(dataclasses.replace(campaign, slot_budget=Decimal(0)), FRIDAY_10)


def test_asap_needs_no_slot_budget(make_spec: MakeSpec) -> None:
    assert is_servable(live(make_spec(pacing="ASAP"), slot="0"), FRIDAY_10)
    assert not is_servable(live(make_spec(pacing="EVEN"), slot="0"), FRIDAY_10)


def test_a_daily_budget_spent_today_stops_it(make_spec: MakeSpec) -> None:
    assert is_servable(live(make_spec(daily_budget="2"), spent_today="1.99"), FRIDAY_10)
    capped = live(make_spec(daily_budget="2"), spent_today="2")
    assert capped.daily_left == 0
    assert not is_servable(capped, FRIDAY_10)
    assert capped.status is Status.ACTIVE


def test_dayparts_are_hours_of_the_week_in_the_platform_zone(make_spec: MakeSpec) -> None:
    campaign = live(make_spec(dayparts=[{"days": ["FRIDAY"], "start_hour": 10, "end_hour": 11}]))
    assert is_servable(campaign, FRIDAY_10)
    assert not is_servable(campaign, FRIDAY_10 - timedelta(seconds=1))
    assert not is_servable(campaign, FRIDAY_10 + timedelta(hours=1))
    assert not is_servable(campaign, FRIDAY_10 + timedelta(days=1))  # Saturday, in the window
