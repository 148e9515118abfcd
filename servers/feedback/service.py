"""FeedbackService servicer: SubmitFeedback in, protobuf answers out; recording.py does the work.

The request is checked and canonicalised (feedback_request.parse), the call's deadline is
passed on as how long the device will wait, and the ledger's result is the answer. What a
device waits, what is refused and what is counted are FeedbackRecording's (recording.py).
"""

from __future__ import annotations

from typing import TypeAlias

import grpc
from adplatform.v1 import feedback_service_pb2, feedback_service_pb2_grpc

from servers.feedback import feedback_request
from servers.feedback.recording import FeedbackRecording
from servers.money import format_money

Context: TypeAlias = "grpc.aio.ServicerContext[object, object]"
SUCCESS = "SUCCESS"


class FeedbackService(feedback_service_pb2_grpc.FeedbackServiceServicer):
    """FeedbackService is the devices' feedback API."""

    def __init__(self, recording: FeedbackRecording) -> None:
        self.recording = recording

    async def SubmitFeedback(  # noqa: N802
        self, request: feedback_service_pb2.SubmitFeedbackRequest, context: Context
    ) -> feedback_service_pb2.SubmitFeedbackResponse:
        """SubmitFeedback records the feedback and charges its campaign at most once."""
        feedback = feedback_request.parse(
            request.request_id, request.view, request.click, request.acquisition
        )
        result = await self.recording.record(feedback, _time_remaining(context))
        return feedback_service_pb2.SubmitFeedbackResponse(
            status=SUCCESS,
            request_id=result.request_id,
            campaign_id=result.campaign_id,
            user_action=result.user_action,
            expenditure=format_money(result.expenditure),
            duplicate=result.duplicate,
        )


def _time_remaining(context: Context | None) -> float | None:
    """_time_remaining is the call's time left before its deadline; None if it has none."""
    return None if context is None else context.time_remaining()
