"""Targeting: which campaigns may be shown to this user on this device (docs/design.md rule 3).

Hot path. Build a LiveCampaign per campaign once, when the ad index is (re)built: it holds
the targeting compiled to lower case with None for "any", and the window in UTC. Per
request build one Viewer (the request and profile, normalised once) and a UTC now, then
call is_eligible for each campaign; each call only compares prepared strings and ints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from servers import identifiers
from servers.campaigns.dayparts import in_daypart
from servers.campaigns.model import (
    ANY,
    CampaignSpec,
    Daypart,
    Pacing,
    Status,
    Targeting,
    device_key,
)
from servers.campaigns.schedule import utc_window

_ANY_KEY = ANY.lower()
_NOTHING = Decimal(0)
_UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Request:
    """Request is an ad request as checked at the door (ad_request.parse)."""

    user_id: str  # canonical (servers.identifiers.user_id)
    device_type: str
    city: str
    state: str
    country: str  # the home country when the device sent none (ad_request.parse)


@dataclass(frozen=True, slots=True)
class UserProfile:
    """UserProfile is a user's row in the users table; None in a field means unknown."""

    age: int | None
    gender: str | None
    income_bucket: str | None


@dataclass(frozen=True, slots=True)
class Viewer:
    """Viewer is a request plus profile normalised for matching; None means unknown."""

    device: str
    city: str
    state: str
    country: str
    age: int | None
    gender: str | None
    income_bucket: str | None


@dataclass(frozen=True, slots=True)
class CompiledTargeting:
    """CompiledTargeting is a campaign's targeting in matching form; None means any."""

    device: str | None
    city: str | None
    state: str | None
    country: str | None
    gender: str | None
    income_bucket: str | None
    ages: tuple[int, int] | None  # inclusive (start, end)


@dataclass(frozen=True, slots=True)
class LiveCampaign:
    """LiveCampaign is what the ad index keeps per campaign to decide eligibility fast."""

    campaign_id: str
    status: Status
    targeting: CompiledTargeting
    starts_at: datetime  # UTC, inclusive
    ends_at: datetime  # UTC, exclusive
    remaining: Decimal
    slot_budget: Decimal
    # Delivery controls; the defaults are rule 3 as it was.
    pacing: Pacing = Pacing.EVEN  # ASAP ignores the slot budget
    dayparts: tuple[Daypart, ...] = ()  # (): the whole window
    tz: ZoneInfo = _UTC_ZONE  # the platform's time zone, which dayparts are read in
    daily_left: Decimal | None = None  # left of the daily budget today; None: no daily budget

    @classmethod
    def build(
        cls,
        spec: CampaignSpec,
        status: Status,
        remaining: Decimal,
        slot_budget: Decimal,
        tz: ZoneInfo,
        *,
        spent_today: Decimal = _NOTHING,
    ) -> LiveCampaign:
        """LiveCampaign.build prepares a stored campaign for the index (slot budget rolled over).

        spent_today is what it spent today (daily.spent_today); servable.servable_at sets the
        daily budget left and the slot budget as of the instant it evaluates.
        """
        starts_at, ends_at = utc_window(spec.schedule, tz)
        daily_budget = spec.daily_budget
        return cls(
            campaign_id=spec.campaign_id,
            status=Status(status),  # an enum member, so is_eligible can compare by identity
            targeting=compile_targeting(spec.targeting),
            starts_at=starts_at,
            ends_at=ends_at,
            remaining=remaining,
            slot_budget=slot_budget,
            pacing=Pacing(spec.pacing),
            dayparts=spec.dayparts,
            tz=tz,
            daily_left=None if daily_budget is None else max(daily_budget - spent_today, _NOTHING),
        )


def effective_profile(user_id: str, profile: UserProfile | None) -> UserProfile | None:
    """effective_profile drops the profile of the privacy user, whatever the users table says.

    user_id is canonical (servers.identifiers.user_id, as ad_request.parse reads it).
    """
    return None if identifiers.is_privacy_id(user_id) else profile


