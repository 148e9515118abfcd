"""FeedbackService: devices report what users did; the ledger charges it exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeAlias

import grpc
from adplatform.v1 import feedback_service_pb2, feedback_service_pb2_grpc

from servers import metrics
from servers.feedback import feedback_request
from servers.feedback.ledger import Ledger
from servers.money import format_money

Context: TypeAlias = "grpc.aio.ServicerContext[object, object]"
SUCCESS = "SUCCESS"


class FeedbackService(feedback_service_pb2_grpc.FeedbackServiceServicer):
    """FeedbackService is the devices' feedback API."""

    def __init__(self, ledger: Ledger, executor: Executor, recorded: Callable[[], None]) -> None:
        self.ledger = ledger
        self.executor = executor  # the ledger's blocking transactions run here
        self.recorded = recorded  # wakes the outbox relay

    async def SubmitFeedback(  # noqa: N802
        self, request: feedback_service_pb2.SubmitFeedbackRequest, context: Context
    ) -> feedback_service_pb2.SubmitFeedbackResponse:
        """SubmitFeedback records the feedback and charges its campaign at most once."""
        feedback = feedback_request.parse(
            request.request_id, request.view, request.click, request.acquisition
        )
        result = await asyncio.get_running_loop().run_in_executor(
            self.executor, self.ledger.submit, feedback
        )
        if result.duplicate:
            metrics.DUPLICATES.inc()
        else:
            metrics.CHARGES.labels(result.user_action).inc()
            metrics.SPEND.inc(float(result.expenditure))
            self.recorded()
        return feedback_service_pb2.SubmitFeedbackResponse(
            status=SUCCESS,
            request_id=result.request_id,
            campaign_id=result.campaign_id,
            user_action=result.user_action,
            expenditure=format_money(result.expenditure),
            duplicate=result.duplicate,
        )
