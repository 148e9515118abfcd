"""Behaviour: how the classic capstone simulator's users act. Pure: seeded random draws only.

- 5% of requests come from the privacy id, on a device drawn from the population's mix.
- A request's city is drawn with the classic city weights, with its state.
- For a filled ad: view = 1; acquisition with probability w/(w+256), w by the user's age
  bucket; click = 1 if acquisition, else drawn the same way.

Age buckets are five years wide from 15 (15-19, 20-24, ..., 70+), the classic weight list
indexed by (age - 15) // 5. A privacy user has no age: the mean weight stands in.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate

from clients.population import CITY_STATES, CITY_WEIGHTS
from servers.identifiers import PRIVACY_USER_ID

AGE_WEIGHTS = (4, 48, 36, 28, 24, 20, 8, 16, 4, 4, 4, 4)
FIRST_BUCKET_AGE = 15
BUCKET_YEARS = 5
PRIVACY_SHARE = 0.05
ACTION_DAMPING = 256
_MEAN_WEIGHT = sum(AGE_WEIGHTS) / len(AGE_WEIGHTS)


@dataclass(frozen=True, slots=True)
class Person:
    """Person is a user the simulator plays: their id, device and age (None: no profile)."""

    user_id: str
    device_type: str
    age: int | None


@dataclass(frozen=True, slots=True)
class AdRequest:
    """AdRequest is one device's ask for an ad."""

    person: Person
    city: str
    state: str


def age_weight(age: int | None) -> float:
    """age_weight is the classic weight of the user's age bucket."""
    if age is None:
        return _MEAN_WEIGHT
    index = (age - FIRST_BUCKET_AGE) // BUCKET_YEARS
    return AGE_WEIGHTS[min(max(index, 0), len(AGE_WEIGHTS) - 1)]


def action_probability(age: int | None) -> float:
    """action_probability is w/(w+256): the chance of an acquisition, and of a click."""
    weight = age_weight(age)
    return weight / (weight + ACTION_DAMPING)


class Behaviour:
    """Behaviour draws requests and reactions for a population, reproducibly from a seed."""

    def __init__(self, people: Sequence[Person], seed: int) -> None:
        if not people:
            raise ValueError("the simulator needs users: run `adplatform users seed` first")
        self.rng = random.Random(seed)
        self.people = people
        self.cities = list(CITY_WEIGHTS)
        self.city_cumulative = list(accumulate(CITY_WEIGHTS.values()))
        devices = _device_mix(people)
        self.devices = list(devices)
        self.device_cumulative = list(accumulate(devices.values()))

    def request(self) -> AdRequest:
        """request draws the next ad request: who (5% privacy), on what device, from where."""
        rng = self.rng
        if rng.random() < PRIVACY_SHARE:
            device = rng.choices(self.devices, cum_weights=self.device_cumulative)[0]
            person = Person(PRIVACY_USER_ID, device, None)
        else:
            person = rng.choice(self.people)
        city = rng.choices(self.cities, cum_weights=self.city_cumulative)[0]
        return AdRequest(person, city, CITY_STATES[city])

    def reaction(self, person: Person) -> tuple[int, int, int]:
        """reaction is (view, click, acquisition) for a shown ad."""
        chance = action_probability(person.age)
        acquisition = int(self.rng.random() < chance)
        click = 1 if acquisition else int(self.rng.random() < chance)
        return 1, click, acquisition


def _device_mix(people: Sequence[Person]) -> Mapping[str, int]:
    """_device_mix counts the population's devices: privacy requests follow the same mix."""
    counts: dict[str, int] = {}
    for person in people:
        counts[person.device_type] = counts.get(person.device_type, 0) + 1
    return counts
