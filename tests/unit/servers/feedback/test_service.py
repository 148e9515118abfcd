"""Tests for servers.feedback.service: SubmitFeedback only translates protobuf ↔ domain.

The flow object is a stand-in that remembers what it was asked; what is tested is that the
request reaches it checked and canonical, with the call's time left, and that its result is
the answer, money spelled as the API spells it.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from adplatform.v1 import feedback_service_pb2

from servers.errors import ValidationError
from servers.feedback.feedback_request import FeedbackRequest
from servers.feedback.ledger import Recorded
from servers.feedback.recording import FeedbackRecording
from servers.feedback.service import SUCCESS, FeedbackService

REQUEST_ID = "00000000-0000-4000-8000-000000000001"


class Recording:
    """Recording answers every feedback as charged (or as a duplicate) and keeps the calls."""

    def __init__(self, duplicate: bool = False) -> None:
        self.duplicate = duplicate
        self.calls: list[tuple[FeedbackRequest, float | None]] = []

    async def record(self, feedback: FeedbackRequest, time_remaining: float | None) -> Recorded:
        self.calls.append((feedback, time_remaining))
        spent = Decimal("0.0500")
        return Recorded(feedback.request_id, "c1", str(feedback.action), spent, self.duplicate)


class Deadline:
    """Deadline stands in for a grpc.aio context whose call has time_left seconds left."""

    def __init__(self, time_left: float | None) -> None:
        self.time_left = time_left

    def time_remaining(self) -> float | None:
        return self.time_left


def _submit(
    recording: Recording, request: feedback_service_pb2.SubmitFeedbackRequest, context: Any
) -> feedback_service_pb2.SubmitFeedbackResponse:
    flow: FeedbackRecording = recording  # type: ignore[assignment]
    return asyncio.run(FeedbackService(flow).SubmitFeedback(request, context))


def test_a_feedback_reaches_the_flow_canonical_with_its_time_left_its_result_answers() -> None:
    recording = Recording()
    request = feedback_service_pb2.SubmitFeedbackRequest(
        request_id=f"  {REQUEST_ID.upper()} ", view=1, click=1, acquisition=1
    )

    reply = _submit(recording, request, Deadline(3.0))

    ((feedback, time_left),) = recording.calls
    assert (feedback.request_id, feedback.flags, str(feedback.action)) == (
        REQUEST_ID,
        (1, 1, 1),
        "acquisition",
    )
    assert time_left == 3.0
    assert reply == feedback_service_pb2.SubmitFeedbackResponse(
        status=SUCCESS,
        request_id=REQUEST_ID,
        campaign_id="c1",
        user_action="acquisition",
        expenditure="0.05",
        duplicate=False,
    )


def test_a_call_without_a_deadline_passes_none_and_a_duplicate_is_marked() -> None:
    recording = Recording(duplicate=True)
    request = feedback_service_pb2.SubmitFeedbackRequest(request_id=REQUEST_ID, view=1)

    reply = _submit(recording, request, Deadline(None))

    assert recording.calls[0][1] is None
    assert reply.duplicate


def test_a_malformed_request_never_reaches_the_flow() -> None:
    recording = Recording()
    request = feedback_service_pb2.SubmitFeedbackRequest(request_id="not-a-uuid", view=1)

    with pytest.raises(ValidationError):
        _submit(recording, request, Deadline(None))
    assert recording.calls == []
