"""The SQLAlchemy engine the servers share, tuned for short transactions on MySQL.

Every connection has connect, read and write timeouts, so a MySQL that hangs (frozen,
partitioned, a full disk) fails a call with a transient OperationalError within a bound
instead of holding a thread, a pooled connection and the caller's request forever. The
servers' calls are short, so they keep the serving bound; tools that run long statements
(the report, a benchmark's clean-up) pass a longer one. A URL that sets its own timeouts
(`?read_timeout=...`) keeps them.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

CONNECT_TIMEOUT_SECONDS = 5
SERVING_TIMEOUT_SECONDS = 10  # read or write: far above any serving statement
TOOL_TIMEOUT_SECONDS = 600
ISOLATION_LEVEL = "READ COMMITTED"


def engine(
    database_url: str, pool_size: int = 8, *, timeout_seconds: int = SERVING_TIMEOUT_SECONDS
) -> Engine:
    """engine connects to MySQL in UTC with a pool sized for one server process.

    Connections are only used through Connection contexts, which end every transaction
    (commit, or rollback on close), so the pool's own rollback on check-in is skipped.

    Every session reads at READ COMMITTED, as the stack's MariaDB is configured, whatever an
    existing server's default: under REPEATABLE READ the charging ledger's locking read of
    a batch's served ads joined with their feedback would also gap-lock the feedback index,
    and two batches with no request id in common could deadlock on their inserts.
    """
    return create_engine(
        database_url,
        isolation_level=ISOLATION_LEVEL,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_reset_on_return=None,
        pool_recycle=3600,
        pool_timeout=timeout_seconds,
        connect_args=connect_args(database_url, timeout_seconds),
    )


def connect_args(database_url: str, timeout_seconds: int) -> dict[str, object]:
    """connect_args are PyMySQL's options: UTC, and the timeouts the URL does not set itself."""
    given = make_url(database_url).query
    timeouts = {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "read_timeout": timeout_seconds,
        "write_timeout": timeout_seconds,
    }
    chosen: dict[str, object] = {k: v for k, v in timeouts.items() if k not in given}
    return {"init_command": "SET time_zone = '+00:00'", **chosen}
