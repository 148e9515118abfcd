"""The request mix of the ServeAd benchmark: devices asking for ads as the classic simulator did.

Pure. Each request comes from a city drawn by the classic simulator's weights
(population.CITY_WEIGHTS), by a user of the users table who lives there, on that user's
device; about PRIVACY_SHARE of the requests carry the privacy id instead of a user.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import accumulate

from clients.population import CITY_STATES, CITY_WEIGHTS, DEVICE_WEIGHTS
from servers.identifiers import PRIVACY_USER_ID

PRIVACY_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class AdAsk:
    """AdAsk is one ServeAd request of the mix, with the proto's field names."""

    user_id: str
    device_type: str
    city: str
    state: str
    country: str = ""  # the platform's home country

    def fields(self) -> dict[str, str]:
        """fields are the request's fields as a ServeAdRequest or JSON body takes them."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Resident:
    """Resident is a user of the users table: who they are, where and on what device."""

    user_id: str
    device_type: str
    city: str
    state: str


def request_mix(residents: Sequence[Resident], count: int, rng: random.Random) -> list[AdAsk]:
    """request_mix draws count requests, PRIVACY_SHARE of them (rounded) with the privacy id.

    A city without residents also gets a privacy-id request: nobody there has a profile.
    """
    by_city: dict[str, list[Resident]] = {}
    for resident in residents:
        by_city.setdefault(resident.city, []).append(resident)
    cities = list(CITY_WEIGHTS)
    city_weights = list(accumulate(CITY_WEIGHTS.values()))
    devices = list(DEVICE_WEIGHTS)
    device_weights = list(accumulate(DEVICE_WEIGHTS.values()))
    private = set(rng.sample(range(count), round(count * PRIVACY_SHARE)))
    asks = []
    for number in range(count):
        city = rng.choices(cities, cum_weights=city_weights)[0]
        people = by_city.get(city)
        if people and number not in private:
            who = rng.choice(people)
            asks.append(AdAsk(who.user_id, who.device_type, who.city, who.state))
        else:
            device = rng.choices(devices, cum_weights=device_weights)[0]
            asks.append(AdAsk(PRIVACY_USER_ID, device, city, CITY_STATES[city]))
    return asks


def shares(asks: Sequence[AdAsk], key: str) -> Mapping[str, float]:
    """shares is the fraction of asks by one field's value (a summary for the report)."""
    counts: dict[str, int] = {}
    for ask in asks:
        value = getattr(ask, key)
        counts[value] = counts.get(value, 0) + 1
    return {value: n / len(asks) for value, n in counts.items()} if asks else {}
