"""Reads that tolerate lag: served by the MariaDB replica when there is one and it keeps up.

A campaign manager's listing may be a few seconds old; what charges, serves, indexes, or must
show a campaign manager their own change (GetCampaign after an update) reads the primary.
A read on the replica falls back to the primary at once when the replica cannot be reached,
fails the query, or lags: its engine has a short connect and read timeout, and after a
failure the primary serves every read for RETRY_AFTER_SECONDS before the replica is tried
again, so a stopped replica costs one refused connection, not every call's deadline.

The lag (Seconds_Behind_Master) is read on the replica's connection by a read at most every
LAG_CHECK_SECONDS; a replica whose threads stopped has no lag figure and is not used.
The decisions are the plain functions below; LagTolerantReads holds their state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from servers.storage.db import engine

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)

REPLICA_CONNECT_TIMEOUT_SECONDS = 1  # loopback or one bridge away: a live replica answers in ms
REPLICA_TIMEOUT_SECONDS = 3  # read or write: leaves the primary most of a read's patience
RETRY_AFTER_SECONDS = 10.0  # the primary serves every read this long after a replica failure
LAG_CHECK_SECONDS = 5.0  # how often a read asks the replica how far behind it is
MAX_LAG_SECONDS = 5  # a replica further behind than this is not read


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """ReplicaState is what the reads last learnt of the replica (monotonic clock seconds)."""

    failed_at: float | None = None  # the last read on it that failed
    checked_at: float | None = None  # the last lag check
    lag: int | None = None  # Seconds_Behind_Master then; None: not replicating


def use_replica(state: ReplicaState, now: float) -> bool:
    """use_replica: a read goes to the replica unless it failed lately or lagged when checked.

    A lag check that is due is made on the replica itself, so a lagging replica is tried
    again once every LAG_CHECK_SECONDS.
    """
    if state.failed_at is not None and now - state.failed_at < RETRY_AFTER_SECONDS:
        return False
    return lag_check_due(state, now) or lag_acceptable(state.lag)


def lag_check_due(state: ReplicaState, now: float) -> bool:
    """lag_check_due is true when the replica's lag was never read or not for LAG_CHECK_SECONDS."""
    return state.checked_at is None or now - state.checked_at >= LAG_CHECK_SECONDS


def lag_acceptable(lag: int | None) -> bool:
    """lag_acceptable: the replica replicates and is at most MAX_LAG_SECONDS behind."""
    return lag is not None and lag <= MAX_LAG_SECONDS


def replica_engine(replica_url: str) -> Engine:
    """replica_engine is a small pool on the replica with short timeouts (or the URL's own)."""
    url = make_url(replica_url)
    if "connect_timeout" not in url.query:
        url = url.update_query_dict({"connect_timeout": str(REPLICA_CONNECT_TIMEOUT_SECONDS)})
    rendered = url.render_as_string(hide_password=False)
    return engine(rendered, pool_size=2, timeout_seconds=REPLICA_TIMEOUT_SECONDS)


class LagTolerantReads:
    """LagTolerantReads runs a read on the replica when use_replica says so, else the primary."""

    def __init__(
        self,
        primary: Engine,
        replica: Engine | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.replica = replica  # None: every read is the primary's
        self.clock = clock
        self.state = ReplicaState()
        self._lock = threading.Lock()  # reads run on several threads

    def run(
        self, query: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """run answers query from the replica if it may and can, otherwise from the primary.

        Blocking: called on a thread, within the caller's deadline.
        """
        if self.replica is not None and use_replica(self.state, self.clock()):
            try:
                with self.replica.connect() as connection:
                    if self._lag_acceptable(connection):
                        return query(connection, *args, **kwargs)
            except SQLAlchemyError as error:
                self._update(failed_at=self.clock())
                log.warning("replica read failed, reading the primary: %s", error)
        with self.primary.connect() as connection:
            return query(connection, *args, **kwargs)

    def _lag_acceptable(self, connection: Connection) -> bool:
        """_lag_acceptable reads the replica's lag when a check is due and judges the last one."""
        now = self.clock()
        if lag_check_due(self.state, now):
            row = connection.execute(text("SHOW SLAVE STATUS")).mappings().first()
            lag = None if row is None else row["Seconds_Behind_Master"]
            self._update(checked_at=now, lag=lag)
            if not lag_acceptable(lag):
                log.warning("replica %s s behind (None: not replicating), reading the primary", lag)
        return lag_acceptable(self.state.lag)

    def _update(self, **changes: object) -> None:
        """_update records what a read learnt of the replica."""
        with self._lock:
            self.state = replace(self.state, **changes)  # type: ignore[arg-type]
