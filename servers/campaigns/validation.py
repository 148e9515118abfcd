"""Validation: a campaign's fields, as they arrive, into a CampaignSpec (docs/design.md §3, §4).

Callers hand plain values keyed by the API's field names (strings and ints from protobuf,
the feed or JSON; nested ranges as mappings) to validate_spec and get a CampaignSpec or a
ValidationError naming the first bad field ("cpc", "target_age_range.start", ...).
A partial update (PATCH) is validate_spec({**spec_fields(current), **changes}).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal

from servers import identifiers
from servers.campaigns.dayparts import DAYS, EVERY_DAY
from servers.campaigns.model import (
    ANY,
    Action,
    AgeRange,
    CampaignSpec,
    Daypart,
    FrequencyCap,
    Pacing,
    Period,
    Schedule,
    Targeting,
    canonical_device,
    is_known_device,
)
from servers.campaigns.schedule import local_window
from servers.errors import ValidationError
from servers.money import format_money, parse_money
from servers.text import check_storable

TEXT_MAX_CHARS = 1000
NAME_MAX_CHARS = 100  # category, keywords, city, state, country: VARCHAR(100) columns
MAX_KEYWORDS = 100
MAX_AGE = 150
# The status_reason column is VARCHAR(255); a Stop's reason is kept after its prefix.
STATUS_REASON_MAX_CHARS = 255
STOP_REASON_MAX_CHARS = 200
# Campaign dates: a business range, well inside what every conversion (MySQL DATE and
# DATETIME, Python datetime, Spark and Hive timestamps) holds, time zones included.
MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2999, 12, 31)
MAX_CAP_IMPRESSIONS = 1_000_000
MAX_DAYPARTS = 50
MAX_DAY_NAMES = 70  # seven names, each up to ten times: repeats are folded, not refused

GENDERS = ("M", "F", ANY)
INCOME_BUCKETS = ("H", "M", "L", ANY)

# re.ASCII: \d would also match other scripts' digits (Arabic-Indic "100"), which int() reads.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_CLOCK_TIME = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})", re.ASCII)
_AGE = re.compile(r"\d{1,3}", re.ASCII)


def validate_spec(fields: Mapping[str, object], *, allow_blank_text: bool = False) -> CampaignSpec:
    """validate_spec checks every field of a campaign and returns it normalised.

    allow_blank_text admits a whitespace-only text: the real feed has three such New Campaign
    messages, and refusing them would drop live campaigns. The API keeps it False.
    """
    campaign_id = parse_campaign_id(fields.get("campaign_id"))
    text = _text(fields.get("text"), "text", TEXT_MAX_CHARS, allow_blank=allow_blank_text)
    category = _text(fields.get("category"), "category", NAME_MAX_CHARS, allow_blank=False)
    keywords = parse_keywords(fields.get("keywords"))
    targeting = Targeting(
        gender=parse_gender(fields.get("target_gender")),
        age_range=parse_age_range(fields.get("target_age_range")),
        city=_place(fields.get("target_city"), "target_city"),
        state=_place(fields.get("target_state"), "target_state"),
        country=_place(fields.get("target_country"), "target_country"),
        income_bucket=parse_income_bucket(fields.get("target_income_bucket")),
        device=parse_device(fields.get("target_device")),
    )
    cpc = parse_money(_money_input(fields.get("cpc"), "cpc"), "cpc")
    cpa = parse_money(_money_input(fields.get("cpa"), "cpa"), "cpa")
    if cpc == 0 and cpa == 0:
        raise ValidationError("cpc", "cpc and cpa must not both be 0")
    budget = parse_money(_money_input(fields.get("budget"), "budget"), "budget")
    if budget == 0:
        raise ValidationError("budget", "must be greater than 0")
    schedule = parse_schedule(fields.get("date_range"), fields.get("time_range"))
    daily_budget = parse_daily_budget(fields.get("daily_budget"))
    return CampaignSpec(
        campaign_id=campaign_id,
        text=text,
        category=category,
        keywords=keywords,
        targeting=targeting,
        cpc=cpc,
        cpa=cpa,
        budget=budget,
        schedule=schedule,
        frequency_cap=parse_frequency_cap(fields.get("frequency_cap")),
        pacing=parse_pacing(fields.get("pacing")),
        daily_budget=daily_budget,
        dayparts=parse_dayparts(fields.get("dayparts")),
    )


def spec_fields(spec: CampaignSpec) -> dict[str, object]:
    """spec_fields is the inverse of validate_spec: the spec as API-named plain values."""
    targeting, schedule = spec.targeting, spec.schedule
    return {
        "campaign_id": spec.campaign_id,
        "text": spec.text,
        "category": spec.category,
        "keywords": list(spec.keywords),
        "target_gender": targeting.gender,
        "target_age_range": {"start": targeting.age_range.start, "end": targeting.age_range.end},
        "target_city": targeting.city,
        "target_state": targeting.state,
        "target_country": targeting.country,
        "target_income_bucket": targeting.income_bucket,
        "target_device": targeting.device,
        "cpc": format_money(spec.cpc),
        "cpa": format_money(spec.cpa),
        "budget": format_money(spec.budget),
        "date_range": {
            "start": schedule.start_date.isoformat(),
            "end": schedule.end_date.isoformat(),
        },
        "time_range": {
            "start": format_clock(schedule.start_time),
            "end": format_clock(schedule.end_time),
        },
        "frequency_cap": frequency_cap_fields(spec.frequency_cap),
        "pacing": str(spec.pacing),
        "daily_budget": "" if spec.daily_budget is None else format_money(spec.daily_budget),
        "dayparts": dayparts_json(spec.dayparts),
    }


def frequency_cap_fields(cap: FrequencyCap | None) -> dict[str, object] | None:
    """frequency_cap_fields is a cap as {max_impressions, period}; None for no cap of its own."""
    if cap is None:
        return None
    return {"max_impressions": cap.max_impressions, "period": str(cap.period)}


def dayparts_json(dayparts: tuple[Daypart, ...]) -> list[dict[str, object]]:
    """dayparts_json is dayparts as plain values: day names Monday first, [] for every day."""
    return [
        {
            "days": [] if part.days == EVERY_DAY else [DAYS[day] for day in sorted(part.days)],
            "start_hour": part.start_hour,
            "end_hour": part.end_hour,
        }
        for part in dayparts
    ]


def parse_frequency_cap(value: object) -> FrequencyCap | None:
    """parse_frequency_cap reads {max_impressions, period}; absent or 0 impressions: no cap.

    The period is MINUTE, HOUR, DAY or LIFETIME in any case; max_impressions is 1 to
    1,000,000. A cap without its own impressions leaves the platform's default in force.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping) or not set(value) <= {"max_impressions", "period"}:
        raise ValidationError("frequency_cap", "must be {max_impressions, period}")
    impressions = _whole(value.get("max_impressions", 0), "frequency_cap.max_impressions")
    if impressions == 0:
        return None
    if not 1 <= impressions <= MAX_CAP_IMPRESSIONS:
        raise ValidationError(
            "frequency_cap.max_impressions", f"must be between 0 and {MAX_CAP_IMPRESSIONS:,}"
        )
    period = _optional_text(value.get("period"), "frequency_cap.period")
    if period is None:
        raise ValidationError("frequency_cap.period", "is required with max_impressions")
    for choice in Period:
        if choice.value == period.upper():
            return FrequencyCap(impressions, choice)
    raise ValidationError("frequency_cap.period", "must be one of MINUTE|HOUR|DAY|LIFETIME")


