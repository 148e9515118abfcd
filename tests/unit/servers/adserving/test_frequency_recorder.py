"""Tests for impressions in servers.adserving.recorder: counted in the served ads' transaction."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pymysql
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from servers.ads import served
from servers.ads.served import ServedAd
from servers.adserving import frequency
from servers.adserving.frequency import Impression
from servers.adserving.recorder import Recorder, ServedAdRefusedError
from tests.unit.servers.adserving.test_recorder import AD

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


class Connection:
    """Connection logs what a batch sends: transaction statements, served ads, impressions."""

    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def execution_options(self, **options: Any) -> Connection:
        return self

    def exec_driver_sql(self, statement: str) -> None:
        self.log.append(statement)

    def invalidate(self) -> None:
        pass

    def close(self) -> None:
        pass


class Database:
    def __init__(self) -> None:
        self.log: list[Any] = []
        self.refuse: set[str] = set()

    def connect(self) -> Connection:
        return Connection(self.log)

    def record(self, connection: Connection, ads: Sequence[ServedAd]) -> None:
        if any(ad.request_id in self.refuse for ad in ads):
            duplicate = pymysql.err.IntegrityError(1062, "Duplicate entry")
            raise IntegrityError("INSERT", None, duplicate)
        self.log.append(("ads", [ad.request_id for ad in ads]))

    def add(self, connection: Connection, impressions: Sequence[Impression]) -> None:
        self.log.append(("impressions", [seen.user_id for seen in impressions]))


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> Database:
    fake = Database()
    monkeypatch.setattr(served, "record", fake.record)
    monkeypatch.setattr(frequency, "add", fake.add)
    return fake


def _record(database: Database, items: list[tuple[ServedAd, Impression | None]]) -> list[Any]:
    async def scenario() -> list[Any]:
        engine: Engine = database  # type: ignore[assignment]
        recorder = Recorder(engine, linger=0.05)
        outcomes = await asyncio.gather(
            *(recorder.record(ad, seen) for ad, seen in items), return_exceptions=True
        )
        await recorder.close()
        return outcomes

    return asyncio.run(scenario())


def _ad(request_id: str, user_id: str = "u1") -> ServedAd:
    return dataclasses.replace(AD, request_id=request_id, user_id=user_id)


def test_a_batch_without_impressions_is_one_statement(database: Database) -> None:
    assert _record(database, [(_ad("r1"), None), (_ad("r2"), None)]) == [None, None]
    assert database.log == [("ads", ["r1", "r2"])]


def test_impressions_commit_with_their_served_ads(database: Database) -> None:
    seen = Impression("u2", "c1", NOW)
    assert _record(database, [(_ad("r1"), None), (_ad("r2", "u2"), seen)]) == [None, None]
    assert database.log == [
        "START TRANSACTION",
        ("ads", ["r1", "r2"]),
        ("impressions", ["u2"]),
        "COMMIT",
    ]


def test_a_refused_ad_rolls_back_its_impression_and_fails_alone(database: Database) -> None:
    database.refuse = {"bad"}
    items = [(_ad("ok", "u1"), Impression("u1", "c1", NOW)), (_ad("bad", "u2"), None)]
    outcomes = _record(database, items)
    assert outcomes[0] is None
    assert isinstance(outcomes[1], ServedAdRefusedError)
    # The whole batch is undone; bisected, the good ad and its impression commit together and
    # the refused ad alone (no impression, a single INSERT) is refused again.
    assert database.log == [
        "START TRANSACTION",
        "ROLLBACK",
        "START TRANSACTION",
        ("ads", ["ok"]),
        ("impressions", ["u1"]),
        "COMMIT",
    ]
