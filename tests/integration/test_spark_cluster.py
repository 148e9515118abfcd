"""The feedback writer on a standalone Spark cluster: a worker's or the master's death loses
and doubles no feedback.

A master and two workers (deploy/stack/spark_cluster.py) run on loopback with free ports, and
an isolated feedback writer (tests/integration/hive.py: its own topic, Hive database and run
directory, on the test stack's Kafka and metastore) runs its driver here and its executors on
the workers, its warehouse under a spark_storage_dir of the test's own. Synthetic feedback is
produced while batches run; one worker's process is SIGKILLed while its task reads a batch,
more is produced, then the master is SIGKILLed and more is produced: every request id must be
in the archive exactly once, the writer the same process, and the restarted master must know
the writer again. The start times and how long archiving stalled are printed (pytest -s).

Run it (the cluster marker is deselected by default): pytest -m cluster -s <this file>.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from clients.synthetic_feedback import fresh_campaigns, synthetic_events
from deploy.stack.net import free_port, port_in_use
from deploy.stack.part import Part
from deploy.stack.spark_cluster import SparkMaster, SparkWorker, master_state
from deploy.stack.spark_jobs import FeedbackWriter
from servers.settings import Settings
from spark import status
from tests.integration import hive
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

HOST = "127.0.0.1"
WORKERS = 2
# Two workers of one core and 512 MB each, beside the whole test stack on a shared machine.
WORKER = {"spark_worker_cores": 1, "spark_worker_memory": "512m"}
# 3,000 records a batch at most: the first round is batches 0 to 4, and the worker is killed
# while one of its tasks of batch 2 or later reads and decodes (batch 0 also starts the Python
# workers, batch 1 runs as usual).
FIRST_ROUND, SECOND_ROUND, LAST_ROUND = 15_000, 3000, 500
FIRST_KILLABLE_BATCH = 2
ARCHIVE_SECONDS = 300


@dataclass
class Cluster:
    """Cluster is the running master and workers, with the settings a driver uses to reach them."""

    settings: Settings
    master: SparkMaster
    workers: list[SparkWorker]
    start_seconds: float


def _worker_ui_ports() -> int:
    """_worker_ui_ports is a free port whose next ones are free too (worker i: base + i)."""
    for _ in range(50):
        base = free_port(HOST)
        if not any(port_in_use(HOST, base + i) for i in range(1, WORKERS)):
            return base
    raise AssertionError("no run of free ports for the workers' web UIs")


def _stop(parts: list[Part]) -> None:
    for part in reversed(parts):
        part.process.stop()


@pytest.fixture
def cluster(stack: Settings, tmp_path: Path) -> Iterator[Cluster]:
    master_port = free_port(HOST)
    settings = stack.model_copy(
        update={
            "run_dir": tmp_path / "cluster",
            "spark_master": f"spark://{HOST}:{master_port}",
            "spark_master_port": master_port,
            "spark_master_ui_port": free_port(HOST),
            "spark_worker_ui_port": _worker_ui_ports(),
            "spark_storage_dir": tmp_path / "shared",
        }
        | WORKER
    )
    master = SparkMaster(settings)
    workers = [SparkWorker(settings, index) for index in range(WORKERS)]
    parts: list[Part] = [master, *workers]
    begun = time.monotonic()
    try:
        for part in parts:
            part.start()
        for part in parts:
            part.wait_ready()
        yield Cluster(settings, master, workers, time.monotonic() - begun)
    finally:
        _stop(parts)


@pytest.fixture
def spark(stack: Settings) -> SparkSession:
    return hive.spark_session(stack)


def _events(count: int, seed: int) -> list[bytes]:
    campaigns = fresh_campaigns(4, prefix=f"cluster-{seed}")
    start = datetime.now(UTC)
    chosen = synthetic_events(count, campaigns, start, spread=timedelta(seconds=30), seed=seed)
    return [event.SerializeToString() for event in chosen]


def _archived(writer: FeedbackWriter, spark: SparkSession) -> tuple[int, int]:
    return hive.count(spark, f"{writer.settings.hive_database}.feedback_events")


def _all_archived(writer: FeedbackWriter, spark: SparkSession, expected: int) -> bool:
    rows, distinct = _archived(writer, spark)
    assert rows == distinct, f"{rows - distinct} request ids archived twice"
    return rows == expected


def _cores_used(cluster: Cluster) -> list[int]:
    """_cores_used is how many cores each live worker lends an application, by worker."""
    state = master_state(cluster.settings)
    return [int(w["coresused"]) for w in state["workers"] if w["state"] == "ALIVE"]


def _writer_app(cluster: Cluster) -> tuple[str, int] | None:
    """_writer_app is the writer's application as the master lists it: state and cores."""
    apps = master_state(cluster.settings)["activeapps"]
    found = [(a["state"], int(a["cores"])) for a in apps if a["name"] == "feedback-writer"]
    return found[0] if found else None


