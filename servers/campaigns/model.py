"""Campaign model: the values every business rule of docs/design.md section 4 works on.

Plain frozen dataclasses; validation.py is the only way to build them from input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from enum import StrEnum

ANY = "All"  # a targeting value that matches everyone
NO_PARTITION = -1  # an instruction ordered by a single sequence (the feed's rows, a preview)

KNOWN_DEVICES = ("Android Mobile", "Windows Computer", "iPhone", "Linux Computer", "Macbook")
_DEVICE_BY_KEY = {name.lower(): name for name in (*KNOWN_DEVICES, ANY)}


def device_key(device: str) -> str:
    """device_key folds case, hyphens, underscores and runs of blanks ("android-mobile")."""
    return " ".join(device.replace("-", " ").replace("_", " ").split()).lower()


def canonical_device(device: str) -> str:
    """canonical_device names a device the catalogue's way ("iphone" → "iPhone")."""
    key = device_key(device)
    # Unknown devices keep a readable name: requests may carry any device string.
    return _DEVICE_BY_KEY.get(key, key.title())


def is_known_device(device: str) -> bool:
    """is_known_device is true for the catalogue's devices and for All."""
    return device_key(device) in _DEVICE_BY_KEY


class Status(StrEnum):
    """Status says whether a campaign may serve (ACTIVE) or not (INACTIVE)."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class StatusReason(StrEnum):
    """StatusReason says why a campaign has its status; it is shown to campaign managers."""

    CREATED = "created by campaign manager"
    UPDATED = "updated by campaign manager"
    STOPPED = "stopped by campaign manager"
    BUDGET_EXHAUSTED = "budget exhausted"
    BUDGET_RAISED = "reactivated: budget raised above spent"


class Action(StrEnum):
    """Action is what a campaign instruction asks for, spelled as in the feed."""

    NEW = "New Campaign"
    UPDATE = "Update Campaign"
    STOP = "Stop Campaign"


@dataclass(frozen=True, slots=True)
class AgeRange:
    """AgeRange is the inclusive range of user ages a campaign targets; 0-0 means any age."""

    start: int
    end: int

    @property
    def is_any(self) -> bool:
        """is_any is true for 0-0, the untargeted range."""
        return self.start == 0 and self.end == 0


@dataclass(frozen=True, slots=True)
class Targeting:
    """Targeting is who a campaign wants to reach; ANY ("All") in a field matches everyone."""

    gender: str
    age_range: AgeRange
    city: str
    state: str
    country: str
    income_bucket: str
    device: str


@dataclass(frozen=True, slots=True)
class Schedule:
    """Schedule is a campaign's dates and times; schedule.window turns it into one window."""

    start_date: date
    end_date: date
    start_time: time
    end_time: time


class Period(StrEnum):
    """Period is a frequency cap's unit: a calendar minute, hour or day, or the campaign's life."""

    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"
    LIFETIME = "LIFETIME"


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    """FrequencyCap is at most max_impressions ads per user per period."""

    max_impressions: int
    period: Period


class Pacing(StrEnum):
    """Pacing says how a budget is spread: EVEN over 10-minute slots (rule 7), or ASAP."""

    EVEN = "EVEN"
    ASAP = "ASAP"


@dataclass(frozen=True, slots=True)
class Daypart:
    """Daypart is the hours start_hour to end_hour (exclusive) on some days of the week."""

    days: frozenset[int]  # 0 is Monday, as datetime.weekday(); every day when all seven
    start_hour: int  # 0-23
    end_hour: int  # 1-24, exclusive


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """CampaignSpec is what a campaign manager asks for: the ad, its audience, bids and budget."""

    campaign_id: str
    text: str
    category: str
    keywords: tuple[str, ...]
    targeting: Targeting
    cpc: Decimal
    cpa: Decimal
    budget: Decimal  # the lifetime total, not what is left
    schedule: Schedule
    # Delivery controls; the defaults keep docs/design.md rules 1-8 as they were.
    frequency_cap: FrequencyCap | None = None  # None: the platform's default cap, if any
    pacing: Pacing = Pacing.EVEN
    daily_budget: Decimal | None = None  # None: no daily cap
    dayparts: tuple[Daypart, ...] = ()  # (): the whole live window


@dataclass(frozen=True, slots=True)
class Instruction:
    """Instruction is one feed or Kafka message; sequence orders it within its campaign."""

    action: Action
    spec: CampaignSpec
    sequence: int  # the Kafka offset or the feed's row number: grows per campaign
    reason: str = ""  # a campaign manager's words on a Stop, kept in the status reason
    partition: int = NO_PARTITION  # the Kafka partition the offset belongs to
    record_ms: int = 0  # the Kafka record's timestamp: a recreated topic starts offsets over
