"""Tests for servers.adserving.frequency: one upsert per batch, in key order; reads that fail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pymysql
import pytest
from sqlalchemy.exc import OperationalError

from servers.adserving import frequency
from servers.adserving.frequency import Impression
from servers.errors import UnavailableError

TODAY = datetime(2026, 12, 2, 18, 30, tzinfo=UTC)


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []
    monkeypatch.setattr(frequency, "string_quoter", lambda connection: lambda s: f"'{s}'")
    monkeypatch.setattr(frequency, "insert_rendered", lambda connection, sql: sent.append(sql))
    return sent


def test_nothing_to_add_sends_nothing(statements: list[str]) -> None:
    frequency.add(None, [])  # type: ignore[arg-type]
    assert statements == []


def test_a_batch_is_one_upsert_summed_per_user_and_campaign(statements: list[str]) -> None:
    frequency.add(
        None,  # type: ignore[arg-type]
        [
            Impression("u2", "c1", TODAY),
            Impression("u1", "c2", TODAY),
            Impression("u2", "c1", TODAY),
            Impression("u1", "c1", TODAY - timedelta(days=1)),  # yesterday's, then today's
            Impression("u1", "c1", TODAY),
            Impression("u1", "c1", TODAY - timedelta(days=1)),  # late: counted in today's
        ],
    )
    (sql,) = statements
    values = sql.split(" VALUES ")[1].split(" ON DUPLICATE KEY UPDATE ")[0]
    day = "'2026-12-02 18:30:00.000000'"
    assert values == f"('u1','c1',{day},2),('u1','c2',{day},1),('u2','c1',{day},2)"
    # The count is set while period_start still holds the stored period (left to right).
    update = sql.split(" ON DUPLICATE KEY UPDATE ")[1]
    assert update.index("impressions =") < update.index("period_start = GREATEST")


class _Gone:
    """_Gone is a connection to a MySQL that went away: every statement fails."""

    def __init__(self) -> None:
        self.invalidated = False

    def execution_options(self, **options: object) -> _Gone:
        return self

    def execute(self, statement: object) -> None:
        raise OperationalError("SELECT", None, pymysql.err.OperationalError(2013, "gone"))

    def invalidate(self) -> None:
        self.invalidated = True

    def close(self) -> None:
        pass


class _Engine:
    def __init__(self) -> None:
        self.connections: list[_Gone] = []

    def connect(self) -> _Gone:
        self.connections.append(_Gone())
        return self.connections[-1]


def test_counts_out_of_reach_are_unavailable_and_the_connection_dropped() -> None:
    engine = _Engine()
    counts = frequency.FrequencyCounts(engine)  # type: ignore[arg-type]

    async def read() -> None:
        try:
            await counts.of("u1")
        finally:
            await counts.close()

    with pytest.raises(UnavailableError):
        asyncio.run(read())
    assert engine.connections and engine.connections[0].invalidated
