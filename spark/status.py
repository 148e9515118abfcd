"""Where the feedback writer keeps its state, its status file, and how far behind Kafka it is.

The writer's checkpoints live under ``<run_dir>/spark/checkpoints/<hive database>/`` (on a
cluster, ``<spark_storage_dir>/spark/...``, which every worker reaches); Spark
commits a micro-batch by writing ``commits/<batch>`` after the sink returned, and
``offsets/<batch>`` holds the Kafka end offsets of that batch. The committed offsets of the
newest commit are therefore what the archive holds, and lag = Kafka's end offsets minus them:
readable without the writer running, and without Spark.

The writer rewrites ``status.json`` every second (its heartbeat, read by the stack's health
check; its ``queries`` say which query is restarting or failed, and how often it restarted)
and appends one line per archived batch to ``batches.jsonl`` (read by the benchmark).
No Spark import here: the stack launcher and the report read these files.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from servers.messaging import probes
from servers.settings import Settings

BILLING_QUERY = "feedback-events"
KPI_QUERY = "campaign-kpis"
TROUBLE_CHARS = 120  # of a failed query's error, in `stack status`


def spark_dir(settings: Settings) -> Path:
    """spark_dir holds what the platform's Spark jobs keep: checkpoints and the writer's status.

    On spark_storage_dir when set (a cluster's storage that every Spark worker and client
    reaches: executors keep the streaming state there), else under the run directory.
    """
    return (settings.spark_storage_dir or settings.run_dir) / "spark"


def checkpoint_dir(settings: Settings, query: str) -> Path:
    """checkpoint_dir is a streaming query's checkpoint, per Hive database so tables never mix."""
    return spark_dir(settings) / "checkpoints" / settings.hive_database / query


def lineage(checkpoint: Path) -> str | None:
    """lineage is a short name of a streaming checkpoint: its query id, None before the start.

    Batch ids count from 0 in each checkpoint; files and KPI additions named by a batch also
    carry the lineage, so a replaced checkpoint never mistakes an old batch for its own.
    """
    try:
        record = json.loads((checkpoint / "metadata").read_text())
    except (OSError, ValueError):
        return None
    identity = str(record.get("id", "")) if isinstance(record, dict) else ""
    return identity.replace("-", "")[:16] or None


def seen_ids_file(settings: Settings) -> Path:
    """seen_ids_file is the index of recently archived request ids (spark/seen_ids.py)."""
    return spark_dir(settings) / "checkpoints" / settings.hive_database / "request-ids.sqlite3"


def writer_dir(settings: Settings) -> Path:
    """writer_dir holds the writer's status file and batch log."""
    return spark_dir(settings) / "feedback-writer" / settings.hive_database


def status_file(settings: Settings) -> Path:
    """status_file is the writer's heartbeat: rewritten every second while it runs."""
    return writer_dir(settings) / "status.json"


def batch_log(settings: Settings) -> Path:
    """batch_log has one JSON line per archived micro-batch."""
    return writer_dir(settings) / "batches.jsonl"


def write_json(path: Path, record: dict[str, Any]) -> None:
    """write_json replaces path atomically, so a reader never sees half a file.

    Each write goes through a temporary file of its own: writers in several threads (the
    writer's heartbeat and its batch callbacks) never move one another's file away.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(json.dumps(record, default=str))
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise


def append_line(path: Path, record: dict[str, Any]) -> None:
    """append_line adds one JSON line to path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(record, default=str) + "\n")


def read_status(settings: Settings) -> dict[str, Any] | None:
    """read_status is the writer's last status, or None when it never wrote one."""
    try:
        record: dict[str, Any] = json.loads(status_file(settings).read_text())
    except (OSError, ValueError):
        return None
    return record


def query_troubles(record: dict[str, Any] | None, now: float | None = None) -> list[str]:
    """query_troubles says, for each query that restarted or is not running, how it stands.

    An empty list: every query runs and none ever failed (or the writer wrote no status).
    """
    now = time.time() if now is None else now
    troubles = []
    for name, query in ((record or {}).get("queries") or {}).items():
        state, restarts = query.get("state", "running"), int(query.get("restarts", 0))
        if state == "running" and not restarts:
            continue
        said = f"{name} {state}"
        if state == "restarting" and query.get("restart_at") is not None:
            said += f" in {max(float(query['restart_at']) - now, 0):.0f} s"
        said += f" ({restarts} restart{'' if restarts == 1 else 's'}"
        if state != "running" and query.get("last_error"):
            said += f": {str(query['last_error'])[:TROUBLE_CHARS]}"
        troubles.append(said + ")")
    return troubles


def status_age(settings: Settings) -> float | None:
    """status_age is how many seconds ago the writer last wrote its status (None: never)."""
    try:
        return time.time() - status_file(settings).stat().st_mtime
    except OSError:
        return None


def read_batches(settings: Settings) -> list[dict[str, Any]]:
    """read_batches lists the batch log's records, oldest first."""
    try:
        lines = batch_log(settings).read_text().splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def _numbered(directory: Path) -> list[int]:
    """_numbered lists the batch ids of a checkpoint log directory (files named by number)."""
    try:
        return sorted(int(entry.name) for entry in directory.iterdir() if entry.name.isdigit())
    except OSError:
        return []


def committed_offsets(checkpoint: Path, topic: str) -> dict[int, int]:
    """committed_offsets are the topic's end offsets of the newest committed batch ({} if none)."""
    commits = _numbered(checkpoint / "commits")
    if not commits:
        return {}
    lines = (checkpoint / "offsets" / str(commits[-1])).read_text().splitlines()
    for line in lines[2:]:  # "v1", the batch metadata, then one line per source
        if line.strip() and line.strip() != "-":
            offsets: dict[str, dict[str, int]] = json.loads(line)
            if topic in offsets:
                return {int(p): int(o) for p, o in offsets[topic].items()}
    return {}


def end_offsets(bootstrap_servers: str, topic: str) -> dict[int, tuple[int, int]]:
    """end_offsets are each partition's (earliest, next) offsets on the broker."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": "adplatform-lag-probe",
            "logger": probes.QUIET,  # a broker down raises below; `stack status` says so
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=5)
        partitions = sorted(metadata.topics[topic].partitions)
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
            for p in partitions
        }
    finally:
        consumer.close()


@dataclass(frozen=True)
class Lag:
    """Lag is how many records of the topic the archive has not committed yet."""

    records: int
    partitions: dict[int, int]
    committed_batch: int | None


def lag(settings: Settings, query: str = BILLING_QUERY) -> Lag:
    """lag compares Kafka's end offsets with the writer's committed offsets."""
    checkpoint = checkpoint_dir(settings, query)
    committed = committed_offsets(checkpoint, settings.feedback_topic)
    behind = {}
    for partition, (low, high) in end_offsets(
        settings.bootstrap_servers, settings.feedback_topic
    ).items():
        behind[partition] = max(high - max(committed.get(partition, low), low), 0)
    commits = _numbered(checkpoint / "commits")
    return Lag(sum(behind.values()), behind, commits[-1] if commits else None)
