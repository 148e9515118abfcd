"""Profiles: a user's age, gender and income bucket from the users table, cached.

An LRU cache with a time to live keeps hot users in memory; misses are looked up together
(one SELECT ... IN per batch, batches.py). Unknown users are cached as "no profile" too, so
a flood of them does not reach MySQL. The privacy id is never looked up: it has no profile.

Ids are canonical (servers.identifiers.user_id) and a profile belongs to exactly the id it
was stored under: the users column's collation would also match other spellings ("U1",
"u1 ", full-width digits), so the rows MySQL returns are matched to the ids exactly. A batch
MySQL refuses for one id's sake is split (batches.py), so that id alone fails.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from servers import identifiers
from servers.adserving.targeting import UserProfile
from servers.batches import Batcher
from servers.errors import UnavailableError
from servers.storage.refusals import blames_rows
from servers.storage.schema import users

log = logging.getLogger(__name__)

CAPACITY = 100_000  # profiles kept per process (about 35 MB)
TTL_SECONDS = 60.0  # a changed profile is seen within a minute
_COLUMNS = (users.c.id, users.c.age, users.c.gender, users.c.income_bucket)


class Profiles:
    """Profiles finds user profiles by id through an LRU+TTL cache."""

    def __init__(
        self, engine: Engine, capacity: int = CAPACITY, ttl_seconds: float = TTL_SECONDS
    ) -> None:
        self.engine = engine
        self.capacity = capacity
        self.ttl = ttl_seconds
        self._cache: OrderedDict[str, tuple[UserProfile | None, float]] = OrderedDict()
        self._lookups: Batcher[str, UserProfile | None] = Batcher(
            "profiles", self._read, blames_items=blames_rows
        )

    async def find(self, user_id: str) -> UserProfile | None:
        """find is the user's profile; None for the privacy id and for unknown users."""
        if identifiers.is_privacy_id(user_id):
            return None
        cached = self._cache.get(user_id)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            self._cache.move_to_end(user_id)
            return cached[0]
        profile = await self._lookups.submit(user_id)
        self._cache[user_id] = (profile, time.monotonic() + self.ttl)
        self._cache.move_to_end(user_id)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return profile

    def _read(self, user_ids: list[str]) -> list[UserProfile | None]:
        """_read looks a batch of users up in one query (runs in a worker thread)."""
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(select(*_COLUMNS).where(users.c.id.in_(set(user_ids))))
                found = {
                    row.id: UserProfile(row.age, row.gender, row.income_bucket) for row in rows
                }
        except SQLAlchemyError as error:
            if blames_rows(error):
                raise
            log.warning("user profiles unavailable: %s", error)
            raise UnavailableError("user profiles are unavailable; retry") from None
        return [found.get(user_id) for user_id in user_ids]

    async def close(self) -> None:
        """close finishes pending lookups."""
        await self._lookups.close()
