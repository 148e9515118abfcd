"""The user feedback writer: Kafka user-feedback → Hive billing archive and KPIs, exactly once.

Run by the stack (`adplatform stack up` starts it once Kafka and the metastore are ready), or
by hand with the stack's settings in the environment:

    eval "$(.venv/bin/adplatform stack env)"
    .venv/bin/python -m spark.feedback_writer

It runs two Structured Streaming queries in one Spark driver (spark/streams.py): the billing
archive (spark/billing_sink.py) and the per-minute campaign KPIs (spark/kpi_sink.py), each
checkpointed under ``<run_dir>/spark/checkpoints/<hive database>/`` and triggered every
ADPLATFORM_SPARK_TRIGGER_SECONDS (default 10 s). Every second it rewrites its status file
(spark/status.py); SIGTERM stops both queries cleanly, and SIGKILL loses nothing: the next
start replays the uncommitted batch and the idempotent sinks write nothing twice.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import asdict
from types import FrameType
from typing import Any

from pyspark.sql.streaming.query import StreamingQuery

from servers import logs
from servers.settings import Settings, load
from spark.billing_sink import BatchOutcome
from spark.session import hive_session
from spark.status import (
    BILLING_QUERY,
    KPI_QUERY,
    append_line,
    batch_log,
    status_file,
    write_json,
)
from spark.streams import start_billing, start_kpis
from spark.tables import Tables

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 1.0


class Journal:
    """Journal remembers what the queries did and writes the status file and batch log."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.flushing = threading.Lock()  # the heartbeat and batch callbacks all flush
        self.started_at = time.time()
        self.phase = "starting"
        self.totals = {"input_rows": 0, "inserted": 0, "duplicates": 0, "quarantined": 0}
        self.last: dict[str, dict[str, Any]] = {}

    def writing(self, batch_id: int) -> None:
        """writing records that the archive started writing a batch (then flushes the status)."""
        with self.lock:
            self.phase = f"writing batch {batch_id}"
            self.last[BILLING_QUERY] = {"batch_id": batch_id, "writing_at": time.time()}
        self.flush()

    def billed(self, outcome: BatchOutcome) -> None:
        """billed records an archived batch in the totals and the batch log."""
        with self.lock:
            started = self.last.get(BILLING_QUERY, {}).get("writing_at")
        record = asdict(outcome) | {"started_at": started, "written_at": time.time()}
        with self.lock:
            self.phase = "running"
            for name in self.totals:
                self.totals[name] += int(getattr(outcome, name))
            self.last[BILLING_QUERY] = record
        append_line(batch_log(self.settings), record)
        log.info("archived batch %s", outcome.batch_id, extra=asdict(outcome))
        self.flush()

    def kpis(self, batch_id: int, written: int) -> None:
        """kpis records a KPI batch."""
        with self.lock:
            self.last[KPI_QUERY] = {
                "batch_id": batch_id,
                "campaign_minutes": written,
                "written_at": time.time(),
            }

    def flush(self, queries: list[StreamingQuery] | None = None) -> None:
        """flush rewrites the status file (one flush at a time: the newest record is left)."""
        with self.flushing:
            with self.lock:
                record: dict[str, Any] = {
                    "pid": os.getpid(),
                    "updated_at": time.time(),
                    "started_at": self.started_at,
                    "phase": self.phase,
                    "topic": self.settings.feedback_topic,
                    "database": self.settings.hive_database,
                    "totals": dict(self.totals),
                    "last": {name: dict(value) for name, value in self.last.items()},
                }
            if queries is not None:
                record["active"] = {query.name: query.isActive for query in queries}
            write_json(status_file(self.settings), record)


def run(settings: Settings) -> int:
    """run starts both queries and keeps the status fresh until SIGTERM or a query fails."""
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    journal = Journal(settings)
    spark = hive_session(settings, "feedback-writer")
    Tables(settings.hive_database).ensure(spark)
    queries = [
        start_billing(spark, settings, journal.writing, journal.billed),
        start_kpis(spark, settings, journal.kpis),
    ]
    journal.phase = "running"
    log.info("feedback writer reading %s into %s", settings.feedback_topic, settings.hive_database)
    failed: BaseException | None = None
    try:
        while not stopping.is_set():
            journal.flush(queries)
            for query in queries:
                error = query.exception()
                if error is not None or not query.isActive:
                    failed = error or RuntimeError(f"query {query.name} stopped")
            if failed is not None:
                log.error("a streaming query failed: %s", failed)
                break
            stopping.wait(HEARTBEAT_SECONDS)
    finally:
        for query in queries:
            query.stop()
        spark.stop()
    return 1 if failed is not None else 0


def main() -> None:
    """main runs the writer with the settings from the environment."""
    settings = load()
    logs.configure("feedback-writer", settings.log_level)
    raise SystemExit(run(settings))


if __name__ == "__main__":
    main()
