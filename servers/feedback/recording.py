"""FeedbackRecording: the FeedbackService's use case, a feedback charged once within bounds.

The flow only: the ledger (ledger.py) is the one MySQL transaction that records a feedback
and charges its campaign; this runs it on a ledger thread, bounds how long a device waits
for it, and counts what it recorded (servers/metrics.py has the rule: a server's flow object
records its business outcomes).

A MySQL that hangs holds the ledger threads until the driver's read timeout (10 s), far past
Envoy's 2 s device deadline, so what a device waits is bounded: once every ledger thread has
been held longer than STALLED_AFTER, or while one probes a MySQL that left the last
transaction unanswered (servers/storage/stalls.py), a new feedback is refused at once; a
feedback not settled within its patience is answered UNAVAILABLE (503 with a retry hint).
Neither breaks exactly-once: a refused feedback never started; one given up on may still
commit (its COMMIT reached MySQL, the answer did not reach the device), and the device's
retry with the same request id is then answered with that first result, marked duplicate
(docs/design.md rule 6), so the expenditure acknowledged is the one charged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from servers.errors import UnavailableError
from servers.feedback import metrics
from servers.feedback.feedback_request import FeedbackRequest
from servers.feedback.ledger import Ledger, Recorded
from servers.storage.faults import is_transient
from servers.storage.stalls import Stalls

# STALLED_AFTER: a feedback transaction takes milliseconds; when every ledger thread has been
# on one this long, MySQL is not answering and new feedback is refused at once.
STALLED_AFTER = 0.75
# PATIENCE: how long a feedback without a deadline of its own (JSON through Envoy) may take
# before the device is told to retry: inside Envoy's 2 s, so it hears 503, never a 504.
PATIENCE = 1.0
# DEADLINE_MARGIN: a call with a deadline waits that long, less this, for its answer.
DEADLINE_MARGIN = 0.5


def patience(remaining: float | None, default: float = PATIENCE) -> float:
    """patience is how long a feedback waits: its caller's deadline less a margin, or default.

    A client that gave a deadline (a gRPC device, a test with 10 s) is not refused before it
    would give up itself: one feedback among many for a hot campaign can legitimately queue
    for its row lock longer than the default.
    """
    if remaining is None:
        return default
    return max(remaining - DEADLINE_MARGIN, 0.0)


class FeedbackRecording:
    """FeedbackRecording records devices' feedback through the ledger, bounded and counted."""

    def __init__(
        self,
        ledger: Ledger,
        charged: Callable[[], None],
        *,
        threads: int,
        stalled_after: float = STALLED_AFTER,
        default_patience: float = PATIENCE,
    ) -> None:
        self.ledger = ledger
        self.charged = charged  # wakes the outbox relay: a charge's event waits in the outbox
        # The ledger's blocking transactions run here, one per thread, each on a pooled
        # connection (server.py sizes the pool to match).
        self.executor = ThreadPoolExecutor(threads, "ledger")
        self.stalls = Stalls(threads, stalled_after)
        self.patience = default_patience  # for calls without a deadline of their own

    async def record(self, feedback: FeedbackRequest, time_remaining: float | None) -> Recorded:
        """record charges feedback once, or answers its first result; refused when MySQL hangs.

        time_remaining is how long the caller will wait (its deadline), None when it did not
        say. Raises UnavailableError when the feedback is refused or not settled in time.
        """
        if self.stalls.stalled(time.monotonic()):
            raise UnavailableError("feedback cannot reach the database now; retry")
        work = asyncio.get_running_loop().run_in_executor(self.executor, self._charge, feedback)
        try:
            # On timeout the work is cancelled: if still queued it never runs; if running,
            # it finishes on its thread and the retry finds its result.
            return await asyncio.wait_for(work, patience(time_remaining, self.patience))
        except TimeoutError:
            raise UnavailableError("feedback was not recorded in time; retry") from None

    def close(self) -> None:
        """close waits for the transactions under way and stops the ledger threads."""
        self.executor.shutdown()

    def _charge(self, feedback: FeedbackRequest) -> Recorded:
        """_charge is the ledger's transaction, timed for the stall rule (on a ledger thread).

        Counted here, not in the caller, so a charge committed after its device stopped
        waiting still counts and still wakes the relay.
        """
        call = self.stalls.begin(time.monotonic())
        answered = False
        try:
            result = self.ledger.submit(feedback)
            answered = True
        except Exception as error:
            answered = not is_transient(error)  # a refusal is an answer; silence is not
            raise
        finally:
            self.stalls.end(call, answered=answered)
        if result.duplicate:
            metrics.DUPLICATES.inc()
        else:
            metrics.CHARGES.labels(result.user_action).inc()
            metrics.SPEND.inc(float(result.expenditure))
            self.charged()
        return result
