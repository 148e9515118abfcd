"""Population: a reproducible synthetic audience of users for the `users` table.

Pure: no I/O. The same seed gives the same users in the same order, and a smaller count is a
prefix of a larger one, so `adplatform users seed --count N` can grow a population in place.
Weights model an Indian audience; cities and states are spelled as the campaign feed spells
them, so targeted campaigns find their users. The user simulator reuses the city weights.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate

# The classic simulator's city weights (roughly each city's population in ten-thousands).
CITY_WEIGHTS: Mapping[str, int] = {
    "Mumbai": 1640,
    "Delhi": 1250,
    "Bangalore": 851,
    "Kolkata": 627,
    "Chennai": 558,
    "Hyderabad": 514,
    "Ahmedabad": 372,
    "Pune": 362,
    "Surat": 297,
    "Jaipur": 235,
    "Lucknow": 195,
    "Vadodra": 185,
    "Nagpur": 162,
    "Coimbatore": 146,
    "Indore": 123,
    "Ludhiana": 123,
    "Patna": 120,
}

# CITY_STATES spells each city's state exactly as the feed's target_state does ("Gujrat").
CITY_STATES: Mapping[str, str] = {
    "Mumbai": "Maharashtra",
    "Delhi": "Delhi",
    "Bangalore": "Karnataka",
    "Kolkata": "West Bengal",
    "Chennai": "Tamil Nadu",
    "Hyderabad": "Telangana",
    "Ahmedabad": "Gujrat",
    "Pune": "Maharashtra",
    "Surat": "Gujrat",
    "Jaipur": "Rajasthan",
    "Lucknow": "Uttar Pradesh",
    "Vadodra": "Gujrat",
    "Nagpur": "Maharashtra",
    "Coimbatore": "Tamil Nadu",
    "Indore": "Madhya pradesh",
    "Ludhiana": "Punjab",
    "Patna": "Bihar",
}

# DEVICE_WEIGHTS (percent): Android dominates an Indian audience.
DEVICE_WEIGHTS: Mapping[str, int] = {
    "Android Mobile": 55,
    "Windows Computer": 20,
    "iPhone": 10,
    "Macbook": 8,
    "Linux Computer": 7,
}

GENDER_WEIGHTS: Mapping[str, int] = {"M": 50, "F": 50}
INCOME_WEIGHTS: Mapping[str, int] = {"L": 45, "M": 40, "H": 15}

# AGE_BANDS are inclusive (first, last, weight): most users are 20-45, few past 55.
AGE_BANDS: Sequence[tuple[int, int, int]] = (
    (18, 24, 22),
    (25, 34, 30),
    (35, 44, 22),
    (45, 54, 13),
    (55, 64, 8),
    (65, 75, 5),
)
MIN_AGE = AGE_BANDS[0][0]
MAX_AGE = AGE_BANDS[-1][1]
DEFAULT_SEED = 42


@dataclass(frozen=True, slots=True)
class User:
    """User is one row of the users table: a profile that targeting can match."""

    id: str
    age: int
    gender: str
    income_bucket: str
    device_type: str
    city: str
    state: str


class _Table:
    """_Table draws keys of a weight table with cumulative weights computed once."""

    def __init__(self, weights: Mapping[str, int]) -> None:
        self.keys = list(weights)
        self.cumulative = list(accumulate(weights.values()))

    def draw(self, rng: random.Random) -> str:
        """draw picks one key with probability proportional to its weight."""
        return rng.choices(self.keys, cum_weights=self.cumulative)[0]


def _user_id(rng: random.Random) -> str:
    """_user_id is a version-4 UUID built from the seeded generator, so it is reproducible.

    A UUID never has the shape of the privacy id (`1111-1111-1111-1111`), which stays unprofiled.
    """
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def generate(count: int, seed: int = DEFAULT_SEED) -> Iterator[User]:
    """generate yields count users, the same ones in the same order for the same seed."""
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    rng = random.Random(seed)
    cities = _Table(CITY_WEIGHTS)
    devices = _Table(DEVICE_WEIGHTS)
    genders = _Table(GENDER_WEIGHTS)
    incomes = _Table(INCOME_WEIGHTS)
    bands = [(first, last) for first, last, _ in AGE_BANDS]
    band_cumulative = list(accumulate(weight for _, _, weight in AGE_BANDS))
    for _ in range(count):
        first, last = rng.choices(bands, cum_weights=band_cumulative)[0]
        city = cities.draw(rng)
        yield User(
            id=_user_id(rng),
            age=rng.randint(first, last),
            gender=genders.draw(rng),
            income_bucket=incomes.draw(rng),
            device_type=devices.draw(rng),
            city=city,
            state=CITY_STATES[city],
        )
