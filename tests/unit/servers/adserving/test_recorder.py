"""Tests for servers.adserving.recorder: group commit in which no served ad fails another.

The database is a fake that behaves like MariaDB in strict mode on a multi-row INSERT: the
whole statement is refused when one row does not fit its column (DataError) or repeats a
request id (IntegrityError), and every statement fails while the server is down.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pymysql
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from servers.ads import served
from servers.ads.served import ServedAd
from servers.adserving.recorder import Recorder, ServedAdRefusedError
from servers.errors import UnavailableError

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
AD = ServedAd(
    request_id="",
    campaign_id="c1",
    user_id="u1",
    device_type="iPhone",
    city="Pune",
    state="Maharashtra",
    country="India",
    auction_cpm=Decimal("0.00004"),
    auction_cpc=Decimal("0.002"),
    auction_cpa=Decimal("0.05"),
    bid_cpm=Decimal("0.00004"),
    bidders=1,
    target_age_start=0,
    target_age_end=0,
    target_location="All, All, India",
    target_gender="All",
    target_income_bucket="All",
    target_device="All",
    campaign_start_time=NOW,
    campaign_end_time=NOW,
    served_at=NOW,
)


class FakeConnection:
    """FakeConnection is one writer's connection; it can be closed or invalidated."""

    def __init__(self) -> None:
        self.open = True

    def execution_options(self, **options: Any) -> FakeConnection:
        return self

    def invalidate(self) -> None:
        self.open = False

    def close(self) -> None:
        self.open = False


class FakeMariaDB:
    """FakeMariaDB stores served ads by request id, refusing whole statements as MariaDB does."""

    def __init__(self) -> None:
        self.rows: dict[str, ServedAd] = {}
        self.statements = 0
        self.down = False
        self.connections: list[FakeConnection] = []

    def connect(self) -> FakeConnection:
        connection = FakeConnection()
        self.connections.append(connection)
        return connection

    def record(self, connection: FakeConnection, ads: Sequence[ServedAd]) -> None:
        assert connection.open
        self.statements += 1
        if self.down:
            raise OperationalError("INSERT", None, pymysql.err.OperationalError(2013, "gone"))
        for number, ad in enumerate(ads, start=1):
            if len(ad.device_type) > 32:
                too_long = pymysql.err.DataError(
                    1406, f"Data too long for column 'device_type' at row {number}"
                )
                raise DataError("INSERT", None, too_long)
            if ad.request_id in self.rows or [a.request_id for a in ads].count(ad.request_id) > 1:
                duplicate = pymysql.err.IntegrityError(1062, f"Duplicate entry '{ad.request_id}'")
                raise IntegrityError("INSERT", None, duplicate)
        self.rows.update((ad.request_id, ad) for ad in ads)


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> FakeMariaDB:
    fake = FakeMariaDB()
    monkeypatch.setattr(served, "record", fake.record)
    return fake


def _ads(count: int, **hostile: dict[str, Any]) -> list[ServedAd]:
    """_ads are count served ads; hostile maps a request id to the fields that make it bad."""
    ads = [dataclasses.replace(AD, request_id=f"r{number}") for number in range(count)]
    return [dataclasses.replace(ad, **hostile.get(ad.request_id, {})) for ad in ads]


def _record_all(database: FakeMariaDB, ads: list[ServedAd]) -> list[BaseException | None]:
    async def scenario() -> list[BaseException | None]:
        engine: Engine = database  # type: ignore[assignment]
        recorder = Recorder(engine, linger=0.05)
        outcomes = await asyncio.gather(
            *(recorder.record(ad) for ad in ads), return_exceptions=True
        )
        await recorder.close()
        return outcomes

    return asyncio.run(scenario())


def test_a_row_mariadb_refuses_fails_only_its_own_request(database: FakeMariaDB) -> None:
    ads = _ads(500, r137={"device_type": "i̇" * 32})  # 64 characters: the column holds 32
    outcomes = _record_all(database, ads)
    refused = [ad.request_id for ad, outcome in zip(ads, outcomes, strict=True) if outcome]
    assert refused == ["r137"]
    assert isinstance(outcomes[137], ServedAdRefusedError)
    assert isinstance(outcomes[137].__cause__, DataError)
    assert set(database.rows) == {ad.request_id for ad in ads} - {"r137"}
    assert database.statements <= 1 + 2 * 9  # one batch, bisected
    assert len(database.connections) == 1  # a refusal is no reason to reconnect


def test_a_duplicate_request_id_fails_only_the_second_one(database: FakeMariaDB) -> None:
    database.rows["r5"] = AD  # an earlier ad took this request id
    outcomes = _record_all(database, _ads(40))
    assert [number for number, outcome in enumerate(outcomes) if outcome] == [5]
    assert isinstance(outcomes[5], ServedAdRefusedError)
    assert len(database.rows) == 40


def test_mysql_down_fails_every_request_with_unavailable(database: FakeMariaDB) -> None:
    database.down = True
    outcomes = _record_all(database, _ads(50, r3={"device_type": "x" * 40}))
    assert all(isinstance(outcome, UnavailableError) for outcome in outcomes)
    assert database.statements == 1  # not bisected: the rows are not at fault
    assert not database.connections[0].open  # dropped; the next batch reconnects
