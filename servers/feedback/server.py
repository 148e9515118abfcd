"""FeedbackService server process: `python -m servers.feedback.server`.

Forks settings.feedback_workers workers (servers/workers.py) that share the port
(SO_REUSEPORT), so charging uses every core. Each worker serves SubmitFeedback (service.py
translates, recording.py runs it through the ledger) and runs its own outbox relay, which
publishes charged feedback to Kafka: relays claim with SKIP LOCKED (outbox.py), so several
never publish one event at once, and a worker's charges wake its own relay at once. The
ledger's transaction is what keeps a request id charged once across workers (docs/design.md
rule 6). A worker that dies is replaced while the others serve; the parent exports the
workers' merged metrics (servers/exporter.py).
"""

from __future__ import annotations

import sys
from zoneinfo import ZoneInfo

from adplatform.v1 import feedback_service_pb2_grpc

from servers import logs, runtime, settings, workers
from servers.feedback.ledger import Ledger
from servers.feedback.recording import FeedbackRecording
from servers.feedback.relay import Relay
from servers.feedback.service import FeedbackService
from servers.storage.db import engine


def build(config: settings.Settings) -> runtime.ServerSpec:
    """build assembles one worker: FeedbackService and its relay over one connection pool."""
    database = engine(config.database_url, pool_size=config.feedback_threads)
    relay = Relay(database, config.bootstrap_servers, config.feedback_topic)
    ledger = Ledger(database, ZoneInfo(config.timezone))
    recording = FeedbackRecording(ledger, relay.wake.set)
    servicer = FeedbackService(recording)

    async def close() -> None:
        await recording.close()
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
        reuse_port=True,
    )


def main() -> int:
    """main checks the configuration, then forks and supervises the workers."""
    config = settings.load()
    logs.configure("feedback-service", config.log_level)
    if config.feedback_workers < 1:
        raise SystemExit("feedback-service: feedback_workers must be at least 1")
    return workers.supervise_exporting(
        "feedback-service",
        config.feedback_workers,
        lambda: runtime.run("feedback-service", build, config),
        host=config.host,
        port=config.feedback_metrics_port,
        grace_seconds=config.shutdown_grace_seconds + 2,
    )


if __name__ == "__main__":
    sys.exit(main())
