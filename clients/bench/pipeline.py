"""`adplatform bench pipeline`: feedback writer throughput, Hive visibility latency, report time.

    adplatform bench pipeline [--events 1000000] [--trigger-seconds 10] [--json] [--keep]

Runs against the running stack's Kafka, metastore and MySQL, but never touches the stack's
own data, so the money invariant of its report still holds: the benchmark uses a topic
(``bench-feedback-<id>``), a Hive database (``bench_<id>``), a MySQL KPI table
(``bench_campaign_kpis``) and a run directory of its own, starts its own feedback writer on
them (the same code, as a second process) and removes all of it afterwards (unless --keep).

1. Produce: --events synthetic FeedbackEvents (clients/synthetic_feedback.py: real feed
   campaign ids, 90% views, 9% clicks, 1% acquisitions, spread over the last 10 minutes),
   batched through one idempotent producer.
2. Throughput: start the writer on the full topic; events/s = events archived / (end of the
   last batch - start of the first batch), from the writer's batch log.
3. Latency: produce --latency-events more at --latency-rate per second, each stamped with its
   produce time; an event is visible in Hive when the insert of its batch (``writer_batch``
   column) returned (``written_at`` in the batch log); p50/p95 of visible - stamped.
4. Report time: the report's Spark job (bill and every BI view) over the benchmark database.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from sqlalchemy import text

from clients.synthetic_feedback import feed_campaigns, synthetic_events
from deploy.stack.spark_jobs import FeedbackWriter
from servers.settings import Settings
from servers.storage.db import TOOL_TIMEOUT_SECONDS, engine
from spark import status

KPI_TABLE = "bench_campaign_kpis"
Say = Callable[[str], None]


def bench_settings(settings: Settings, bench_id: str, trigger_seconds: float) -> Settings:
    """bench_settings point a writer at the benchmark's own topic, database and run dir."""
    return settings.model_copy(
        update={
            "feedback_topic": f"bench-feedback-{bench_id}",
            "hive_database": f"bench_{bench_id}",
            "kpi_table": KPI_TABLE,
            "run_dir": settings.run_dir / "bench" / f"pipeline-{bench_id}",
            "spark_trigger_seconds": trigger_seconds,
        }
    )


def create_topic(settings: Settings) -> None:
    """create_topic makes the benchmark's topic with the platform's partition count."""
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    topic = NewTopic(
        settings.feedback_topic, num_partitions=settings.topic_partitions, replication_factor=1
    )
    admin.create_topics([topic])[settings.feedback_topic].result()


def produce(settings: Settings, values: Any, progress: Callable[[int], None]) -> int:
    """produce sends every (key, value) pair through one batched no-loss producer."""
    producer = Producer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 500_000,
        }
    )
    failures: list[str] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    sent = 0
    for key, value in values:
        while True:
            try:
                producer.produce(
                    settings.feedback_topic, key=key, value=value, on_delivery=delivered
                )
                break
            except BufferError:
                producer.poll(0.05)
        sent += 1
        if sent % 10_000 == 0:
            producer.poll(0)
            progress(10_000)
    if producer.flush(60) or failures:
        raise RuntimeError(f"events not delivered: {failures[:1]}")
    return sent


def wait_archived(settings: Settings, expected: int, timeout: float, say: Say) -> None:
    """wait_archived waits until the writer archived expected events and has no lag."""
    deadline = time.monotonic() + timeout
    reported = -1
    while time.monotonic() < deadline:
        record = status.read_status(settings) or {}
        inserted = int(record.get("totals", {}).get("inserted", 0))
        if inserted != reported:
            say(f"  archived {inserted:,} of {expected:,}")
            reported = inserted
        if inserted >= expected and status.lag(settings).records == 0:
            return
        time.sleep(1)
    raise RuntimeError(f"the writer did not archive {expected:,} events in {timeout:.0f} s")


def percentile(values: list[float], share: int) -> float:
    """percentile is the share-th percentile of values (inclusive method)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[share - 1]


def throughput(batches: list[dict[str, Any]]) -> tuple[float, float, int]:
    """throughput is (events/s, seconds, batches) over the batch log's archived batches."""
    busy = [b for b in batches if b["inserted"] and b.get("started_at")]
    if not busy:
        return 0.0, 0.0, 0
    seconds = busy[-1]["written_at"] - busy[0]["started_at"]
    inserted = sum(int(b["inserted"]) for b in busy)
    return inserted / seconds if seconds > 0 else 0.0, seconds, len(busy)


def _paced(settings: Settings, count: int, rate: float) -> float:
    """_paced produces count fresh events at rate per second; returns when they started."""
    campaigns = feed_campaigns(limit=200)
    started = time.time()
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "linger.ms": 1})
    for index in range(count):
        due = started + index / rate
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        (event,) = synthetic_events(1, campaigns, datetime.now(UTC), seed=index + 1_000_000)
        producer.produce(
            settings.feedback_topic, key=event.campaign_id.encode(), value=event.SerializeToString()
        )
        producer.poll(0)
    producer.flush(30)
    return started


