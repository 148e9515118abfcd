"""The user feedback writer: Kafka user-feedback → Hive billing archive and KPIs, exactly once.

Run by the stack (`adplatform stack up` starts it once Kafka and the metastore are ready), or
by hand with the stack's settings in the environment:

    eval "$(.venv/bin/adplatform stack env)"
    .venv/bin/python -m spark.feedback_writer

It runs one Structured Streaming query in a Spark driver (spark/streams.py), checkpointed
under ``<run_dir>/spark/checkpoints/<hive database>/``: each micro-batch is decoded once,
archived (spark/billing_sink.py) and counted for the KPIs (spark/kpi_sink.py). Between
batches a thread of this process adds the counts to MySQL and Hive (``campaign-kpis``). Every
second it rewrites its status file (spark/status.py); SIGTERM stops the query cleanly, and
SIGKILL loses nothing: the next start replays the uncommitted batch, which replaces its own
earlier files, and counts already added are not added again.

A query that fails is started again from its checkpoint in this same driver, after a backoff
(spark/restarts.py); KPIs that cannot be added (MySQL away) are tried again on the same
backoff while the archive goes on: a KPI failure never stops the billing archive. The process
exits non-zero only when the Spark session is unusable or a query or the KPIs keep failing
past their budget; its supervisor then starts a fresh one, which resumes from the checkpoint.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import asdict
from types import FrameType
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from servers import logs
from servers.settings import Settings, load
from spark import kpi_sink
from spark.billing_sink import BatchOutcome
from spark.kpi_sink import KpiSink, kpi_database
from spark.restarts import RUNNING, QueryRestarts, cause
from spark.seen_ids import SeenIds
from spark.session import hive_session
from spark.status import (
    BILLING_QUERY,
    KPI_QUERY,
    append_line,
    batch_log,
    checkpoint_dir,
    seen_ids_file,
    status_file,
    write_json,
)
from spark.streams import start_writer, warm_up
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
        self.restarts = {name: QueryRestarts(name) for name in (BILLING_QUERY, KPI_QUERY)}

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
            self.restarts[BILLING_QUERY].progressed()
        append_line(batch_log(self.settings), record)
        log.info("archived batch %s", outcome.batch_id, extra=asdict(outcome))
        self.flush()

    def kpis(self, written: int) -> None:
        """kpis records that pending KPI counts were added (after a failure: running again)."""
        now = time.time()
        with self.lock:
            restarts = self.restarts[KPI_QUERY]
            if written == 0 and restarts.state == RUNNING:
                return  # nothing was pending
            self.last[KPI_QUERY] = {"campaign_minutes": written, "written_at": now}
            if restarts.state != RUNNING:
                restarts.started(now)
            restarts.progressed()

    def kpis_resumed(self) -> None:
        """kpis_resumed records that KPI additions are tried again after a failure's backoff."""
        with self.lock:
            restarts = self.restarts[KPI_QUERY]
            if restarts.state != RUNNING and restarts.due(time.time()):
                restarts.started(time.time())

    def kpis_waiting(self) -> bool:
        """kpis_waiting is true while failed KPI additions wait for their backoff to end."""
        with self.lock:
            restarts = self.restarts[KPI_QUERY]
            return restarts.state != RUNNING and not restarts.due(time.time())

    def started(self, name: str) -> None:
        """started records that a query runs (its first start or a restart)."""
        with self.lock:
            self.restarts[name].started(time.time())

    def failed(self, name: str, error: str) -> QueryRestarts:
        """failed records a query's failure; returns its restart plan."""
        with self.lock:
            self.restarts[name].failed(error, time.time())
            return self.restarts[name]

    def due(self, name: str) -> bool:
        """due is true when a failed query's backoff is over."""
        with self.lock:
            return self.restarts[name].due(time.time())

    def exhausted(self) -> list[str]:
        """exhausted names the queries that failed past their budget."""
        with self.lock:
            return [name for name, restarts in self.restarts.items() if restarts.exhausted]

    def flush(self, queries: Mapping[str, StreamingQuery | None] | None = None) -> None:
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
                    "queries": {name: r.record() for name, r in self.restarts.items()},
                }
            if queries is not None:
                record["active"] = {
                    name: query is not None and query.isActive for name, query in queries.items()
                }
            write_json(status_file(self.settings), record)


def _reason(error: BaseException | None) -> str:
    """_reason is a failure in one line: the error's class and its message."""
    if error is None:
        return "the query stopped"
    return cause(f"{type(error).__name__}: {error}")


