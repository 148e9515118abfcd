"""FeedbackService server process: `python -m servers.feedback.server`."""

from __future__ import annotations

import grpc
from adplatform.v1 import feedback_service_pb2_grpc

from servers import runtime, settings


class FeedbackServicer(feedback_service_pb2_grpc.FeedbackServiceServicer):
    """FeedbackServicer answers devices (charging lands with the feedback service)."""

    async def SubmitFeedback(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """SubmitFeedback is not built yet."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "feedback is not built yet")


def build(config: settings.Settings) -> runtime.ServerSpec:
    """build assembles the FeedbackService server."""
    servicer = FeedbackServicer()
    service = runtime.Service(
        "adplatform.v1.FeedbackService",
        lambda server: feedback_service_pb2_grpc.add_FeedbackServiceServicer_to_server(
            servicer, server
        ),
    )
    return runtime.ServerSpec("feedback-service", config.feedback_port, services=[service])


if __name__ == "__main__":
    runtime.run("feedback-service", build, settings.load())
