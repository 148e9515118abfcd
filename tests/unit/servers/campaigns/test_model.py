"""Tests for servers.campaigns.model: device names, age ranges and the enums' spellings."""

from __future__ import annotations

import dataclasses

import pytest

from servers.campaigns.model import (
    Action,
    AgeRange,
    Status,
    canonical_device,
    device_key,
    is_known_device,
)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("android-mobile", "Android Mobile"),
        ("Android Mobile", "Android Mobile"),
        ("ANDROID_MOBILE", "Android Mobile"),
        ("  android   mobile ", "Android Mobile"),
        ("iphone", "iPhone"),
        ("IPHONE", "iPhone"),
        ("macbook", "Macbook"),
        ("MacBook", "Macbook"),
        ("windows computer", "Windows Computer"),
        ("windows-computer", "Windows Computer"),
        ("linux-computer", "Linux Computer"),
        ("Linux_Computer", "Linux Computer"),
        ("all", "All"),
        ("ALL", "All"),
        ("smart-tv", "Smart Tv"),
    ],
)
def test_canonical_device_folds_case_and_separators(given: str, canonical: str) -> None:
    assert canonical_device(given) == canonical


def test_known_devices_are_the_catalogue_and_all() -> None:
    assert is_known_device("android-mobile")
    assert is_known_device("all")
    assert not is_known_device("smart tv")
    assert not is_known_device("")


def test_device_key_is_the_matching_form() -> None:
    assert device_key("Android-Mobile") == device_key("android mobile") == "android mobile"


def test_age_range_zero_zero_means_any() -> None:
    assert AgeRange(0, 0).is_any
    assert not AgeRange(0, 30).is_any
    assert not AgeRange(20, 45).is_any


def test_values_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        AgeRange(1, 2).start = 3  # type: ignore[misc]


def test_enums_use_the_feed_and_api_spellings() -> None:
    assert [action.value for action in Action] == [
        "New Campaign",
        "Update Campaign",
        "Stop Campaign",
    ]
    assert [status.value for status in Status] == ["ACTIVE", "INACTIVE"]
    assert Status.ACTIVE == "ACTIVE"
