"""Tests for servers/storage/db.py: a MySQL that hangs fails a call within its timeouts, and
every session reads at READ COMMITTED whatever the server's default."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from servers.storage.db import connect_args, engine
from servers.storage.faults import is_transient


def test_every_connection_gets_timeouts_unless_the_url_sets_them() -> None:
    args = connect_args("mysql+pymysql://u:p@127.0.0.1:3306/db", 10)
    assert (args["connect_timeout"], args["read_timeout"], args["write_timeout"]) == (5, 10, 10)
    own = connect_args("mysql+pymysql://u:p@127.0.0.1:3306/db?read_timeout=99", 10)
    assert "read_timeout" not in own  # the URL's own 99 reaches PyMySQL
    assert own["write_timeout"] == 10


def test_every_session_reads_at_read_committed() -> None:
    pooled = engine("mysql+pymysql://u:p@127.0.0.1:3306/db")
    assert pooled.dialect._on_connect_isolation_level == "READ COMMITTED"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """silent_server accepts TCP connections and never says a word: a frozen MySQL."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for connection in accepted:
            connection.close()
        listener.close()


def test_a_frozen_mysql_fails_the_call_within_the_timeout_as_transient(silent_server: int) -> None:
    url = f"mysql+pymysql://u:p@127.0.0.1:{silent_server}/db?connect_timeout=1"
    frozen = engine(url, pool_size=1, timeout_seconds=1)
    started = time.monotonic()
    with pytest.raises(OperationalError) as failed, frozen.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert time.monotonic() - started < 5
    assert is_transient(failed.value)
    frozen.dispose()
