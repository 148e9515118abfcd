"""FeedbackRecording: the FeedbackService's use case, a feedback charged once within bounds.

The flow only: the ledger (ledger.py) is the one MySQL transaction that records a batch of
feedback and charges its campaigns; this gathers the feedback that arrives together into
batches (servers/batches.py: up to MAX_BATCH, once the oldest has lingered LINGER_SECONDS, as
the served-ads writer does), bounds how long a device waits, and counts what was recorded
(servers/metrics.py has the rule: a server's flow object records its business outcomes).

No feedback fails another: an unknown request id is answered NOT_FOUND alone, an error
settling one feedback fails that feedback alone, and a batch MySQL refuses for what a row
holds is bisected until only that row's feedback fails (refusals.blames_rows).

A MySQL that hangs holds the writers until the driver's read timeout (10 s), far past
Envoy's 2 s device deadline, so what a device waits is bounded: once every writer's batch has
been in flight longer than STALLED_AFTER, or while one probes a MySQL that left the last
batch unanswered (servers/storage/stalls.py), a new feedback is refused at once; a feedback
not settled within its patience is answered UNAVAILABLE (503 with a retry hint). Neither
breaks exactly-once: a refused feedback never started; one given up on may still commit (its
COMMIT reached MySQL, the answer did not reach the device), and the device's retry with the
same request id is then answered with that first result, marked duplicate (docs/design.md
rule 6), so the expenditure acknowledged is the one charged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from servers.batches import Batcher
from servers.errors import UnavailableError
from servers.feedback import metrics
from servers.feedback.feedback_request import FeedbackRequest
from servers.feedback.ledger import Ledger, Outcome, Recorded
from servers.storage.refusals import blames_rows

# STALLED_AFTER: a batch's transaction takes milliseconds; when every writer has been on one
# this long, MySQL is not answering and new feedback is refused at once.
STALLED_AFTER = 0.75
# PATIENCE: how long a feedback without a deadline of its own (JSON through Envoy) may take
# before the device is told to retry: inside Envoy's 2 s, so it hears 503, never a 504.
PATIENCE = 1.0
# DEADLINE_MARGIN: a call with a deadline waits that long, less this, for its answer.
DEADLINE_MARGIN = 0.5
# LONGEST_WAIT: however long a caller's deadline, it waits at most this for its batch.
LONGEST_WAIT = 30.0
MAX_BATCH = 500
# WRITERS: batches in flight per process, each on its own connection; the next gathers
# meanwhile. Two, not one: the CPU per feedback measured the same, and a refusal for a stuck
# MySQL then needs both held past STALLED_AFTER, so one slow batch (a hot campaign's row
# lock, a busy machine) does not refuse everything behind it.
WRITERS = 2
LINGER_SECONDS = 0.001  # a batch waits up to this long to fill: fewer transactions, commits


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
    """FeedbackRecording records devices' feedback through the ledger, batched, bounded, counted."""

    def __init__(
        self,
        ledger: Ledger,
        charged: Callable[[], None],
        *,
        writers: int = WRITERS,
        stalled_after: float = STALLED_AFTER,
        default_patience: float = PATIENCE,
        max_batch: int = MAX_BATCH,
        linger: float = LINGER_SECONDS,
    ) -> None:
        self.ledger = ledger
        self.charged = charged  # wakes the outbox relay: a charge's event waits in the outbox
        self.patience = default_patience  # for calls without a deadline of their own
        # Each writer settles one batch at a time on a thread of its own, with a connection
        # of its own (ledger.py). A caller's own patience bounds its wait (record); the
        # batcher's is only the ceiling.
        self._batches: Batcher[FeedbackRequest, Outcome] = Batcher(
            "ledger",
            self._settle,
            max_batch=max_batch,
            drainers=writers,
            linger=linger,
            blames_items=blames_rows,
            stalled_after=stalled_after,
            patience=LONGEST_WAIT,
        )

    async def record(self, feedback: FeedbackRequest, time_remaining: float | None) -> Recorded:
        """record charges feedback once, or answers its first result; refused when MySQL hangs.

        time_remaining is how long the caller will wait (its deadline), None when it did not
        say. Raises UnavailableError when the feedback is refused or not settled in time,
        NotFoundError for an ad never served, or the error that kept this feedback from
        being settled.
        """
        try:
            # On timeout the feedback is dropped if still queued; if its batch is under way
            # it may still commit, and the retry finds its result.
            async with asyncio.timeout(patience(time_remaining, self.patience)):
                outcome = await self._batches.submit(feedback)
        except TimeoutError:
            raise UnavailableError("feedback was not recorded in time; retry") from None
        except UnavailableError as refused:  # stuck on MySQL, or too far behind
            raise UnavailableError(
                "feedback cannot reach the database now; retry", retry_after=refused.retry_after
            ) from None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def close(self) -> None:
        """close settles what is queued, then stops the writers and closes their connections."""
        await self._batches.close()
        self.ledger.close()

    def _settle(self, requests: list[FeedbackRequest]) -> Sequence[Outcome]:
        """_settle is the ledger's transaction for one batch, counted (on a writer thread).

        Counted here, not in the callers, so a charge committed after its device stopped
        waiting still counts and still wakes the relay.
        """
        outcomes = self.ledger.settle_batch(requests)
        charges = 0
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                continue
            if outcome.duplicate:
                metrics.DUPLICATES.inc()
            else:
                metrics.CHARGES.labels(outcome.user_action).inc()
                metrics.SPEND.inc(float(outcome.expenditure))
                charges += 1
        if charges:
            self.charged()
        return outcomes
