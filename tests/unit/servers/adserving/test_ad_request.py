"""Tests for servers.adserving.ad_request: what a device may send to ServeAd."""

from __future__ import annotations

import pytest

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
