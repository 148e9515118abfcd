"""Tests for clients.bench.mix: the ServeAd benchmark's request mix."""

from __future__ import annotations

import random

from clients.bench.mix import PRIVACY_SHARE, AdAsk, Resident, request_mix, shares
from clients.population import CITY_WEIGHTS, generate
from servers.identifiers import PRIVACY_USER_ID

RESIDENTS = [
    Resident(user.id, user.device_type, user.city, user.state) for user in generate(5000, seed=3)
]


def test_the_mix_is_reproducible_and_has_its_privacy_share() -> None:
    first = request_mix(RESIDENTS, 400, random.Random(1))
    assert first == request_mix(RESIDENTS, 400, random.Random(1))
    assert len(first) == 400
    privacy = [ask for ask in first if ask.user_id == PRIVACY_USER_ID]
    assert len(privacy) == round(400 * PRIVACY_SHARE)


def test_users_ask_from_their_own_city_on_their_own_device() -> None:
    by_id = {resident.user_id: resident for resident in RESIDENTS}
    for ask in request_mix(RESIDENTS, 300, random.Random(2)):
        if ask.user_id != PRIVACY_USER_ID:
            who = by_id[ask.user_id]
            assert (ask.device_type, ask.city, ask.state) == (who.device_type, who.city, who.state)
        assert ask.country == ""  # the platform's home country


def test_cities_follow_the_classic_weights() -> None:
    asks = request_mix(RESIDENTS, 20_000, random.Random(3))
    seen = shares(asks, "city")
    total = sum(CITY_WEIGHTS.values())
    for city, weight in CITY_WEIGHTS.items():
        assert abs(seen[city] - weight / total) < 0.015, city


def test_a_city_without_residents_asks_with_the_privacy_id() -> None:
    asks = request_mix([], 20, random.Random(4))
    assert {ask.user_id for ask in asks} == {PRIVACY_USER_ID}
    assert all(isinstance(ask, AdAsk) and ask.state for ask in asks)
    assert shares([], "city") == {}