def _reading(writer: FeedbackWriter) -> int | None:
    """_reading is the batch being written (its tasks read Kafka on the executors), or None."""
    record = status.read_status(writer.settings) or {}
    last = (record.get("last") or {}).get(status.BILLING_QUERY, {})
    return None if "written_at" in last else last.get("batch_id")


def _running_tasks(worker: SparkWorker) -> set[str]:
    """_running_tasks are the tasks the worker's executors started and did not finish (logs)."""
    started: set[str] = set()
    finished: set[str] = set()
    for log in (worker.state_dir / "work").glob("app-*/*/stderr"):
        text = log.read_text(errors="replace")
        started |= set(re.findall(r"Running task .* \(TID (\d+)\)", text))
        finished |= set(re.findall(r"Finished task .* \(TID (\d+)\)", text))
    return started - finished


def _batch(writer: FeedbackWriter, batch_id: int) -> dict[str, Any] | None:
    """_batch is the batch log's record of an archived batch, None before it is archived."""
    found = [b for b in status.read_batches(writer.settings) if b["batch_id"] == batch_id]
    return found[-1] if found else None


def _took(batch: dict[str, Any]) -> float:
    """_took is a batch's time from the start of its write to archived, in seconds."""
    return round(float(batch["written_at"]) - float(batch["started_at"]), 1)


def test_a_worker_or_the_master_killed_loses_and_doubles_no_feedback(
    stack: Settings, cluster: Cluster, spark: SparkSession, tmp_path: Path
) -> None:
    print(f"\nmaster and {WORKERS} workers ready in {cluster.start_seconds:.1f} s")
    on_cluster = {
        "spark_master": cluster.settings.spark_master,
        "spark_storage_dir": cluster.settings.spark_storage_dir,
    }
    writer = hive.isolated_writer(stack, tmp_path / "driver", **on_cluster, **WORKER)
    begun = time.monotonic()
    writer.start()
    try:
        writer.wait_ready()
        print(f"writer ready on the cluster in {time.monotonic() - begun:.1f} s")
        # Its executors run on the workers: one core of each lent to the writer.
        eventually(lambda: _cores_used(cluster) == [1] * WORKERS, timeout=60, interval=0.5)
        writer_pid = writer.process.pid()
        database = writer.settings.hive_database
        assert (cluster.settings.spark_storage_dir / "warehouse" / f"{database}.db").is_dir()

        produced = hive.produce(writer.settings, _events(FIRST_ROUND, seed=1))
        victim = cluster.workers[0]
        victim_pid = victim.process.pid()
        assert victim_pid is not None
        eventually(
            lambda: (_reading(writer) or 0) >= FIRST_KILLABLE_BATCH and _running_tasks(victim),
            timeout=ARCHIVE_SECONDS,
            interval=0.05,
        )
        killed_at = time.time()
        os.kill(victim_pid, signal.SIGKILL)  # the worker's JVM; its executor follows it
        batch_id = _reading(writer)
        assert batch_id is not None
        produced += hive.produce(writer.settings, _events(SECOND_ROUND, seed=2))
        eventually(
            lambda: _all_archived(writer, spark, produced), timeout=ARCHIVE_SECONDS, interval=1
        )
        interrupted = _batch(writer, batch_id)
        assert interrupted is not None
        print(
            f"batch {batch_id}, whose tasks ran when the worker was killed, was archived "
            f"{float(interrupted['written_at']) - killed_at:.1f} s after the kill and took "
            f"{_took(interrupted)} s; all batches took "
            f"{[_took(b) for b in status.read_batches(writer.settings)]} s"
        )

        # Supervision starts the worker again; the writer runs on, and gets its core back.
        eventually(
            lambda: victim.process.pid() not in (None, victim_pid) and victim.healthy(),
            timeout=120,
            interval=0.5,
        )
        produced += hive.produce(writer.settings, _events(LAST_ROUND, seed=3))
        eventually(
            lambda: _all_archived(writer, spark, produced), timeout=ARCHIVE_SECONDS, interval=1
        )

        # The master's death stops nothing (executors talk to the driver), and the restarted
        # master recovers the writer with both workers' cores.
        master_pid = cluster.master.process.pid()
        assert master_pid is not None
        os.kill(master_pid, signal.SIGKILL)
        killed = time.monotonic()
        produced += hive.produce(writer.settings, _events(LAST_ROUND, seed=4))
        eventually(
            lambda: _all_archived(writer, spark, produced), timeout=ARCHIVE_SECONDS, interval=1
        )
        eventually(lambda: _writer_app(cluster) == ("RUNNING", WORKERS), timeout=120, interval=0.5)
        print(f"master restarted and recovered the writer in {time.monotonic() - killed:.1f} s")

        assert writer.process.pid() == writer_pid
        queries = (status.read_status(writer.settings) or {}).get("queries", {})
        print(f"writer's queries after the kills: {queries}")
    finally:
        hive.remove(writer, spark)
