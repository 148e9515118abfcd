"""FeedbackService server process: `python -m servers.feedback.server`.

Serves SubmitFeedback (service.py translates, recording.py runs it through the ledger) and
runs the outbox relay that publishes charged feedback to Kafka.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from adplatform.v1 import feedback_service_pb2_grpc

from servers import runtime, settings
from servers.feedback.ledger import Ledger
from servers.feedback.recording import FeedbackRecording
from servers.feedback.relay import Relay
from servers.feedback.service import FeedbackService
from servers.storage.db import engine


def build(config: settings.Settings) -> runtime.ServerSpec:
    """build assembles FeedbackService and its relay over one connection pool."""
    database = engine(config.database_url, pool_size=config.feedback_threads)
    relay = Relay(database, config.bootstrap_servers, config.feedback_topic)
    ledger = Ledger(database, ZoneInfo(config.timezone))
    recording = FeedbackRecording(ledger, relay.wake.set, threads=config.feedback_threads)
    servicer = FeedbackService(recording)

    async def close() -> None:
        recording.close()
        database.dispose()

    service = runtime.Service(
        "adplatform.v1.FeedbackService",
        lambda server: feedback_service_pb2_grpc.add_FeedbackServiceServicer_to_server(
            servicer, server
        ),
    )
    return runtime.ServerSpec(
        "feedback-service",
        config.feedback_port,
        services=[service],
        background=[runtime.in_thread(relay.run, on_stop=relay.wake.set)],
        on_stop=[close],
        metrics_port=config.feedback_metrics_port,
    )


if __name__ == "__main__":
    runtime.run("feedback-service", build, settings.load())
