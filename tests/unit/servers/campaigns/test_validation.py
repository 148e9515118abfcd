"""Tests for servers.campaigns.validation: every field checked and named like the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.campaigns.model import Action, AgeRange, CampaignSpec
from servers.campaigns.validation import (
    format_clock,
    parse_action,
    parse_keywords,
    spec_fields,
    validate_spec,
)
from servers.errors import ValidationError
from servers.money import format_money

Fields = Callable[..., dict[str, Any]]


def test_a_valid_campaign_is_normalised(fields: Fields) -> None:
    spec = validate_spec(fields())
    assert spec.campaign_id == "8cf1b846-8f97-11f0-b7f6-0e087721c0e9"
    assert spec.keywords == ("automotive", "oils", "fluids")
    assert spec.targeting.age_range == AgeRange(20, 45)
    assert spec.targeting.gender == "F"
    assert spec.cpc == Decimal("0.00066")
    assert spec.budget == Decimal(500)
    assert spec.schedule.start_date == date(2025, 9, 12)
    assert spec.schedule.end_time == time(18, 0, 0)


@pytest.mark.parametrize(
    ("field", "given", "normalised"),
    [
        ("target_gender", "m", "M"),
        ("target_gender", " f ", "F"),
        ("target_gender", "ALL", "All"),
        ("target_income_bucket", "h", "H"),
        ("target_income_bucket", "all", "All"),
        ("target_device", "android-mobile", "Android Mobile"),
        ("target_device", "IPHONE", "iPhone"),
        ("target_city", " Mumbai ", "Mumbai"),
        ("target_city", "all", "All"),
        ("target_state", "", "All"),
        ("target_country", None, "All"),
        ("target_device", None, "All"),
        ("target_gender", None, "All"),
    ],
)
def test_targeting_is_normalised(fields: Fields, field: str, given: Any, normalised: str) -> None:
    spec = validate_spec(fields(**{field: given}))
    targeting = spec.targeting
    attribute = {
        "target_gender": targeting.gender,
        "target_income_bucket": targeting.income_bucket,
        "target_device": targeting.device,
        "target_city": targeting.city,
        "target_state": targeting.state,
        "target_country": targeting.country,
    }[field]
    assert attribute == normalised


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"campaign_id": None}, "campaign_id"),
        ({"campaign_id": ""}, "campaign_id"),
        ({"campaign_id": "   "}, "campaign_id"),
        ({"campaign_id": "x" * 65}, "campaign_id"),
        ({"campaign_id": "has space"}, "campaign_id"),
        ({"campaign_id": "-leading-dash"}, "campaign_id"),
        ({"campaign_id": 42}, "campaign_id"),
        ({"text": None}, "text"),
        ({"text": "  "}, "text"),
        ({"text": "x" * 1001}, "text"),
        ({"text": 5}, "text"),
        ({"category": None}, "category"),
        ({"category": ""}, "category"),
        ({"keywords": 5}, "keywords"),
        ({"keywords": ["ok", 5]}, "keywords"),
        ({"keywords": "x" * 101}, "keywords"),
        ({"keywords": ",".join(f"k{i}" for i in range(101))}, "keywords"),
        ({"target_gender": "X"}, "target_gender"),
        ({"target_gender": 1}, "target_gender"),
        ({"target_income_bucket": "HIGH"}, "target_income_bucket"),
        ({"target_device": "smart tv"}, "target_device"),
        ({"target_city": "x" * 101}, "target_city"),
        ({"target_age_range": "20-45"}, "target_age_range"),
        ({"target_age_range": {"start": 20}}, "target_age_range"),
        ({"target_age_range": {"start": 1, "end": 2, "x": 3}}, "target_age_range"),
        ({"target_age_range": {"start": "-1", "end": "45"}}, "target_age_range.start"),
        ({"target_age_range": {"start": "a", "end": "45"}}, "target_age_range.start"),
        ({"target_age_range": {"start": True, "end": 45}}, "target_age_range.start"),
        ({"target_age_range": {"start": 20.0, "end": 45}}, "target_age_range.start"),
        ({"target_age_range": {"start": 20, "end": 151}}, "target_age_range.end"),
        ({"target_age_range": {"start": 46, "end": 45}}, "target_age_range.end"),
        ({"target_age_range": {"start": 20, "end": 0}}, "target_age_range.end"),
        ({"cpc": None}, "cpc"),
        ({"cpc": 0.00066}, "cpc"),
        ({"cpc": "-0.1"}, "cpc"),
        ({"cpc": "1e-4"}, "cpc"),
        ({"cpc": "0.00000000001"}, "cpc"),
        ({"cpa": "NaN"}, "cpa"),
        ({"cpa": "abc"}, "cpa"),
        ({"cpc": "0", "cpa": "0"}, "cpc"),
        ({"budget": None}, "budget"),
        ({"budget": "0"}, "budget"),
        ({"budget": "-5"}, "budget"),
        ({"budget": 5.0}, "budget"),
        ({"date_range": None}, "date_range"),
        ({"date_range": {"start": "2025-09-12"}}, "date_range"),
        ({"date_range": {"start": "12/09/2025", "end": "2025-09-13"}}, "date_range.start"),
        ({"date_range": {"start": "20250912", "end": "2025-09-13"}}, "date_range.start"),
        ({"date_range": {"start": "2025-09-12", "end": "2025-02-30"}}, "date_range.end"),
        ({"date_range": {"start": "2025-09-13", "end": "2025-09-12"}}, "date_range.end"),
        ({"time_range": None}, "time_range"),
        ({"time_range": {"start": "5:00", "end": "18:00:00"}}, "time_range.start"),
        ({"time_range": {"start": "24:00:00", "end": "18:00:00"}}, "time_range.start"),
        ({"time_range": {"start": "5:60:00", "end": "18:00:00"}}, "time_range.start"),
        ({"time_range": {"start": "5:00:00", "end": "18:00:61"}}, "time_range.end"),
        ({"time_range": {"start": "5:00:00", "end": "noon"}}, "time_range.end"),
        ({"time_range": {"start": 5, "end": "18:00:00"}}, "time_range.start"),
    ],
)
def test_bad_input_names_the_field(fields: Fields, overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_spec(fields(**overrides))
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_the_window_must_not_be_empty_or_reversed(fields: Fields) -> None:
    same_day = {"start": "2025-09-12", "end": "2025-09-12"}
    for times in ({"start": "18:00:00", "end": "5:00:00"}, {"start": "5:00:00", "end": "5:00:00"}):
        with pytest.raises(ValidationError) as caught:
            validate_spec(fields(date_range=same_day, time_range=times))
        assert caught.value.field == "time_range.end"


def test_end_time_midnight_ends_the_end_date(fields: Fields) -> None:
    same_day = {"start": "2025-09-12", "end": "2025-09-12"}
    spec = validate_spec(
        fields(date_range=same_day, time_range={"start": "22:00:00", "end": "0:00:00"})
    )
    assert spec.schedule.end_time == time(0, 0, 0)
    whole_day = validate_spec(
        fields(date_range=same_day, time_range={"start": "0:00:00", "end": "00:00:00"})
    )
    assert whole_day.schedule.start_time == time(0)


def test_an_end_time_before_the_start_time_is_fine_across_days(fields: Fields) -> None:
    spec = validate_spec(fields(time_range={"start": "22:00:00", "end": "5:00:00"}))
    assert spec.schedule.end_time == time(5)


def test_ranges_accept_ints_and_python_values(fields: Fields) -> None:
    spec = validate_spec(
        fields(
            target_age_range={"start": 0, "end": 30},
            date_range={"start": date(2025, 9, 12), "end": date(2025, 9, 14)},
            time_range={"start": time(5), "end": "09:30:00"},
            cpc=Decimal("0.001"),
            cpa=0,
            budget=100,
        )
    )
    assert spec.targeting.age_range == AgeRange(0, 30)
    assert spec.schedule.end_date == date(2025, 9, 14)
    assert spec.schedule.end_time == time(9, 30)
    assert spec.cpa == 0


def test_absent_age_range_means_any(fields: Fields) -> None:
    assert validate_spec(fields(target_age_range=None)).targeting.age_range.is_any


def test_one_of_cpc_and_cpa_may_be_zero(fields: Fields) -> None:
    assert validate_spec(fields(cpc="0")).cpc == 0
    assert validate_spec(fields(cpa="0")).cpa == 0


def test_blank_text_only_where_allowed(fields: Fields) -> None:
    spec = validate_spec(fields(text="\n    \n  "), allow_blank_text=True)
    assert spec.text == ""
    with pytest.raises(ValidationError, match="text: is required"):
        validate_spec(fields(text="\n    \n  "))


def test_text_is_stripped(fields: Fields) -> None:
    assert validate_spec(fields(text="  Shoes  ")).text == "Shoes"


@pytest.mark.parametrize(
    ("given", "keywords"),
    [
        ("automotive,oils,fluids", ("automotive", "oils", "fluids")),
        (
            "outdoor,sports,camping,hiking,ping,hiking,bags",
            ("outdoor", "sports", "camping", "hiking", "ping", "bags"),
        ),
        (" a , ,b,,a ", ("a", "b")),
        ("", ()),
        (None, ()),
        (["x", " y ", "x"], ("x", "y")),
        (("z",), ("z",)),
    ],
)
def test_keywords_keep_order_without_blanks_or_repeats(
    given: Any, keywords: tuple[str, ...]
) -> None:
    assert parse_keywords(given) == keywords


@pytest.mark.parametrize(
    ("given", "action"),
    [
        ("New Campaign", Action.NEW),
        ("update campaign", Action.UPDATE),
        ("  STOP   Campaign ", Action.STOP),
    ],
)
def test_parse_action_reads_the_feed_spelling(given: str, action: Action) -> None:
    assert parse_action(given) is action


@pytest.mark.parametrize("bad", ["New", "Delete Campaign", "", None, 1])
def test_parse_action_rejects_others(bad: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_action(bad)
    assert caught.value.field == "action"


def test_format_clock_writes_the_feed_format() -> None:
    assert format_clock(time(5)) == "5:00:00"
    assert format_clock(time(17, 30, 5)) == "17:30:05"


def test_a_partial_update_overlays_the_current_fields(
    make_spec: Callable[..., CampaignSpec],
) -> None:
    current = make_spec()
    updated = validate_spec({**spec_fields(current), "budget": "900", "target_device": "iphone"})
    assert updated.budget == 900
    assert updated.targeting.device == "iPhone"
    assert updated.cpc == current.cpc


_specs: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    campaign_id=st.uuids().map(str),
    text=st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=50).filter(
        lambda text: text.strip() != ""
    ),
    category=st.sampled_from(["Sports & Fitness", "Computer", "Arts & Crafts"]),
    keywords=st.lists(st.sampled_from(["a", "b", "home", "kitchen"]), max_size=5),
    target_gender=st.sampled_from(["M", "F", "All", "m", "all"]),
    target_age_range=st.sampled_from([{"start": 0, "end": 0}, {"start": 20, "end": 45}]),
    target_city=st.sampled_from(["All", "Mumbai", "delhi"]),
    target_state=st.sampled_from(["All", "Maharashtra"]),
    target_country=st.just("India"),
    target_income_bucket=st.sampled_from(["H", "M", "L", "All", "h"]),
    target_device=st.sampled_from(["All", "android-mobile", "iPhone", "macbook"]),
    cpc=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10), places=10).map(
        format_money
    ),
    cpa=st.decimals(min_value=Decimal(0), max_value=Decimal(10), places=10).map(format_money),
    budget=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**6), places=10).map(
        format_money
    ),
    date_range=st.just({"start": "2025-09-12", "end": "2025-09-13"}),
    time_range=st.sampled_from(
        [{"start": "5:00:00", "end": "0:00:00"}, {"start": "23:59:59", "end": "0:00:01"}]
    ),
)


@given(_specs)
def test_spec_fields_round_trips(raw: dict[str, Any]) -> None:
    spec = validate_spec(raw)
    assert validate_spec(spec_fields(spec)) == spec
