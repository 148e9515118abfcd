"""The SQLAlchemy engine the servers share, tuned for short transactions on MySQL."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine


def engine(database_url: str, pool_size: int = 8) -> Engine:
    """engine connects to MySQL in UTC with a pool sized for one server process.

    Connections are only used through Connection contexts, which end every transaction
    (commit, or rollback on close), so the pool's own rollback on check-in is skipped.
    """
    return create_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_reset_on_return=None,
        pool_recycle=3600,
        connect_args={"init_command": "SET time_zone = '+00:00'"},
    )
