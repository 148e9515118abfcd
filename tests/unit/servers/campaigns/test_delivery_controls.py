"""Tests for the delivery controls' fields: validation, and every form they travel in.

proto ⇄ fields ⇄ CampaignSpec ⇄ campaigns row ⇄ feed JSON, update masks, and limits
checked on the value actually stored.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from adplatform.v1 import campaign_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from servers.campaigns.instructions import UPDATABLE_FIELDS, CampaignState, apply, resolve
from servers.campaigns.model import (
    Action,
    Daypart,
    FrequencyCap,
    Pacing,
    Period,
    Status,
)
from servers.campaigns.pacing import SlotBudget
from servers.campaigns.pricing import Weights
from servers.campaigns.store import CampaignRecord, from_row, to_row
from servers.campaigns.validation import (
    MAX_CAP_IMPRESSIONS,
    MAX_DAYPARTS,
    spec_fields,
    validate_spec,
)
from servers.campaigns.wire import (
    campaign_fields,
    decode_instruction,
    encode_instruction,
    refuse_read_only,
    to_proto,
)
from servers.errors import ValidationError
from tests.fixtures.campaigns import VALID_FIELDS
from tests.unit.servers.campaigns.test_hostile_input import assert_fits_columns

KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = datetime(2025, 9, 12, 4, 0, tzinfo=UTC)  # 9:30 in Kolkata, inside the window
WEIGHTS = Weights.parse("0.0075", "0.0005")
CONTROLS: dict[str, Any] = {
    "frequency_cap": {"max_impressions": 3, "period": "day"},
    "pacing": "asap",
    "daily_budget": "25.5",
    "dayparts": [
        {"days": ["monday", "FRIDAY", "Monday"], "start_hour": 9, "end_hour": 17},
        {"days": [], "start_hour": 20, "end_hour": 24},
    ],
}


def spec_of(**overrides: Any) -> Any:
    return validate_spec({**VALID_FIELDS, **overrides})


def test_absent_controls_keep_todays_rules() -> None:
    spec = spec_of()
    assert spec.frequency_cap is None
    assert spec.pacing is Pacing.EVEN
    assert spec.daily_budget is None
    assert spec.dayparts == ()
    blank = spec_of(frequency_cap={"max_impressions": 0, "period": ""}, pacing="", daily_budget="")
    assert blank == spec


def test_controls_are_read_case_insensitively_and_folded() -> None:
    spec = spec_of(**CONTROLS)
    assert spec.frequency_cap == FrequencyCap(3, Period.DAY)
    assert spec.pacing is Pacing.ASAP
    assert spec.daily_budget == Decimal("25.5")
    assert spec.dayparts == (
        Daypart(frozenset({0, 4}), 9, 17),  # the repeated Monday is folded
        Daypart(frozenset(range(7)), 20, 24),  # no days: every day
    )
    fields = spec_fields(spec)
    assert fields["frequency_cap"] == {"max_impressions": 3, "period": "DAY"}
    assert fields["pacing"] == "ASAP"
    assert fields["dayparts"] == [
        {"days": ["MONDAY", "FRIDAY"], "start_hour": 9, "end_hour": 17},
        {"days": [], "start_hour": 20, "end_hour": 24},
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"frequency_cap": {"max_impressions": 3, "period": "week"}}, "frequency_cap.period"),
        ({"frequency_cap": {"max_impressions": 3}}, "frequency_cap.period"),
        (
            {"frequency_cap": {"max_impressions": -1, "period": "DAY"}},
            "frequency_cap.max_impressions",
        ),
        (
            {"frequency_cap": {"max_impressions": MAX_CAP_IMPRESSIONS + 1, "period": "DAY"}},
            "frequency_cap.max_impressions",
        ),
        (
            {"frequency_cap": {"max_impressions": "3", "period": "DAY"}},
            "frequency_cap.max_impressions",
        ),
        (
            {"frequency_cap": {"max_impressions": True, "period": "DAY"}},
            "frequency_cap.max_impressions",
        ),
        ({"frequency_cap": {"max_impressions": 3, "period": "DAY", "x": 1}}, "frequency_cap"),
        ({"frequency_cap": "3/day"}, "frequency_cap"),
        ({"pacing": "FAST"}, "pacing"),
        ({"pacing": 1}, "pacing"),
        ({"daily_budget": "0"}, "daily_budget"),
        ({"daily_budget": "-1"}, "daily_budget"),
        ({"daily_budget": "1e3"}, "daily_budget"),
        ({"daily_budget": "0.00000000001"}, "daily_budget"),
        ({"daily_budget": 1.5}, "daily_budget"),
        ({"dayparts": {"days": []}}, "dayparts"),
        ({"dayparts": [{"start_hour": 9, "end_hour": 17}] * (MAX_DAYPARTS + 1)}, "dayparts"),
        ({"dayparts": [{"start_hour": 9, "end_hour": 17}, "x"]}, "dayparts[1]"),
        ({"dayparts": [{"days": ["FUNDAY"], "start_hour": 9, "end_hour": 17}]}, "dayparts[0].days"),
        ({"dayparts": [{"days": "MONDAY", "start_hour": 9, "end_hour": 17}]}, "dayparts[0].days"),
        ({"dayparts": [{"days": [1], "start_hour": 9, "end_hour": 17}]}, "dayparts[0].days"),
        ({"dayparts": [{"start_hour": 24, "end_hour": 24}]}, "dayparts[0].start_hour"),
        ({"dayparts": [{"start_hour": -1, "end_hour": 2}]}, "dayparts[0].start_hour"),
        ({"dayparts": [{"start_hour": 0, "end_hour": 25}]}, "dayparts[0].end_hour"),
        (
            {"dayparts": [{"start_hour": 1, "end_hour": 2}, {"start_hour": 9, "end_hour": 9}]},
            "dayparts[1].end_hour",
        ),
        ({"dayparts": [{"start_hour": 10, "end_hour": 9}]}, "dayparts[0].end_hour"),
        ({"dayparts": [{"start_hour": 9.0, "end_hour": 17}]}, "dayparts[0].start_hour"),
        ({"dayparts": [{"start_hour": 9, "end_hour": 17, "tz": "UTC"}]}, "dayparts[0]"),
    ],
)
def test_bad_controls_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        spec_of(**overrides)
    assert raised.value.field == field


def state_of(spec: Any) -> CampaignState:
    return CampaignState(
        spec=spec,
        status=Status.ACTIVE,
        status_reason="created by campaign manager",
        spent=Decimal("1.25"),
        slot=SlotBudget(NOW, Decimal("0.5")),
        last_sequence=7,
        spent_today=Decimal("1.25"),
        spent_day=date(2025, 9, 12),
    )


controls = st.fixed_dictionaries(
    {},
    optional={
        "frequency_cap": st.fixed_dictionaries(
            {
                "max_impressions": st.integers(0, MAX_CAP_IMPRESSIONS),
                "period": st.sampled_from(["minute", "HOUR", "Day", "lifetime"]),
            }
        ),
        "pacing": st.sampled_from(["EVEN", "ASAP", "even", ""]),
        "daily_budget": st.decimals(
            min_value=Decimal("0.0000000001"), max_value=Decimal(10**13), places=10
        ).map(lambda amount: format(amount, "f")),
        "dayparts": st.lists(
            st.integers(0, 23).flatmap(
                lambda start: st.fixed_dictionaries(
                    {
                        "days": st.lists(
                            st.sampled_from(["MONDAY", "tuesday", "Sunday", "SATURDAY"]),
                            max_size=4,
                        ),
                        "start_hour": st.just(start),
                        "end_hour": st.integers(start + 1, 24),
                    }
                )
            ),
            max_size=MAX_DAYPARTS,
        ),
    },
)


@settings(max_examples=60, deadline=None)
@given(controls)
def test_controls_round_trip_through_every_form(raw: dict[str, Any]) -> None:
    spec = spec_of(**raw)
    assert validate_spec(spec_fields(spec)) == spec
    state = state_of(spec)
    row = to_row(state, WEIGHTS, KOLKATA, NOW)
    assert_fits_columns(row)
    assert json.loads(json.dumps(row["dayparts"])) == row["dayparts"]  # a JSON column's value
    assert from_row(row).state == state
    record = CampaignRecord(state, row["cpm"], NOW, NOW)
    message = to_proto(record, NOW, KOLKATA)
    assert validate_spec(campaign_fields(message)) == spec
    feed = json.dumps({"action": "New Campaign", **VALID_FIELDS, **raw}).encode()
    decoded = decode_instruction(feed)
    assert validate_spec(decoded.fields) == spec
    record_bytes = encode_instruction(Action.NEW, message)
    assert validate_spec(decode_instruction(record_bytes).fields) == spec


def test_get_campaign_shows_the_controls_and_spent_today() -> None:
    spec = spec_of(**CONTROLS)
    record = CampaignRecord(state_of(spec), Decimal(1), NOW, NOW)
    message = to_proto(record, NOW, KOLKATA)
    assert message.frequency_cap == campaign_pb2.FrequencyCap(max_impressions=3, period="DAY")
    assert message.pacing == "ASAP"
    assert message.daily_budget == "25.5"
    assert [list(part.days) for part in message.dayparts] == [["MONDAY", "FRIDAY"], []]
    assert message.spent_today == "1.25"
    tomorrow = datetime(2025, 9, 12, 18, 30, tzinfo=UTC)  # midnight in Kolkata
    assert to_proto(record, tomorrow, KOLKATA).spent_today == "0"
    assert not to_proto(CampaignRecord(state_of(spec_of()), 1, NOW, NOW), NOW, KOLKATA).HasField(
        "frequency_cap"
    )


def test_spent_today_is_read_only() -> None:
    with pytest.raises(ValidationError) as raised:
        refuse_read_only(campaign_pb2.Campaign(spent_today="1"), "campaign")
    assert raised.value.field == "campaign.spent_today"


def test_a_feed_message_may_carry_the_controls_with_exact_amounts() -> None:
    feed = json.dumps({"action": "New Campaign", **VALID_FIELDS, **CONTROLS})
    feed = feed.replace('"25.5"', "25.5")  # a JSON number: read as an exact decimal
    decoded = decode_instruction(feed.encode())
    assert validate_spec(decoded.fields).daily_budget == Decimal("25.5")
    with pytest.raises(ValidationError) as raised:
        decode_instruction(json.dumps({"action": "New Campaign", "pace": "ASAP"}).encode())
    assert raised.value.field == "pace"


@pytest.mark.parametrize("path", ["frequency_cap", "pacing", "daily_budget", "dayparts"])
def test_update_masks_name_the_controls(path: str) -> None:
    assert path in UPDATABLE_FIELDS
    current = apply(
        None, resolve(None, Action.NEW, {**VALID_FIELDS, **CONTROLS}, sequence=1), NOW, KOLKATA
    )
    changed = resolve(
        current.state,
        Action.UPDATE,
        {"campaign_id": VALID_FIELDS["campaign_id"]},
        sequence=2,
        mask=[path],
    )
    cleared = changed.spec
    kept = spec_of(**CONTROLS)
    defaults = spec_of()
    for name in ("frequency_cap", "pacing", "daily_budget", "dayparts"):
        expected = getattr(defaults if name == path else kept, name)
        assert getattr(cleared, name) == expected, name


def test_an_update_keeps_what_was_spent_today() -> None:
    new = resolve(None, Action.NEW, {**VALID_FIELDS, **CONTROLS}, sequence=1)
    state = apply(None, new, NOW, KOLKATA).state
    spent = dataclasses.replace(
        state, spent=Decimal(2), spent_today=Decimal(2), spent_day=date(2025, 9, 12)
    )
    fields = {**VALID_FIELDS, **CONTROLS, "pacing": "EVEN"}
    after = apply(spent, resolve(spent, Action.UPDATE, fields, sequence=2), NOW, KOLKATA).state
    assert after.spent_today == Decimal(2) and after.spent_day == date(2025, 9, 12)
    assert after.status is Status.ACTIVE
    assert after.slot.amount > 0  # re-paced with what is left of the daily budget today
