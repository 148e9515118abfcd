"""Literals: values rendered into a multi-row INSERT's text, for the group-commit writers.

A batch's VALUES are rendered by the writer itself (servers/ads/served.py, the charging
ledger, the feedback outbox) because the driver's generic per-value escaping costs more than
the rest of writing the batch. Strings still go through the driver's own escaping, which
follows the session's sql_mode; times have one fixed form.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection

from servers.storage.schema import naive_utc


def string_quoter(connection: Connection) -> Callable[[str], str]:
    """string_quoter is the driver's quoted string literal for this connection's session."""
    driver = connection.connection.dbapi_connection
    quote: Callable[[str], str] = driver.escape  # type: ignore[union-attr]
    return quote


def time_literal(value: datetime) -> str:
    """time_literal is an aware instant as the DATETIME literal of naive UTC, to microseconds."""
    return f"'{naive_utc(value).isoformat(' ', 'microseconds')}'"


def insert_rendered(connection: Connection, statement: str) -> None:
    """insert_rendered runs a statement whose values are already literals (no parameters)."""
    connection.exec_driver_sql(statement, execution_options={"no_parameters": True})
