"""When a failed streaming query starts again, and when the feedback writer gives up on it.

The feedback writer runs the billing archive and the KPI stream as two queries in one Spark
driver. A query that fails (MySQL out of reach for the KPI upsert, the metastore restarting,
a Kafka leader change) is started again from its checkpoint after a backoff that doubles up
to a cap, while the other query keeps running; its checkpoint makes the restart replay the
failed batch, and the idempotent sinks write nothing twice. A query that keeps failing with
no progress in between exhausts its budget: the writer then exits, and the supervisor starts
a fresh process, which resumes from the same checkpoints.

Pure: no Spark, no I/O, no clock (callers pass the time).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

RUNNING = "running"
RESTARTING = "restarting"
FAILED = "failed"

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 30.0
# Twelve restarts in a row with no progress (1+2+4+8+16 s, then 30 s each: four minutes of
# backoff, more with the failing attempts themselves); the thirteenth failure gives up.
FAILURE_BUDGET = 12
# A query that ran this long after a restart without failing has recovered, even if no
# batch came by to say so (no traffic): its next failure starts the backoff afresh.
STABLE_AFTER_SECONDS = 120.0
ERROR_CHARS = 300


_RAISED = re.compile(r"(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt))(:|$)")


def cause(message: str) -> str:
    """cause is the last exception a failure's message names, without its module, on one line.

    A failed foreachBatch reaches the driver as a StreamingQueryException whose message holds
    the Python traceback: its last raised exception is the cause, not its first line.
    """
    lines = [line.strip() for line in message.strip().splitlines()]
    raised = [n for n, line in enumerate(lines) if _RAISED.match(line)]
    last = raised[-1] if raised else 0
    told = lines[last] if last else " ".join(lines)  # a message with no traceback: all of it
    return " ".join(_RAISED.sub(r"\1\2", told, count=1).split())


@dataclass(frozen=True)
class Backoff:
    """Backoff is a delay that doubles with each failure in a row, up to a cap."""

    first: float = FIRST_DELAY_SECONDS
    cap: float = MAX_DELAY_SECONDS
    factor: float = 2.0

    def delay(self, failures: int) -> float:
        """delay is the wait before the next attempt after `failures` failures in a row (≥ 1)."""
        exponent = max(failures, 1) - 1
        return min(self.cap, self.first * self.factor ** min(exponent, 64))


@dataclass
class QueryRestarts:
    """QueryRestarts is one query's life: running, restarting after a failure, or failed.

    consecutive counts failures with no progress in between (a committed batch, or a run of
    STABLE_AFTER_SECONDS); restarts counts every restart since the writer started.
    """

    name: str
    backoff: Backoff = field(default_factory=Backoff)
    budget: int = FAILURE_BUDGET
    stable_after: float = STABLE_AFTER_SECONDS
    state: str = RUNNING
    restarts: int = 0
    failures: int = 0
    consecutive: int = 0
    last_error: str | None = None
    failed_at: float | None = None
    restart_at: float | None = None
    running_since: float | None = None

    def started(self, now: float) -> None:
        """started records that the query runs (first start or a restart)."""
        if self.state == RESTARTING:
            self.restarts += 1
        self.state = RUNNING
        self.restart_at = None
        self.running_since = now

    def progressed(self) -> None:
        """progressed records a committed batch: the failures before it no longer count."""
        self.consecutive = 0

    def failed(self, error: str, now: float) -> None:
        """failed records a failure (of the query, or of starting it) and plans what is next."""
        if self.running_since is not None and now - self.running_since >= self.stable_after:
            self.consecutive = 0
        self.failures += 1
        self.consecutive += 1
        self.last_error = error[:ERROR_CHARS]
        self.failed_at = now
        self.running_since = None
        if self.consecutive > self.budget:
            self.state = FAILED
            self.restart_at = None
        else:
            self.state = RESTARTING
            self.restart_at = now + self.backoff.delay(self.consecutive)

    def due(self, now: float) -> bool:
        """due is true when a restarting query should be started again now."""
        return self.state == RESTARTING and self.restart_at is not None and now >= self.restart_at

    @property
    def exhausted(self) -> bool:
        """exhausted is true once the query failed past its budget: the writer must exit."""
        return self.state == FAILED

    def record(self) -> dict[str, Any]:
        """record is the query's state as the status file shows it."""
        return {
            "state": self.state,
            "restarts": self.restarts,
            "failures": self.failures,
            "consecutive_failures": self.consecutive,
            "last_error": self.last_error,
            "failed_at": self.failed_at,
            "restart_at": self.restart_at,
        }


def retry(
    action: Callable[[], T],
    *,
    retryable: Callable[[BaseException], bool],
    attempts: int,
    backoff: Backoff,
    sleep: Callable[[float], None],
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """retry runs action, again after a backoff while it fails retryably, at most attempts times.

    A failure that is not retryable, or the last attempt's, is raised as it is. on_retry hears
    (attempt number, error, delay) before each wait.
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as error:
            if attempt >= attempts or not retryable(error):
                raise
            delay = backoff.delay(attempt)
            if on_retry is not None:
                on_retry(attempt, error, delay)
            sleep(delay)
    raise ValueError("attempts must be at least 1")
