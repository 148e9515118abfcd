"""Kept connections: each writer thread keeps one MySQL connection across its batches.

A group-commit writer (the served-ads recorder, the charging ledger) runs a batch every few
milliseconds; checking a connection out of the pool for each would add a ping and a
hand-off to every batch. So each writer thread opens its own on first use and keeps it until
MySQL fails it (dropped: the next batch opens a new one) or the writer closes.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError


class KeptConnections:
    """KeptConnections holds one connection per calling thread, opened on first use."""

    def __init__(self, engine: Engine, *, autocommit: bool = False) -> None:
        self.engine = engine
        self.autocommit = autocommit
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()

    def get(self) -> Connection:
        """get is this thread's connection, opened on first use."""
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self.engine.connect()
            if self.autocommit:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def drop(self) -> None:
        """drop discards this thread's connection (MySQL failed it); the next get opens one."""
        connection: Connection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._lock:
                self._connections.remove(connection)
            try:
                connection.invalidate()
                connection.close()
            except SQLAlchemyError:
                pass

    def close(self) -> None:
        """close closes every thread's connection (once no batch is in flight)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