def parse_pacing(value: object) -> Pacing:
    """parse_pacing reads EVEN or ASAP in any case; absent or blank is EVEN."""
    text = _optional_text(value, "pacing")
    if text is None:
        return Pacing.EVEN
    for choice in Pacing:
        if choice.value == text.upper():
            return choice
    raise ValidationError("pacing", "must be one of EVEN|ASAP")


def parse_daily_budget(value: object) -> Decimal | None:
    """parse_daily_budget reads a positive amount like budget; absent or blank is no daily cap."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    amount = parse_money(_money_input(value, "daily_budget"), "daily_budget")
    if amount == 0:
        raise ValidationError("daily_budget", "must be greater than 0 (leave it empty for none)")
    return amount


def parse_dayparts(value: object) -> tuple[Daypart, ...]:
    """parse_dayparts reads at most 50 {days, start_hour, end_hour}; absent is the whole window.

    days are MONDAY to SUNDAY in any case, repeats folded, none meaning every day; hours
    satisfy 0 <= start_hour < end_hour <= 24 (end exclusive). Entries may overlap.
    """
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise ValidationError("dayparts", "must be a list of {days, start_hour, end_hour}")
    if len(value) > MAX_DAYPARTS:
        raise ValidationError("dayparts", f"must be at most {MAX_DAYPARTS}")
    return tuple(_daypart(part, f"dayparts[{index}]") for index, part in enumerate(value))


def _daypart(value: object, field: str) -> Daypart:
    if not isinstance(value, Mapping) or not set(value) <= {"days", "start_hour", "end_hour"}:
        raise ValidationError(field, "must be {days, start_hour, end_hour}")
    days = value.get("days") or []
    if not isinstance(days, (list, tuple)) or len(days) > MAX_DAY_NAMES:
        raise ValidationError(f"{field}.days", "must be a list of MONDAY to SUNDAY")
    numbers = set()
    for day in days:
        name = day.strip().upper() if isinstance(day, str) else None
        if name not in DAYS:
            raise ValidationError(f"{field}.days", "must be a list of MONDAY to SUNDAY")
        numbers.add(DAYS.index(name))
    start = _whole(value.get("start_hour", 0), f"{field}.start_hour")
    end = _whole(value.get("end_hour", 0), f"{field}.end_hour")
    if not 0 <= start <= 23:
        raise ValidationError(f"{field}.start_hour", "must be between 0 and 23")
    if not 1 <= end <= 24:
        raise ValidationError(f"{field}.end_hour", "must be between 1 and 24")
    if end <= start:
        raise ValidationError(f"{field}.end_hour", "must be after start_hour")
    return Daypart(frozenset(numbers) or EVERY_DAY, start, end)


def _whole(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "must be a whole number")
    return value


def parse_action(value: object) -> Action:
    """parse_action reads "New Campaign", "Update Campaign" or "Stop Campaign", any case."""
    if isinstance(value, str):
        wanted = " ".join(value.split()).lower()
        for action in Action:
            if action.value.lower() == wanted:
                return action
    allowed = ", ".join(action.value for action in Action)
    raise ValidationError("action", f"must be one of {allowed}")


def parse_campaign_id(value: object) -> str:
    """parse_campaign_id is the canonical campaign id (servers/identifiers.py has the rule)."""
    return identifiers.campaign_id(value)


def parse_reason(value: object) -> str:
    """parse_reason reads a Stop's optional reason: at most 200 characters, one line."""
    if value is None:
        return ""
    reason = _optional_text(value, "reason", STOP_REASON_MAX_CHARS)
    return reason or ""


