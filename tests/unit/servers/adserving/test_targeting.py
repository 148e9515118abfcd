"""Tests for servers.adserving.targeting: eligibility and targeting of rule 3."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.adserving.ad_request import parse
from servers.adserving.targeting import (
    CompiledTargeting,
    LiveCampaign,
    Request,
    UserProfile,
    compile_targeting,
    effective_profile,
    eligible_campaigns,
    is_eligible,
    matches,
    viewer,
)
from servers.campaigns.model import AgeRange, CampaignSpec, Status, Targeting
from servers.identifiers import PRIVACY_USER_ID
from servers.settings import Settings

KOLKATA = ZoneInfo("Asia/Kolkata")
HOME_COUNTRY = Settings.model_fields["home_country"].default
MakeSpec = Callable[..., CampaignSpec]

UNTARGETED = Targeting(
    gender="All",
    age_range=AgeRange(0, 0),
    city="All",
    state="All",
    country="All",
    income_bucket="All",
    device="All",
)
MUMBAI_ANDROID = Request("u1", "Android Mobile", "Mumbai", "Maharashtra", "India")
WOMAN_30_MIDDLE = UserProfile(age=30, gender="F", income_bucket="M")


def targeting(**changes: Any) -> Targeting:
    return dataclasses.replace(UNTARGETED, **changes)


def test_untargeted_matches_anyone_even_without_a_profile() -> None:
    assert matches(UNTARGETED, MUMBAI_ANDROID, WOMAN_30_MIDDLE)
    assert matches(UNTARGETED, MUMBAI_ANDROID, None)
    assert matches(UNTARGETED, Request("u", "", "", "", ""), None)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"device": "Android Mobile"}, True),
        ({"device": "iPhone"}, False),
        ({"city": "Mumbai"}, True),
        ({"city": "Delhi"}, False),
        ({"state": "Maharashtra"}, True),
        ({"state": "Gujrat"}, False),
        ({"country": "India"}, True),
        ({"country": "Nepal"}, False),
        ({"gender": "F"}, True),
        ({"gender": "M"}, False),
        ({"income_bucket": "M"}, True),
        ({"income_bucket": "H"}, False),
        ({"age_range": AgeRange(20, 45)}, True),
        ({"age_range": AgeRange(30, 30)}, True),
        ({"age_range": AgeRange(0, 30)}, True),
        ({"age_range": AgeRange(31, 45)}, False),
        ({"age_range": AgeRange(20, 29)}, False),
        (
            {
                "city": "Mumbai",
                "gender": "F",
                "device": "Android Mobile",
                "age_range": AgeRange(25, 35),
            },
            True,
        ),
        ({"city": "Mumbai", "gender": "F", "device": "Macbook"}, False),
    ],
)
def test_each_targeted_dimension_must_match(changes: dict[str, Any], expected: bool) -> None:
    assert matches(targeting(**changes), MUMBAI_ANDROID, WOMAN_30_MIDDLE) is expected


def test_matching_ignores_case_and_surrounding_blanks() -> None:
    shouting = Request("u1", " ANDROID MOBILE ", "MUMBAI ", " maharashtra", "INDIA")
    campaign = targeting(
        city="mumbai", state="MAHARASHTRA", country="india", gender="f", income_bucket="m"
    )
    assert matches(campaign, shouting, UserProfile(age=30, gender=" F ", income_bucket="M"))


@pytest.mark.parametrize(
    "device", ["android-mobile", "ANDROID_MOBILE", "android mobile", "Android-Mobile"]
)
def test_android_mobile_means_android_mobile(device: str) -> None:
    request = dataclasses.replace(MUMBAI_ANDROID, device_type=device)
    assert matches(targeting(device="Android Mobile"), request, None)
    assert matches(targeting(device="android-mobile"), request, None)
    assert not matches(targeting(device="iPhone"), request, None)


def test_country_defaults_to_the_home_country() -> None:
    # The door (ad_request.parse) fills it in, once; targeting matches what it filled in.
    request = parse("u1", "iphone", "Delhi", "Delhi", "", home_country=HOME_COUNTRY)
    assert request.country == HOME_COUNTRY == "India"
    assert matches(targeting(country="India"), request, None)
    blank = parse("u1", "iphone", "Delhi", "Delhi", "  ", home_country=HOME_COUNTRY)
    assert matches(targeting(country="India"), blank, None)
    assert not matches(targeting(country="Nepal"), blank, None)
    nepal = parse("u1", "iphone", "Delhi", "Delhi", "  ", home_country="Nepal")
    assert matches(targeting(country="Nepal"), nepal, None)


@pytest.mark.parametrize(
    "changes",
    [
        {"gender": "F"},
        {"income_bucket": "M"},
        {"age_range": AgeRange(20, 45)},
        {"age_range": AgeRange(0, 99)},
    ],
)
def test_without_a_profile_only_untargeted_people_dimensions_match(changes: dict[str, Any]) -> None:
    assert matches(targeting(**changes), MUMBAI_ANDROID, WOMAN_30_MIDDLE)
    assert not matches(targeting(**changes), MUMBAI_ANDROID, None)
    privacy = dataclasses.replace(MUMBAI_ANDROID, user_id=PRIVACY_USER_ID)
    assert not matches(targeting(**changes), privacy, WOMAN_30_MIDDLE)


def test_the_privacy_user_still_gets_location_and_device_targeting() -> None:
    privacy = dataclasses.replace(MUMBAI_ANDROID, user_id=PRIVACY_USER_ID)
    assert matches(targeting(city="Mumbai", device="android-mobile"), privacy, WOMAN_30_MIDDLE)
    assert effective_profile(PRIVACY_USER_ID, WOMAN_30_MIDDLE) is None
    # A padded privacy id is canonicalised at the door: the canonical id is what is compared.
    padded = parse(f" {PRIVACY_USER_ID}\t", "", "", "", "", home_country="India")
    assert effective_profile(padded.user_id, WOMAN_30_MIDDLE) is None
    assert effective_profile("u1", WOMAN_30_MIDDLE) is WOMAN_30_MIDDLE


def test_an_unknown_field_of_a_profile_matches_only_untargeted() -> None:
    no_age = UserProfile(age=None, gender="F", income_bucket=None)
    assert matches(targeting(gender="F"), MUMBAI_ANDROID, no_age)
    assert not matches(targeting(age_range=AgeRange(20, 45)), MUMBAI_ANDROID, no_age)
    assert not matches(targeting(income_bucket="M"), MUMBAI_ANDROID, no_age)


def test_compiled_targeting_is_lower_case_with_none_for_any() -> None:
    compiled = compile_targeting(
        targeting(city="Mumbai", device="Android Mobile", age_range=AgeRange(20, 45))
    )
    assert compiled == CompiledTargeting(
        device="android mobile",
        city="mumbai",
        state=None,
        country=None,
        gender=None,
        income_bucket=None,
        ages=(20, 45),
    )
    assert compile_targeting(targeting(city=" all ")).city is None
    assert compile_targeting(targeting(city="  ", device="")) == compile_targeting(UNTARGETED)


def test_the_viewer_is_normalised_once() -> None:
    seen = viewer(Request("u1", "iphone", " Delhi ", "DELHI", "INDIA "), WOMAN_30_MIDDLE)
    assert (seen.device, seen.city, seen.state, seen.country) == (
        "iphone",
        "delhi",
        "delhi",
        "india",
    )
    assert (seen.age, seen.gender, seen.income_bucket) == (30, "f", "m")


# Eligibility ---------------------------------------------------------------------------


OPEN_TO_ALL = {"target_gender": "All", "target_age_range": None, "target_income_bucket": "All"}


def live(make_spec: MakeSpec, **changes: Any) -> LiveCampaign:
    campaign = LiveCampaign.build(
        make_spec(**OPEN_TO_ALL),
        Status.ACTIVE,
        remaining=Decimal(100),
        slot_budget=Decimal(1),
        tz=KOLKATA,
    )
    return dataclasses.replace(campaign, **changes)


ANYONE = viewer(MUMBAI_ANDROID, None)
IN_WINDOW = datetime(2025, 9, 12, 6, tzinfo=KOLKATA).astimezone(UTC)


def test_an_active_campaign_in_its_window_with_budget_is_eligible(make_spec: MakeSpec) -> None:
    campaign = live(make_spec)
    assert campaign.starts_at == datetime(2025, 9, 11, 23, 30, tzinfo=UTC)
    assert is_eligible(campaign, ANYONE, IN_WINDOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"status": Status.INACTIVE},
        {"remaining": Decimal(0)},
        {"slot_budget": Decimal(0)},
        {"slot_budget": Decimal("0E-10")},
    ],
)
def test_inactive_or_out_of_budget_is_not_eligible(
    make_spec: MakeSpec, changes: dict[str, Any]
) -> None:
    assert not is_eligible(live(make_spec, **changes), ANYONE, IN_WINDOW)


def test_the_window_is_start_inclusive_end_exclusive(make_spec: MakeSpec) -> None:
    campaign = live(make_spec)
    tick = timedelta(microseconds=1)
    assert not is_eligible(campaign, ANYONE, campaign.starts_at - tick)
    assert is_eligible(campaign, ANYONE, campaign.starts_at)
    assert is_eligible(campaign, ANYONE, campaign.ends_at - tick)
    assert not is_eligible(campaign, ANYONE, campaign.ends_at)


def test_a_midnight_end_serves_through_the_end_date(make_spec: MakeSpec) -> None:
    spec = make_spec(time_range={"start": "22:00:00", "end": "0:00:00"}, **OPEN_TO_ALL)
    campaign = LiveCampaign.build(spec, Status.ACTIVE, Decimal(1), Decimal(1), KOLKATA)
    assert is_eligible(campaign, ANYONE, datetime(2025, 9, 13, 23, 59, 59, tzinfo=KOLKATA))
    assert not is_eligible(campaign, ANYONE, datetime(2025, 9, 14, 0, 0, tzinfo=KOLKATA))


def test_targeting_is_part_of_eligibility(make_spec: MakeSpec) -> None:
    targeted = LiveCampaign.build(
        make_spec(), Status.ACTIVE, Decimal(1), Decimal(1), KOLKATA
    )  # F, 20-45
    assert not is_eligible(targeted, ANYONE, IN_WINDOW)
    assert is_eligible(targeted, viewer(MUMBAI_ANDROID, WOMAN_30_MIDDLE), IN_WINDOW)


def test_eligible_campaigns_filters_the_index(make_spec: MakeSpec) -> None:
    good = live(make_spec)
    stopped = live(make_spec, status=Status.INACTIVE)
    local_now = IN_WINDOW.astimezone(KOLKATA)
    assert eligible_campaigns([good, stopped, good], ANYONE, local_now) == [good, good]
    assert eligible_campaigns([], ANYONE, local_now) == []


# Property: the compiled check agrees with the rule read literally ---------------------

_genders = st.sampled_from(["M", "F", "All", "m"])
_incomes = st.sampled_from(["H", "M", "L", "All", "h"])
_cities = st.sampled_from(["Mumbai", "Delhi", "All", "MUMBAI", " delhi"])
_devices = st.sampled_from(
    ["Android Mobile", "android-mobile", "iPhone", "IPHONE", "All", "Macbook"]
)
_ages = st.sampled_from([AgeRange(0, 0), AgeRange(20, 45), AgeRange(0, 30), AgeRange(45, 60)])


def _same(wanted: str, actual: str | None) -> bool:
    if wanted.strip().lower() == "all":
        return True
    return actual is not None and wanted.strip().lower() == actual.strip().lower()


def _device_same(wanted: str, actual: str) -> bool:
    return _same(wanted.replace("-", " "), actual.replace("-", " "))


@given(
    campaign=st.builds(
        Targeting,
        gender=_genders,
        age_range=_ages,
        city=_cities,
        state=st.just("All"),
        country=st.sampled_from(["India", "All", "india"]),
        income_bucket=_incomes,
        device=_devices,
    ),
    request=st.builds(
        Request,
        user_id=st.sampled_from(["u1", PRIVACY_USER_ID]),
        device_type=_devices,
        city=_cities,
        state=st.just("Maharashtra"),
        country=st.just("India"),
    ),
    profile=st.none()
    | st.builds(
        UserProfile,
        age=st.integers(0, 100) | st.none(),
        gender=_genders | st.none(),
        income_bucket=_incomes | st.none(),
    ),
)
def test_matches_agrees_with_the_rule(
    campaign: Targeting, request: Request, profile: UserProfile | None
) -> None:
    known = None if request.user_id == PRIVACY_USER_ID else profile
    age = None if known is None else known.age
    expected = (
        _device_same(campaign.device, request.device_type)
        and _same(campaign.city, request.city)
        and _same(campaign.country, request.country)
        and _same(campaign.gender, None if known is None else known.gender)
        and _same(campaign.income_bucket, None if known is None else known.income_bucket)
        and (
            campaign.age_range.is_any
            or (age is not None and campaign.age_range.start <= age <= campaign.age_range.end)
        )
    )
    assert matches(campaign, request, profile) is expected