def _key(value: str) -> str:
    return value.strip().lower()


def _targeted(key: str) -> str | None:
    # Blank means untargeted, as validation reads it, should a stored value be blank.
    return None if key in {"", _ANY_KEY} else key


def compile_targeting(targeting: Targeting) -> CompiledTargeting:
    """compile_targeting lower-cases a campaign's targeting once and turns All into None."""
    ages = targeting.age_range
    return CompiledTargeting(
        device=_targeted(device_key(targeting.device)),
        city=_targeted(_key(targeting.city)),
        state=_targeted(_key(targeting.state)),
        country=_targeted(_key(targeting.country)),
        gender=_targeted(_key(targeting.gender)),
        income_bucket=_targeted(_key(targeting.income_bucket)),
        ages=None if ages.is_any else (ages.start, ages.end),
    )


def viewer(request: Request, profile: UserProfile | None) -> Viewer:
    """viewer normalises a request and the user's profile once; no profile matches only All."""
    profile = effective_profile(request.user_id, profile)
    return Viewer(
        device=device_key(request.device_type),
        city=_key(request.city),
        state=_key(request.state),
        country=_key(request.country),
        age=None if profile is None else profile.age,
        gender=None if profile is None or profile.gender is None else _key(profile.gender),
        income_bucket=(
            None
            if profile is None or profile.income_bucket is None
            else _key(profile.income_bucket)
        ),
    )


def matches_viewer(targeting: CompiledTargeting, who: Viewer) -> bool:
    """matches_viewer is true when every targeted dimension equals the viewer's (hot path)."""
    # A targeted dimension never equals an unknown (None) one, so no profile means no match.
    # The age range is inclusive at both ends: 20-45 includes a 45-year-old.
    ages = targeting.ages
    return (
        (targeting.device is None or targeting.device == who.device)
        and (targeting.city is None or targeting.city == who.city)
        and (targeting.state is None or targeting.state == who.state)
        and (targeting.country is None or targeting.country == who.country)
        and (targeting.gender is None or targeting.gender == who.gender)
        and (targeting.income_bucket is None or targeting.income_bucket == who.income_bucket)
        and (ages is None or (who.age is not None and ages[0] <= who.age <= ages[1]))
    )


def matches(targeting: Targeting, request: Request, profile: UserProfile | None) -> bool:
    """matches answers rule 3's targeting test for one campaign (convenience, not hot path)."""
    return matches_viewer(compile_targeting(targeting), viewer(request, profile))


def is_servable(campaign: LiveCampaign, now: datetime) -> bool:
    """is_servable is rule 3 without targeting: ACTIVE, in its window, budget and slot budget left.

    With the delivery controls also: inside a daypart (if any), daily budget left today (if
    any); an ASAP campaign has no slot budget to wait for. now must be aware; pass it in UTC
    so comparisons take the fast same-zone path.
    """
    daily_left = campaign.daily_left
    return (
        campaign.status is Status.ACTIVE
        and campaign.starts_at <= now < campaign.ends_at
        and campaign.remaining > _NOTHING
        and (campaign.pacing is Pacing.ASAP or campaign.slot_budget > _NOTHING)
        and (daily_left is None or daily_left > _NOTHING)
        and (not campaign.dayparts or in_daypart(campaign.dayparts, now, campaign.tz))
    )


def is_eligible(campaign: LiveCampaign, who: Viewer, now: datetime) -> bool:
    """is_eligible is rule 3: servable now (is_servable) and targeted at this viewer."""
    return is_servable(campaign, now) and matches_viewer(campaign.targeting, who)


def eligible_campaigns(
    campaigns: Iterable[LiveCampaign], who: Viewer, now: datetime
) -> list[LiveCampaign]:
    """eligible_campaigns filters the ad index down to the campaigns this viewer may see now."""
    now = now.astimezone(UTC)
    return [campaign for campaign in campaigns if is_eligible(campaign, who, now)]
