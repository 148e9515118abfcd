"""spark.kpi_sink: the KPI upsert rides out a MySQL that is away for a moment, and only that."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import pymysql
import pytest
from sqlalchemy import Engine
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import OperationalError, ProgrammingError

from spark import kpi_sink
from spark.kpis import campaign_minute

MINUTES = [
    campaign_minute(
        "c-1",
        datetime(2026, 1, 31, 7, 15),
        impressions=3,
        clicks=2,
        acquisitions=1,
        spend=Decimal("0.0406"),
    )
]


def operational(number: int) -> OperationalError:
    return OperationalError("INSERT ...", {}, pymysql.err.OperationalError(number, "away"))


class FlakyEngine:
    """FlakyEngine fails its first transactions with the given errors, then records statements."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.attempts = 0
        self.executed: list[tuple[str, list[dict[str, Any]]]] = []

    @contextmanager
    def begin(self) -> Iterator[FlakyEngine]:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        yield self

    def execute(self, statement: Any, rows: list[dict[str, Any]]) -> None:
        self.executed.append((str(statement.compile(dialect=mysql.dialect())), rows))


def _upsert(database: FlakyEngine, waits: list[float]) -> None:
    kpi_sink.upsert_mysql(cast(Engine, database), "campaign_kpis", MINUTES, sleep=waits.append)


def test_a_transient_failure_is_retried_until_mysql_answers() -> None:
    database = FlakyEngine(operational(2013), operational(1205), operational(2003))
    waits: list[float] = []
    _upsert(database, waits)
    assert database.attempts == 4
    assert waits == [0.5, 1.0, 2.0]
    ((sql, rows),) = database.executed  # written once, as an idempotent upsert
    assert "ON DUPLICATE KEY UPDATE" in sql
    assert rows[0]["campaign_id"] == "c-1" and rows[0]["spend"] == Decimal("0.0406000000")


def test_a_mysql_away_too_long_fails_the_batch_after_bounded_attempts() -> None:
    database = FlakyEngine(*[operational(2003)] * 10)
    waits: list[float] = []
    with pytest.raises(OperationalError):
        _upsert(database, waits)
    assert database.attempts == kpi_sink.UPSERT_ATTEMPTS
    assert sum(waits) <= 16  # bounded: the query's restart policy takes it from there
    assert database.executed == []


def test_an_error_that_is_not_transient_fails_at_once() -> None:
    missing = ProgrammingError("INSERT", {}, pymysql.err.ProgrammingError(1146, "no such table"))
    database = FlakyEngine(missing)
    waits: list[float] = []
    with pytest.raises(ProgrammingError):
        _upsert(database, waits)
    assert (database.attempts, waits) == (1, [])


def test_nothing_to_write_touches_nothing() -> None:
    database = FlakyEngine(operational(2003))
    kpi_sink.upsert_mysql(cast(Engine, database), "campaign_kpis", [], sleep=pytest.fail)
    assert database.attempts == 0