def parse_keywords(value: object) -> tuple[str, ...]:
    """parse_keywords splits "a,b" (or takes a list): blanks dropped, order kept, no repeats."""
    if value is None:
        return ()
    if isinstance(value, str):
        words: list[object] = list(value.split(","))
    elif isinstance(value, (list, tuple)):
        words = list(value)
    else:
        raise ValidationError("keywords", "must be a comma-separated string or a list of strings")
    keywords: dict[str, None] = {}  # a dict keeps first-seen order
    for word in words:
        if not isinstance(word, str):
            raise ValidationError("keywords", "must contain strings only")
        keyword = word.strip()
        if len(keyword) > NAME_MAX_CHARS:
            raise ValidationError("keywords", f"each must be at most {NAME_MAX_CHARS} characters")
        check_storable(keyword, "keywords")
        if keyword:
            keywords.setdefault(keyword)
    if len(keywords) > MAX_KEYWORDS:
        raise ValidationError("keywords", f"must be at most {MAX_KEYWORDS}")
    return tuple(keywords)


def parse_gender(value: object) -> str:
    """parse_gender accepts M, F or All in any case; absent means All."""
    return _choice(value, "target_gender", GENDERS)


def parse_income_bucket(value: object) -> str:
    """parse_income_bucket accepts H, M, L or All in any case; absent means All."""
    return _choice(value, "target_income_bucket", INCOME_BUCKETS)


def parse_device(value: object) -> str:
    """parse_device accepts a catalogue device or All, spelled loosely ("android-mobile")."""
    device = _optional_text(value, "target_device")
    if device is None:
        return ANY
    if not is_known_device(device):
        raise ValidationError("target_device", f"unknown device {device!r}")
    return canonical_device(device)


