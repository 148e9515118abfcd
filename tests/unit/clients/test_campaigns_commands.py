"""The campaigns CLI turns its delivery-control flags into the Campaign message."""

from __future__ import annotations

import argparse

import pytest

from clients import campaigns_commands


def parsed(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--campaign-id")
    campaigns_commands._add_fields(parser)
    return parser.parse_args(list(flags))


def test_no_delivery_flags_leave_the_fields_unset() -> None:
    campaign = campaigns_commands._campaign(parsed("--text", "x"))
    assert not campaign.HasField("frequency_cap")
    assert campaign.pacing == "" and campaign.daily_budget == "" and not campaign.dayparts


def test_delivery_flags_fill_the_campaign() -> None:
    campaign = campaigns_commands._campaign(
        parsed(
            "--frequency-cap",
            "3/day",
            "--pacing",
            "ASAP",
            "--daily-budget",
            "5",
            "--daypart",
            "MON-FRI 9-17",
            "--daypart",
            "sat,sun 10-24",
            "--daypart",
            "0-6",
        )
    )
    assert (campaign.frequency_cap.max_impressions, campaign.frequency_cap.period) == (3, "DAY")
    assert campaign.pacing == "ASAP" and campaign.daily_budget == "5"
    weekdays, weekend, nightly = campaign.dayparts
    assert list(weekdays.days) == ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
    assert (weekdays.start_hour, weekdays.end_hour) == (9, 17)
    assert list(weekend.days) == ["SATURDAY", "SUNDAY"] and weekend.end_hour == 24
    assert list(nightly.days) == [] and (nightly.start_hour, nightly.end_hour) == (0, 6)


def test_a_day_range_may_wrap_over_the_week_end() -> None:
    part = campaigns_commands._daypart("FRI-MON 20-24")
    assert list(part.days) == ["FRIDAY", "SATURDAY", "SUNDAY", "MONDAY"]


@pytest.mark.parametrize("value", ["9", "MON 9", "XYZ 1-2", "MO 1-2", "MON a-b"])
def test_a_malformed_daypart_is_refused_naming_the_flag(value: str) -> None:
    with pytest.raises(SystemExit, match="--daypart"):
        campaigns_commands._daypart(value)


def test_a_malformed_frequency_cap_is_refused_naming_the_flag() -> None:
    with pytest.raises(SystemExit, match="--frequency-cap"):
        campaigns_commands._campaign(parsed("--frequency-cap", "x/day"))
