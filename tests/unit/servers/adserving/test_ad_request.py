"""Tests for servers.adserving.ad_request: what a device may send to ServeAd."""

from __future__ import annotations

import dataclasses
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers.adserving.ad_request import LIMITS, parse
from servers.adserving.targeting import Request
from servers.errors import ValidationError


def test_fields_are_trimmed_and_the_device_named_the_catalogue_way() -> None:
    request = parse(" u1 ", "android-mobile", " Mumbai", "Maharashtra ", "", home_country="India")
    assert request == Request("u1", "Android Mobile", "Mumbai", "Maharashtra", "India")


def test_an_empty_country_is_the_home_country_and_a_given_one_is_kept() -> None:
    assert parse("u1", "iphone", "", "", "  ", home_country="Nepal").country == "Nepal"
    assert parse("u1", "iphone", "", "", "Bhutan", home_country="India").country == "Bhutan"


def test_an_unknown_device_or_missing_place_is_kept_as_sent() -> None:
    request = parse("u1", "", "", "", "", home_country="India")
    assert (request.device_type, request.city, request.state) == ("", "", "")
    assert parse("u1", "smart tv", "", "", "", home_country="India").device_type == "Smart Tv"


def test_user_id_is_required() -> None:
    with pytest.raises(ValidationError, match="user_id"):
        parse("  ", "iPhone", "Pune", "Maharashtra", "", home_country="India")


@pytest.mark.parametrize("field", list(LIMITS))
def test_every_field_must_fit_its_column(field: str) -> None:
    fields = {"user_id": "u1", "device_type": "", "city": "", "state": "", "country": ""}
    fields[field] = "x" * LIMITS[field]
    parse(**fields, home_country="India")
    fields[field] = "x" * (LIMITS[field] + 1)
    with pytest.raises(ValidationError, match=field):
        parse(**fields, home_country="India")


def test_a_device_is_checked_as_stored_after_canonicalisation() -> None:
    # The finding: 32 "İ" fit the column as sent, but lower-case to 64 characters.
    assert len("İ" * 32) == LIMITS["device_type"]
    with pytest.raises(ValidationError, match="device_type"):
        parse("u1", "İ" * 32, "", "", "", home_country="India")
    assert len(parse("u1", "İ" * 16, "", "", "", home_country="India").device_type) == 32
    # ... and canonicalisation may shrink a value that would not fit as sent.
    padded = "i" + " " * 40 + "phone"
    assert parse("u1", padded, "", "", "", home_country="India").device_type == "I Phone"


@pytest.mark.parametrize("bad", ["\x00", "\t", "a\nb", "\x7f", "\x85", "\u2028", "\ud800"])
@pytest.mark.parametrize("field", ["device_type", "city", "state", "country"])
def test_control_characters_and_line_breaks_are_refused(field: str, bad: str) -> None:
    fields = {"user_id": "u1", "device_type": "", "city": "", "state": "", "country": ""}
    fields[field] = f"x{bad}y"
    with pytest.raises(ValidationError, match=field):
        parse(**fields, home_country="India")


def test_other_unicode_is_kept_as_sent() -> None:
    request = parse("u1", "", "São Paulo 🏙", "मुंबई", "Ελλάδα\u200d", home_country="India")
    assert (request.city, request.state, request.country) == ("São Paulo 🏙", "मुंबई", "Ελλάδα\u200d")


def test_the_user_id_is_the_canonical_one() -> None:
    assert parse("\t u-1 \n", "", "", "", "", home_country="India").user_id == "u-1"
    with pytest.raises(ValidationError, match="user_id"):
        parse("u\x001", "", "", "", "", home_country="India")


# Property: whatever a device sends, parse answers with a storable request or a ValidationError.

_TRICKY = "İıßﬃŉǰΐẞ\u0130\u0307 \t\n\x00\x7f\x85\u2028\u200b\u00a0\ud800\udfff-_aZ9🏙"
_ANY_TEXT = st.one_of(
    st.text(alphabet=_TRICKY, max_size=120),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=150),
    st.text(max_size=3000),
    st.sampled_from(["İ" * 32, "ß" * 17, "ﬃ" * 11, "x" * 100_000, ""]),
)


def _storable(value: str, limit: int) -> bool:
    return (
        len(value) <= limit
        and value == value.strip()
        and not any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in value)
        and "\u2028" not in value
        and "\u2029" not in value
    )


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.fixed_dictionaries({name: _ANY_TEXT for name in LIMITS}),
    home_country=st.one_of(st.just("India"), _ANY_TEXT),
)
def test_any_request_is_storable_or_refused(fields: dict[str, str], home_country: str) -> None:
    try:
        request = parse(**fields, home_country=home_country)
    except ValidationError as error:
        assert error.field in LIMITS
        return
    stored = dataclasses.asdict(request)
    for field, limit in LIMITS.items():
        assert _storable(stored[field], limit), (field, stored[field])
    assert request.user_id and request.user_id.isprintable()
    if home_country.strip():
        assert request.country  # the home country fills in a missing one


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(LIMITS)), value=_ANY_TEXT)
def test_any_one_field_is_storable_or_refused_naming_it(field: str, value: str) -> None:
    fields = {"user_id": "u1", "device_type": "iPhone", "city": "", "state": "", "country": ""}
    fields[field] = value
    try:
        request = parse(**fields, home_country="India")
    except ValidationError as error:
        assert error.field == field
        return
    stored = dataclasses.asdict(request)
    assert all(_storable(stored[name], limit) for name, limit in LIMITS.items()), stored