def parse_age_range(value: object) -> AgeRange:
    """parse_age_range accepts {start, end} with 0 ≤ start ≤ end ≤ 150; absent means 0-0."""
    if value is None:
        return AgeRange(0, 0)
    start, end = _range(value, "target_age_range")
    first = _age(start, "target_age_range.start")
    last = _age(end, "target_age_range.end")
    if first > last:
        raise ValidationError("target_age_range.end", "must not be below target_age_range.start")
    return AgeRange(first, last)


def parse_schedule(date_range: object, time_range: object) -> Schedule:
    """parse_schedule reads ISO dates and H:MM:SS times into a window whose start < end."""
    if date_range is None:
        raise ValidationError("date_range", "is required")
    if time_range is None:
        raise ValidationError("time_range", "is required")
    start_date, end_date = _range(date_range, "date_range")
    start_time, end_time = _range(time_range, "time_range")
    schedule = Schedule(
        start_date=_date(start_date, "date_range.start"),
        end_date=_date(end_date, "date_range.end"),
        start_time=_clock(start_time, "time_range.start"),
        end_time=_clock(end_time, "time_range.end"),
    )
    for field, day in (
        ("date_range.start", schedule.start_date),
        ("date_range.end", schedule.end_date),
    ):
        if not MIN_DATE <= day <= MAX_DATE:
            raise ValidationError(field, f"must be between {MIN_DATE} and {MAX_DATE}")
    if schedule.end_date < schedule.start_date:
        raise ValidationError("date_range.end", "must not be before date_range.start")
    window_start, window_end = local_window(schedule)
    if window_end <= window_start:
        raise ValidationError("time_range.end", "must end the window after it starts")
    return schedule


def format_clock(moment: time) -> str:
    """format_clock writes a time the feed's way, H:MM:SS ("5:00:00")."""
    return f"{moment.hour}:{moment.minute:02d}:{moment.second:02d}"


def _text(value: object, field: str, max_chars: int, *, allow_blank: bool) -> str:
    if value is None:
        raise ValidationError(field, "is required")
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    text = value.strip()
    if not text and not allow_blank:
        raise ValidationError(field, "is required")
    if len(text) > max_chars:
        raise ValidationError(field, f"must be at most {max_chars} characters")
    return check_storable(text, field, multiline=True)


def _optional_text(value: object, field: str, max_chars: int = NAME_MAX_CHARS) -> str | None:
    # Absent and blank targeting fields mean "untargeted": protobuf cannot tell them apart.
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    text = value.strip()
    if len(text) > max_chars:
        raise ValidationError(field, f"must be at most {max_chars} characters")
    return check_storable(text, field) or None


def _place(value: object, field: str) -> str:
    place = _optional_text(value, field)
    if place is None or place.lower() == ANY.lower():
        return ANY
    return place


def _choice(value: object, field: str, allowed: tuple[str, ...]) -> str:
    text = _optional_text(value, field)
    if text is None:
        return ANY
    for choice in allowed:
        if choice.lower() == text.lower():
            return choice
    raise ValidationError(field, f"must be one of {'|'.join(allowed)}")


def _money_input(value: object, field: str) -> str | Decimal | int:
    if value is None:
        raise ValidationError(field, "is required")
    if isinstance(value, (str, Decimal, int)):
        return value
    raise ValidationError(field, f"must be a decimal string, not {type(value).__name__}")


def _range(value: object, field: str) -> tuple[object, object]:
    if not isinstance(value, Mapping) or set(value) != {"start", "end"}:
        raise ValidationError(field, "must be {start, end}")
    return value["start"], value["end"]


def _age(value: object, field: str) -> int:
    if isinstance(value, bool):
        raise ValidationError(field, "must be a whole number")
    if isinstance(value, str) and _AGE.fullmatch(value.strip()):
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValidationError(field, "must be a whole number")
    if not 0 <= value <= MAX_AGE:
        raise ValidationError(field, f"must be between 0 and {MAX_AGE}")
    return value


def _date(value: object, field: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise ValidationError(field, "must be an ISO date like 2025-09-12")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(field, "is not a calendar date") from None


def _clock(value: object, field: str) -> time:
    if isinstance(value, time) and value.microsecond == 0 and value.tzinfo is None:
        return value
    match = _CLOCK_TIME.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValidationError(field, "must be a time like 5:00:00 or 17:30:00")
    hour, minute, second = (int(part) for part in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise ValidationError(field, "is not a time of day")
    return time(hour, minute, second)
