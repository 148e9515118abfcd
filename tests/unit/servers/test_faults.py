"""Tests for servers.storage.faults: MySQL out of reach is retried, a refused record is not."""

from __future__ import annotations

import pymysql
import pytest
from sqlalchemy.exc import (
    DataError,
    DisconnectionError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from servers.errors import ValidationError
from servers.storage.faults import is_transient


def operational(number: int, message: str = "") -> OperationalError:
    return OperationalError(
        "UPDATE campaigns ...", {}, pymysql.err.OperationalError(number, message)
    )


@pytest.mark.parametrize(
    "error",
    [
        operational(2003, "Can't connect to MySQL server"),
        operational(2013, "Lost connection to MySQL server during query"),
        operational(2006, "MySQL server has gone away"),
        operational(1205, "Lock wait timeout exceeded"),
        operational(1213, "Deadlock found"),
        operational(1040, "Too many connections"),
        operational(1290, "--read-only"),
        operational(1927, "Connection was killed"),
        DisconnectionError("pre-ping failed"),
        PoolTimeoutError("QueuePool limit reached"),
    ],
)
def test_mysql_out_of_reach_is_transient(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        DataError("INSERT", {}, pymysql.err.DataError(1406, "Data too long for column")),
        IntegrityError("INSERT", {}, pymysql.err.IntegrityError(1062, "Duplicate entry")),
        ProgrammingError("SELECT", {}, pymysql.err.ProgrammingError(1064, "syntax")),
        # PyMySQL files server errors it does not know as OperationalError: the number decides.
        operational(1366, "Incorrect string value"),
        operational(1292, "Incorrect datetime value"),
        ValidationError("reason", "too long"),
        OverflowError("date value out of range"),
        RecursionError(),
        TypeError("unhashable type: 'list'"),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    ],
)
def test_a_record_the_database_refuses_is_not_transient(error: Exception) -> None:
    assert not is_transient(error)


def test_an_invalidated_connection_is_transient_whatever_the_number() -> None:
    error = operational(1105, "unknown")
    error.connection_invalidated = True
    assert is_transient(error)
