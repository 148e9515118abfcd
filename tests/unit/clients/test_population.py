"""Tests for clients.population: a reproducible audience shaped like the campaign feed's."""

from __future__ import annotations

import csv
import uuid
from collections import Counter

import pytest

from clients.population import (
    CITY_STATES,
    CITY_WEIGHTS,
    DEVICE_WEIGHTS,
    INCOME_WEIGHTS,
    MAX_AGE,
    MIN_AGE,
    User,
    generate,
)
from deploy.paths import FEED_CSV
from servers.campaigns.model import ANY, KNOWN_DEVICES
from servers.identifiers import PRIVACY_USER_ID

FEED_PATH = FEED_CSV
SAMPLE = 20_000


@pytest.fixture(scope="module")
def population() -> list[User]:
    """population is 20,000 users of the default seed."""
    return list(generate(SAMPLE))


@pytest.fixture(scope="module")
def feed_locations() -> set[tuple[str, str]]:
    """feed_locations are the feed's targeted (city, state) pairs, spelled as it spells them."""
    if not FEED_PATH.exists():
        pytest.skip(f"campaign feed not found at {FEED_PATH}")
    with FEED_PATH.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {(r["target_city"], r["target_state"]) for r in rows if r["target_city"] != ANY}


def _shares(counts: Counter[str]) -> dict[str, float]:
    total = sum(counts.values())
    return {key: value / total for key, value in counts.items()}


def _weights_as_shares(weights: dict[str, int]) -> dict[str, float]:
    total = sum(weights.values())
    return {key: value / total for key, value in weights.items()}


def test_same_seed_same_users() -> None:
    assert list(generate(500, seed=7)) == list(generate(500, seed=7))


def test_other_seed_other_users() -> None:
    first = {user.id for user in generate(500, seed=7)}
    second = {user.id for user in generate(500, seed=8)}
    assert not first & second


def test_smaller_count_is_a_prefix() -> None:
    assert list(generate(300, seed=3)) == list(generate(1000, seed=3))[:300]


def test_default_seed_is_42() -> None:
    assert list(generate(50)) == list(generate(50, seed=42))


def test_zero_users_and_negative_count() -> None:
    assert list(generate(0)) == []
    with pytest.raises(ValueError, match="count"):
        list(generate(-1))


def test_ids_are_unique_uuids_and_never_the_privacy_id(population: list[User]) -> None:
    ids = [user.id for user in population]
    assert len(set(ids)) == len(ids)
    assert PRIVACY_USER_ID not in ids
    for user_id in ids[:1000]:
        assert str(uuid.UUID(user_id)) == user_id


def test_fields_take_valid_values(population: list[User]) -> None:
    assert set(DEVICE_WEIGHTS) == set(KNOWN_DEVICES)
    for user in population:
        assert MIN_AGE <= user.age <= MAX_AGE
        assert user.gender in {"M", "F"}
        assert user.income_bucket in {"L", "M", "H"}
        assert user.device_type in KNOWN_DEVICES
        assert CITY_STATES[user.city] == user.state
    assert {user.device_type for user in population} == set(KNOWN_DEVICES)
    assert {user.city for user in population} == set(CITY_WEIGHTS)


def test_ages_span_18_to_75_skewed_to_20_45(population: list[User]) -> None:
    ages = [user.age for user in population]
    assert min(ages) == 18 and max(ages) == 75
    core = sum(20 <= age <= 45 for age in ages) / len(ages)
    assert 0.60 <= core <= 0.80
    assert sum(age > 60 for age in ages) / len(ages) < 0.12


def test_gender_is_about_even(population: list[User]) -> None:
    shares = _shares(Counter(user.gender for user in population))
    assert shares["M"] == pytest.approx(0.5, abs=0.02)


def test_income_is_mostly_low_and_middle(population: list[User]) -> None:
    shares = _shares(Counter(user.income_bucket for user in population))
    assert shares == pytest.approx({"L": 0.45, "M": 0.40, "H": 0.15}, abs=0.02)
    assert _weights_as_shares(dict(INCOME_WEIGHTS)) == pytest.approx(
        {"L": 0.45, "M": 0.40, "H": 0.15}
    )


def test_devices_look_like_an_indian_audience(population: list[User]) -> None:
    shares = _shares(Counter(user.device_type for user in population))
    expected = {
        "Android Mobile": 0.55,
        "Windows Computer": 0.20,
        "iPhone": 0.10,
        "Macbook": 0.08,
        "Linux Computer": 0.07,
    }
    assert shares == pytest.approx(expected, abs=0.02)


def test_cities_follow_the_simulator_weights(population: list[User]) -> None:
    shares = _shares(Counter(user.city for user in population))
    assert shares == pytest.approx(_weights_as_shares(dict(CITY_WEIGHTS)), abs=0.015)
    assert CITY_WEIGHTS["Mumbai"] == 1640 and CITY_WEIGHTS["Patna"] == 120
    assert max(CITY_WEIGHTS, key=CITY_WEIGHTS.__getitem__) == "Mumbai"


def test_city_and_state_pairs_match_the_feed(feed_locations: set[tuple[str, str]]) -> None:
    assert set(CITY_STATES.items()) == feed_locations
    assert set(CITY_WEIGHTS) == set(CITY_STATES)