class Queries:
    """Queries keeps the writer's streaming queries running, restarting one that fails.

    Each query is started by its own function; one that failed is stopped and, once its
    backoff (spark/restarts.py, kept in the journal) is over, started again from its
    checkpoint. The others are not touched.
    """

    def __init__(self, journal: Journal, starters: Mapping[str, Callable[[], StreamingQuery]]):
        self.journal = journal
        self.starters = dict(starters)
        self.running: dict[str, StreamingQuery | None] = dict.fromkeys(self.starters)

    def start(self) -> None:
        """start starts every query (a failure to start is raised: nothing runs yet)."""
        for name, starter in self.starters.items():
            self.running[name] = starter()
            self.journal.started(name)

    def watch(self) -> None:
        """watch notices failed queries and restarts those whose backoff is over."""
        for name, starter in self.starters.items():
            query = self.running[name]
            if query is not None:
                error = query.exception()
                if error is None and query.isActive:
                    continue
                self.running[name] = None
                with suppress(Exception):
                    query.stop()
                self._failed(name, _reason(error))
            if self.journal.due(name):
                log.info("restarting query %s from its checkpoint", name)
                try:
                    self.running[name] = starter()
                except Exception as error:
                    self._failed(name, _reason(error))
                else:
                    self.journal.started(name)

    def _failed(self, name: str, reason: str) -> None:
        plan = self.journal.failed(name, reason)
        if plan.exhausted:
            log.error(
                "query %s failed %s times in a row, giving up: %s", name, plan.consecutive, reason
            )
        else:
            wait = max((plan.restart_at or 0) - time.time(), 0)
            log.error("query %s failed, restarting in %.0f s: %s", name, wait, reason)

    def stop(self) -> None:
        """stop stops every running query."""
        for query in self.running.values():
            if query is not None:
                with suppress(Exception):
                    query.stop()


class Counting(threading.Thread):
    """Counting adds the archived batches' KPI counts between batches (see spark/kpi_sink.py).

    A thread of its own, so a MySQL that hangs or refuses holds back the KPIs only: each
    failure is recorded in the journal, and the next attempt waits out its backoff.
    """

    def __init__(self, journal: Journal, kpis: KpiSink, stopping: threading.Event) -> None:
        super().__init__(name="kpi-counting", daemon=True)
        self.journal = journal
        self.kpis = kpis
        self.stopping = stopping

    def run(self) -> None:
        while not self.stopping.wait(HEARTBEAT_SECONDS):
            self.once()

    def once(self) -> None:
        """once adds what is pending, unless failed additions still wait for their backoff."""
        if self.journal.kpis_waiting() or self.journal.exhausted():
            return
        self.journal.kpis_resumed()  # after a failure's backoff: running again, as a query would
        try:
            written = self.kpis.catch_up()
        except Exception as error:
            plan = self.journal.failed(KPI_QUERY, _reason(error))
            wait = max((plan.restart_at or 0) - time.time(), 0)
            log.error("KPIs not added, trying again in %.0f s: %s", wait, _reason(error))
        else:
            self.journal.kpis(written)


def session_usable(spark: SparkSession) -> bool:
    """session_usable is false once the driver's SparkContext stopped or its JVM is gone."""
    try:
        return not spark.sparkContext._jsc.sc().isStopped()
    except Exception:
        return False


def run(settings: Settings) -> int:
    """run keeps the query and the KPIs going until SIGTERM; non-zero when it cannot."""
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    journal = Journal(settings)
    spark = hive_session(settings, "feedback-writer")
    tables = Tables(settings.hive_database)
    tables.ensure(spark)
    warm_up(spark)
    database = kpi_database(settings)
    kpis = KpiSink(
        spark,
        tables,
        database,
        table_name=settings.kpi_table,
        directory=checkpoint_dir(settings, KPI_QUERY),
    )
    seen = SeenIds(seen_ids_file(settings), settings.spark_dedup_seconds)
    queries = Queries(
        journal,
        {
            BILLING_QUERY: lambda: start_writer(
                spark, settings, seen, kpis, on_write=journal.writing, on_batch=journal.billed
            ),
        },
    )
    counting = Counting(journal, kpis, stopping)
    failed = False
    try:
        queries.start()
        journal.started(KPI_QUERY)
        counting.start()
        journal.phase = "running"
        log.info(
            "feedback writer reading %s into %s", settings.feedback_topic, settings.hive_database
        )
        while not stopping.is_set():
            if not session_usable(spark):
                log.error("the Spark session is unusable")
                failed = True
                break
            queries.watch()
            exhausted = journal.exhausted()
            if exhausted:
                log.error("%s failed past their budget", ", ".join(exhausted))
                failed = True
            journal.flush(queries.running)
            if failed:
                break
            stopping.wait(HEARTBEAT_SECONDS)
    finally:
        stopping.set()
        queries.stop()
        if counting.is_alive():
            counting.join(timeout=kpi_sink.MYSQL_TIMEOUT_SECONDS)
        database.dispose()
        spark.stop()
        seen.close()
    return 1 if failed else 0


def main() -> None:
    """main runs the writer with the settings from the environment."""
    settings = load()
    logs.configure("feedback-writer", settings.log_level)
    raise SystemExit(run(settings))


if __name__ == "__main__":
    main()