def latencies(spark: Any, settings: Settings, since: float) -> list[float]:
    """latencies are the seconds from each latency event's stamp to its batch's visibility."""
    written = {int(b["batch_id"]): float(b["written_at"]) for b in status.read_batches(settings)}
    table = f"{settings.hive_database}.feedback_events"
    spark.catalog.refreshTable(table)
    rows = spark.sql(
        f"SELECT writer_batch, unix_micros(timestamp) AS stamp FROM {table} "
        f"WHERE timestamp >= timestamp_micros({int(since * 1_000_000)})"
    ).collect()
    return [written[int(r.writer_batch)] - r.stamp / 1_000_000 for r in rows]


def run(settings: Settings, args: argparse.Namespace, say: Say) -> dict[str, Any]:
    """run performs the benchmark and returns its numbers."""
    from spark.report import job
    from spark.session import hive_session

    bench_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    bench = bench_settings(settings, bench_id, args.trigger_seconds)
    writer = FeedbackWriter(bench)
    database = engine(settings.database_url, pool_size=1, timeout_seconds=TOOL_TIMEOUT_SECONDS)
    with database.begin() as connection:
        connection.execute(text(f"CREATE TABLE IF NOT EXISTS {KPI_TABLE} LIKE campaign_kpis"))
    create_topic(bench)
    spark = None
    try:
        say(f"producing {args.events:,} events to {bench.feedback_topic}")
        campaigns = feed_campaigns()
        start = datetime.now(UTC) - timedelta(minutes=10)
        events = synthetic_events(args.events, campaigns, start, spread=timedelta(minutes=10))
        begun = time.monotonic()
        pairs = ((e.campaign_id.encode(), e.SerializeToString()) for e in events)
        produce(bench, pairs, lambda n: None)
        produce_seconds = time.monotonic() - begun
        say(f"  produced in {produce_seconds:.1f} s; starting a writer on it")
        writer.start()
        writer.wait_ready()
        wait_archived(bench, args.events, args.timeout, say)
        rate, busy_seconds, batches = throughput(status.read_batches(bench))
        say(f"  {rate:,.0f} events/s over {batches} batches; measuring visibility latency")
        since = _paced(bench, args.latency_events, args.latency_rate)
        wait_archived(bench, args.events + args.latency_events, args.timeout, say)
        spark = hive_session(bench, "bench-pipeline")
        seen = latencies(spark, bench, since)
        say("timing the report over the benchmark's database")
        begun = time.monotonic()
        report = job.build(spark, bench)
        report_seconds = time.monotonic() - begun
        return {
            "events": args.events,
            "produce_seconds": round(produce_seconds, 1),
            "produce_events_per_second": round(args.events / produce_seconds),
            "writer_events_per_second": round(rate),
            "writer_seconds": round(busy_seconds, 1),
            "writer_batches": batches,
            "trigger_seconds": args.trigger_seconds,
            "max_offsets_per_trigger": bench.spark_max_offsets_per_trigger,
            "latency_events": len(seen),
            "latency_p50_seconds": round(percentile(seen, 50), 2),
            "latency_p95_seconds": round(percentile(seen, 95), 2),
            "report_seconds": round(report_seconds, 1),
            "report_impressions": report.totals.impressions,
        }
    finally:
        writer.process.stop()
        if not args.keep:
            say("removing the benchmark's topic, database, KPI rows and run directory")
            if spark is None:
                spark = hive_session(bench, "bench-pipeline")
            spark.sql(f"DROP DATABASE IF EXISTS {bench.hive_database} CASCADE")
            AdminClient({"bootstrap.servers": bench.bootstrap_servers}).delete_topics(
                [bench.feedback_topic]
            )
            with database.begin() as connection:
                connection.execute(text(f"DROP TABLE IF EXISTS {KPI_TABLE}"))
            shutil.rmtree(bench.run_dir, ignore_errors=True)
        if spark is not None:
            spark.stop()
        database.dispose()


def _pipeline(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=args.json)
    result = run(settings, args, console.log)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    table = Table("measure", "value", title="feedback pipeline benchmark", title_justify="left")
    table.add_row("events", f"{result['events']:,}")
    table.add_row("produce", f"{result['produce_events_per_second']:,} events/s")
    table.add_row(
        "writer throughput",
        f"{result['writer_events_per_second']:,} events/s "
        f"({result['writer_batches']} batches, {result['writer_seconds']} s)",
    )
    table.add_row(
        "Hive visibility latency",
        f"p50 {result['latency_p50_seconds']} s, p95 {result['latency_p95_seconds']} s "
        f"(trigger {result['trigger_seconds']} s, {result['latency_events']:,} events)",
    )
    table.add_row(
        "report time", f"{result['report_seconds']} s over {result['report_impressions']:,} events"
    )
    console.print(table)
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {number}")
    return number


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds `bench pipeline` to the bench area's sub-commands."""
    pipeline = commands.add_parser(
        "pipeline", help="feedback writer throughput, Hive visibility latency, report time"
    )
    pipeline.add_argument("--events", type=_positive, default=1_000_000, help="(1,000,000)")
    pipeline.add_argument("--trigger-seconds", type=float, default=10.0, help="writer trigger (10)")
    pipeline.add_argument("--latency-events", type=_positive, default=1000, help="(1,000)")
    pipeline.add_argument("--latency-rate", type=float, default=100.0, help="events/s (100)")
    pipeline.add_argument("--timeout", type=float, default=1800.0, help="seconds per wait")
    pipeline.add_argument("--json", action="store_true", help="machine-readable output")
    pipeline.add_argument("--keep", action="store_true", help="keep the topic, tables, run dir")
    pipeline.set_defaults(handler=_pipeline)
