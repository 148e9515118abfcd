"""FeedbackService: devices report what users did; the ledger charges it exactly once.

Each feedback is one MySQL transaction on a ledger thread. A MySQL that hangs holds those
threads until the driver's read timeout (10 s), far past Envoy's 2 s device deadline, so the
service bounds what a device waits: once every ledger thread has been held longer than
STALLED_AFTER, or while one probes a MySQL that left the last transaction unanswered
(servers/storage/stalls.py), a new feedback is refused at once; a feedback not settled
within PATIENCE is answered UNAVAILABLE (503 with a retry hint). Neither breaks
exactly-once: a refused feedback never started; one given up on may still commit (its COMMIT
reached MySQL, the answer did not reach the device), and the device's retry with the same
request id is then answered with that first result, marked duplicate (DESIGN rule 6), so the
expenditure acknowledged is the one charged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeAlias

import grpc
from adplatform.v1 import feedback_service_pb2, feedback_service_pb2_grpc

from servers import metrics
from servers.errors import UnavailableError
from servers.feedback import feedback_request
from servers.feedback.feedback_request import FeedbackRequest
from servers.feedback.ledger import Ledger, Recorded
from servers.money import format_money
from servers.storage.faults import is_transient
from servers.storage.stalls import Stalls

Context: TypeAlias = "grpc.aio.ServicerContext[object, object]"
SUCCESS = "SUCCESS"
# STALLED_AFTER: a feedback transaction takes milliseconds; when every ledger thread has been
# on one this long, MySQL is not answering and new feedback is refused at once.
STALLED_AFTER = 0.75
# PATIENCE: how long a feedback without a deadline of its own (JSON through Envoy) may take
# before the device is told to retry: inside Envoy's 2 s, so it hears 503, never a 504.
PATIENCE = 1.0
# DEADLINE_MARGIN: a call with a gRPC deadline waits that long, less this, for its answer.
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


class FeedbackService(feedback_service_pb2_grpc.FeedbackServiceServicer):
    """FeedbackService is the devices' feedback API."""

    def __init__(
        self,
        ledger: Ledger,
        executor: Executor,
        recorded: Callable[[], None],
        *,
        threads: int,
        stalled_after: float = STALLED_AFTER,
        default_patience: float = PATIENCE,
    ) -> None:
        self.ledger = ledger
        self.executor = executor  # the ledger's blocking transactions run here, threads of them
        self.recorded = recorded  # wakes the outbox relay
        self.stalls = Stalls(threads, stalled_after)
        self.patience = default_patience  # for calls without a deadline of their own

    async def SubmitFeedback(  # noqa: N802
        self, request: feedback_service_pb2.SubmitFeedbackRequest, context: Context
    ) -> feedback_service_pb2.SubmitFeedbackResponse:
        """SubmitFeedback records the feedback and charges its campaign at most once."""
        feedback = feedback_request.parse(
            request.request_id, request.view, request.click, request.acquisition
        )
        result = await self._settle(feedback, patience(_time_remaining(context), self.patience))
        return feedback_service_pb2.SubmitFeedbackResponse(
            status=SUCCESS,
            request_id=result.request_id,
            campaign_id=result.campaign_id,
            user_action=result.user_action,
            expenditure=format_money(result.expenditure),
            duplicate=result.duplicate,
        )

    async def _settle(self, feedback: FeedbackRequest, wait: float) -> Recorded:
        """_settle runs the ledger's transaction on a ledger thread, within the bounds."""
        if self.stalls.stalled(time.monotonic()):
            raise UnavailableError("feedback cannot reach the database now; retry")
        work = asyncio.get_running_loop().run_in_executor(self.executor, self._charge, feedback)
        try:
            # On timeout the work is cancelled: if still queued it never runs; if running,
            # it finishes on its thread and the retry finds its result.
            return await asyncio.wait_for(work, wait)
        except TimeoutError:
            raise UnavailableError("feedback was not recorded in time; retry") from None

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
            self.recorded()
        return result


def _time_remaining(context: Context | None) -> float | None:
    """_time_remaining is the call's time left before its deadline; None if it has none."""
    return None if context is None else context.time_remaining()
