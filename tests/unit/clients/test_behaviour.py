"""The simulator's users act like the classic capstone simulator's, reproducibly."""

from __future__ import annotations

from collections import Counter

import pytest

from clients.population import CITY_STATES, CITY_WEIGHTS
from clients.simulator.behaviour import (
    AGE_WEIGHTS,
    Behaviour,
    Person,
    action_probability,
    age_weight,
)
from clients.simulator.commands import parse_duration
from servers.identifiers import PRIVACY_USER_ID

PEOPLE = [
    Person(f"user-{i}", "Android Mobile" if i % 4 else "iPhone", 20 + i % 40) for i in range(400)
]


@pytest.mark.parametrize(
    ("age", "weight"),
    [(15, 4), (19, 4), (20, 48), (24, 48), (25, 36), (52, 16), (70, 4), (99, 4), (3, 4)],
)
def test_age_buckets_follow_the_classic_weights(age: int, weight: int) -> None:
    assert age_weight(age) == weight


def test_action_probability_is_w_over_w_plus_256() -> None:
    assert action_probability(22) == pytest.approx(48 / (48 + 256))
    assert action_probability(None) == pytest.approx(
        (sum(AGE_WEIGHTS) / 12) / (sum(AGE_WEIGHTS) / 12 + 256)
    )


def test_same_seed_same_run() -> None:
    first, second = Behaviour(PEOPLE, seed=3), Behaviour(PEOPLE, seed=3)
    draws = [(first.request(), first.reaction(PEOPLE[0])) for _ in range(200)]
    assert draws == [(second.request(), second.reaction(PEOPLE[0])) for _ in range(200)]


def test_privacy_share_cities_and_devices() -> None:
    behaviour = Behaviour(PEOPLE, seed=11)
    requests = [behaviour.request() for _ in range(40_000)]
    privacy = [r for r in requests if r.person.user_id == PRIVACY_USER_ID]
    assert len(privacy) / len(requests) == pytest.approx(0.05, abs=0.006)
    assert all(r.person.age is None for r in privacy)
    devices = Counter(r.person.device_type for r in privacy)
    assert devices["iPhone"] / len(privacy) == pytest.approx(0.25, abs=0.04)  # population mix
    cities = Counter(r.city for r in requests)
    share = cities["Mumbai"] / len(requests)
    assert share == pytest.approx(1640 / sum(CITY_WEIGHTS.values()), abs=0.01)
    assert all(r.state == CITY_STATES[r.city] for r in requests)


def test_reactions_view_always_click_whenever_acquired() -> None:
    behaviour = Behaviour(PEOPLE, seed=5)
    person = Person("u", "iPhone", 22)
    reactions = [behaviour.reaction(person) for _ in range(20_000)]
    assert all(view == 1 for view, _, _ in reactions)
    assert all(click == 1 for _, click, acquisition in reactions if acquisition)
    chance = 48 / (48 + 256)
    acquisitions = sum(a for _, _, a in reactions) / len(reactions)
    clicks = sum(c for _, c, _ in reactions) / len(reactions)
    assert acquisitions == pytest.approx(chance, abs=0.012)
    assert clicks == pytest.approx(chance + (1 - chance) * chance, abs=0.012)


def test_no_people_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="users seed"):
        Behaviour([], seed=1)


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
