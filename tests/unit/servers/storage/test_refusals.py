"""Tests for servers.storage.refusals: a row's fault is isolated, an outage is retried."""

from __future__ import annotations

import pymysql
import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from servers.errors import UnavailableError
from servers.storage.refusals import blames_rows


@pytest.mark.parametrize(
    "error",
    [
        DataError("INSERT", None, pymysql.err.DataError(1406, "Data too long for column")),
        IntegrityError("INSERT", None, pymysql.err.IntegrityError(1062, "Duplicate entry")),
        OperationalError("INSERT", None, pymysql.err.OperationalError(1292, "Incorrect value")),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    ],
)
def test_what_a_row_holds_blames_the_rows(error: Exception) -> None:
    assert blames_rows(error)


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("INSERT", None, pymysql.err.OperationalError(2013, "Lost connection")),
        OperationalError("INSERT", None, pymysql.err.OperationalError(1213, "Deadlock found")),
        OperationalError("INSERT", None, pymysql.err.OperationalError(1290, "read-only")),
        UnavailableError("the served ad could not be recorded; retry"),
    ],
)
def test_mysql_out_of_reach_blames_no_row(error: Exception) -> None:
    assert not blames_rows(error)
