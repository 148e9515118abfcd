"""Tests for servers.campaigns.feed: the CSV and JSON message forms, and the real feed."""

from __future__ import annotations

import collections
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from servers.campaigns.feed import (
    days_to_shift,
    parse_feed,
    parse_message,
    parse_nested,
    read_feed,
    shift_schedule,
)
from servers.campaigns.model import Action, AgeRange, Instruction
from servers.campaigns.validation import validate_spec
from servers.errors import ValidationError

Fields = Callable[..., dict[str, Any]]

HEADER = (
    "text,category,keywords,campaign_id,action,target_gender,target_age_range,target_city,"
    "target_state,target_country,target_income_bucket,target_device,cpc,cpa,budget,"
    "date_range,time_range"
)
ROW = (
    '"Meetrip 35L Backpack, Hiking",Sports & Fitness,"outdoor,sports,hiking,hiking",'
    "9a4110f0-8f97-11f0-b7f6-0e087721c0e9,New Campaign,All,\"{'start': '20', 'end': '45'}\","
    "All,All,India,All,android-mobile,0.00041,0.0542,700,"
    "\"{'start': '2025-09-12', 'end': '2025-09-13'}\",\"{'start': '5:00:00', 'end': '0:00:00'}\""
)


def csv_row(fields: Fields, action: str = "New Campaign") -> dict[str, Any]:
    row = fields(action=action)
    row["target_age_range"] = "{'start': '20', 'end': '45'}"
    row["date_range"] = "{'start': '2025-09-12', 'end': '2025-09-13'}"
    row["time_range"] = "{'start': '5:00:00', 'end': '18:00:00'}"
    return row


def test_a_csv_row_becomes_an_instruction(fields: Fields) -> None:
    instruction = parse_message(csv_row(fields, "Update Campaign"), sequence=7)
    assert instruction.action is Action.UPDATE
    assert instruction.sequence == 7
    assert instruction.spec == validate_spec(fields())


def test_the_json_form_with_real_mappings_and_ints(fields: Fields) -> None:
    raw = json.dumps(fields(action="Stop Campaign", target_age_range={"start": 20, "end": 45}))
    message = json.loads(raw, parse_float=Decimal)
    instruction = parse_message(message, sequence=1)
    assert instruction.action is Action.STOP
    assert instruction.spec.targeting.age_range == AgeRange(20, 45)


def test_json_numbers_are_exact_when_parsed_as_decimal(fields: Fields) -> None:
    raw = json.dumps(fields(action="New Campaign")).replace('"0.00066"', "0.00066")
    assert parse_message(json.loads(raw, parse_float=Decimal), 1).spec.cpc == Decimal("0.00066")
    with pytest.raises(ValidationError) as caught:
        parse_message(json.loads(raw), 1)  # a float: refused, not rounded
    assert caught.value.field == "cpc"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("target_age_range", "__import__('os').system('false')"),
        ("target_age_range", "{'start': '20'"),
        ("target_age_range", "[1, 2]"),
        ("date_range", "{'start': '2025-09-12', 'end': '2025-09-13', 'x': 1}"),
        ("time_range", "{'start': '5:00:00', 'end': '" + "9" * 300 + "'}"),
        ("action", "Pause Campaign"),
        ("action", None),
    ],
)
def test_malformed_messages_name_the_field(fields: Fields, field: str, value: Any) -> None:
    message = csv_row(fields)
    message[field] = value
    with pytest.raises(ValidationError) as caught:
        parse_message(message, 1)
    assert caught.value.field == field


def test_parse_nested_passes_non_strings_through() -> None:
    mapping = {"start": 1, "end": 2}
    assert parse_nested(mapping, "target_age_range") is mapping
    assert parse_nested(None, "target_age_range") is None
    assert parse_nested("{'start': '1', 'end': '2'}", "x") == {"start": "1", "end": "2"}


def test_blank_text_from_the_feed_is_accepted(fields: Fields) -> None:
    message = csv_row(fields)
    message["text"] = "\n    \n        "
    assert parse_message(message, 1).spec.text == ""


def test_parse_feed_numbers_rows_and_normalises() -> None:
    instructions = list(parse_feed([HEADER, ROW, ROW.replace("New Campaign", "Stop Campaign")]))
    assert [instruction.sequence for instruction in instructions] == [1, 2]
    first = instructions[0]
    assert first.spec.text == "Meetrip 35L Backpack, Hiking"
    assert first.spec.keywords == ("outdoor", "sports", "hiking")
    assert first.spec.targeting.device == "Android Mobile"
    assert instructions[1].action is Action.STOP


def test_read_feed_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    [instruction] = read_feed(path)
    assert instruction.spec.campaign_id == "9a4110f0-8f97-11f0-b7f6-0e087721c0e9"


def test_parse_feed_says_which_row_is_bad() -> None:
    bad = ROW.replace("0.00041", "cheap")
    with pytest.raises(ValidationError) as caught:
        list(parse_feed([HEADER, ROW, bad]))
    assert caught.value.field == "cpc"
    assert "feed row 2" in caught.value.__notes__


def test_shift_schedule_moves_only_the_dates(fields: Fields) -> None:
    schedule = parse_message(csv_row(fields), sequence=3).spec.schedule
    moved = shift_schedule(schedule, 10)
    assert moved.start_date == date(2025, 9, 22)
    assert moved.end_date == date(2025, 9, 23)
    assert moved.start_time == schedule.start_time
    assert moved.end_time == schedule.end_time
    assert shift_schedule(schedule, 0) == schedule
    assert shift_schedule(moved, -10) == schedule


def test_days_to_shift_brings_the_first_date_to_today() -> None:
    assert days_to_shift(date(2025, 9, 12), date(2025, 11, 27)) == 76
    assert days_to_shift(date(2025, 9, 12), date(2025, 9, 12)) == 0
    assert days_to_shift(date(2025, 9, 12), date(2025, 9, 1)) == -11


def test_every_row_of_the_real_feed_is_valid(feed_instructions: list[Instruction]) -> None:
    instructions = feed_instructions
    assert len(instructions) == 7677
    actions = collections.Counter(instruction.action for instruction in instructions)
    assert actions == {Action.NEW: 4225, Action.UPDATE: 1320, Action.STOP: 2132}
    assert len({instruction.spec.campaign_id for instruction in instructions}) == 4242
    assert [instruction.sequence for instruction in instructions] == list(range(1, 7678))


def test_live_shift_puts_campaigns_in_their_window_at_any_hour(feed_path: Path) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from clients.feed_loader import read_messages
    from servers.campaigns.feed import first_date, live_shift, parse_message, shift_message
    from servers.campaigns.schedule import is_live

    kolkata = ZoneInfo("Asia/Kolkata")
    rows = read_messages(feed_path)
    for hour in (0, 3, 9, 15, 21, 23):
        now = datetime(2026, 11, 28, hour, 30, tzinfo=kolkata).astimezone(UTC)
        days = live_shift(rows, now, kolkata)
        first = first_date(rows)
        assert (now.astimezone(kolkata).date() - first).days - 3 <= days
        moved = [parse_message(shift_message(row, days), n) for n, row in enumerate(rows, 1)]
        live = {i.spec.campaign_id for i in moved if is_live(i.spec.schedule, now, kolkata)}
        assert len(live) > 1000, (hour, days, len(live))
