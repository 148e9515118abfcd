"""`adplatform bench pipeline`: writer throughput, CPU, visibility latency, batch trend, report.

    adplatform bench pipeline [--events 1000000] [--trigger-seconds S]
        [--light-rate 100] [--light-seconds 60] [--steady-rate 1000] [--steady-minutes 10]
        [--skip-steady] [--json] [--keep]

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
3. Light traffic: --light-rate events/s for --light-seconds, each stamped when it is sent;
   the writer's CPU (its whole process tree: the JVM and its Python workers) from before the
   first event until all are archived, per 1,000 archived events, and its average cores.
4. Steady run: --steady-rate events/s for --steady-minutes, paced the same way (the producer
   reports the rate it achieved); then the per-minute batch durations of the writer.
   For both paced phases an event is visible in Hive when the insert of its batch
   (``writer_batch`` column) returned (``written_at`` in the batch log); latency = visible -
   stamped, p50/p95/p99.
5. Report time: the report's Spark job (bill and every BI view) over the benchmark database.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from adplatform.v1 import events_pb2
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from sqlalchemy import text

from clients.bench.cpu import tree_cpu_seconds
from clients.synthetic_feedback import feed_campaigns, synthetic_events
from deploy.stack.spark_jobs import FeedbackWriter
from servers.settings import Settings
from servers.storage.db import TOOL_TIMEOUT_SECONDS, engine
from spark import status

KPI_TABLE = "bench_campaign_kpis"
LIGHT_SEED = 1_000_000  # seeds of the paced phases' chunks: request ids never repeat
STEADY_SEED = 2_000_000
SHARES = (50, 95, 99)
Say = Callable[[str], None]


def bench_settings(settings: Settings, bench_id: str, trigger_seconds: float | None) -> Settings:
    """bench_settings point a writer at the benchmark's own topic, database and run dir.

    The writer keeps the platform's trigger settings unless trigger_seconds is given.
    """
    update: dict[str, Any] = {
        "feedback_topic": f"bench-feedback-{bench_id}",
        "hive_database": f"bench_{bench_id}",
        "kpi_table": KPI_TABLE,
        "run_dir": settings.run_dir / "bench" / f"pipeline-{bench_id}",
    }
    if trigger_seconds is not None:
        update["spark_trigger_seconds"] = trigger_seconds
    return settings.model_copy(update=update)


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


def archived(settings: Settings) -> int:
    """archived is how many events the writer has inserted so far, by its status file."""
    record = status.read_status(settings) or {}
    return int(record.get("totals", {}).get("inserted", 0))


def wait_archived(settings: Settings, expected: int, timeout: float, say: Say) -> int:
    """wait_archived waits until the writer archived expected events and has no lag.

    Returns how many it archived in all.
    """
    deadline = time.monotonic() + timeout
    reported = -1
    while time.monotonic() < deadline:
        inserted = archived(settings)
        if inserted != reported:
            say(f"  archived {inserted:,} of {expected:,}")
            reported = inserted
        if inserted >= expected and status.lag(settings).records == 0:
            return inserted
        time.sleep(1)
    raise RuntimeError(f"the writer did not archive {expected:,} events in {timeout:.0f} s")


def percentile(values: list[float], share: int) -> float:
    """percentile is the share-th percentile of values (inclusive method)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[share - 1]


def percentiles(values: list[float]) -> dict[str, float]:
    """percentiles are p50, p95 and p99 of values, rounded to 10 ms ({} when there are none)."""
    if not values:
        return {}
    return {f"p{share}": round(percentile(values, share), 2) for share in SHARES}


def throughput(batches: list[dict[str, Any]]) -> tuple[float, float, int]:
    """throughput is (events/s, seconds, batches) over the batch log's archived batches."""
    busy = [b for b in batches if b["inserted"] and b.get("started_at")]
    if not busy:
        return 0.0, 0.0, 0
    seconds = busy[-1]["written_at"] - busy[0]["started_at"]
    inserted = sum(int(b["inserted"]) for b in busy)
    return inserted / seconds if seconds > 0 else 0.0, seconds, len(busy)


def cpu_per_thousand(cpu_seconds: float, events: int) -> float:
    """cpu_per_thousand is CPU-seconds per 1,000 events (0 when there were none)."""
    return cpu_seconds * 1000 / events if events > 0 else 0.0


def cores_used(cpu_seconds: float, wall_seconds: float) -> float:
    """cores_used is the average number of cores busy: CPU-seconds per wall-clock second."""
    return cpu_seconds / wall_seconds if wall_seconds > 0 else 0.0


def due_count(elapsed: float, rate: float, count: int) -> int:
    """due_count is how many of count events paced at rate per second are due after elapsed s.

    Event i is due i / rate seconds after the start: the first at once, none ever early.
    """
    if elapsed < 0:
        return 0
    return min(count, math.floor(elapsed * rate) + 1)


def pacing_deadline(seconds: float) -> float:
    """pacing_deadline is how long a phase planned for seconds may send: 10% (at least 5 s) more."""
    return seconds + max(5.0, seconds / 10)


def achieved_rate(sent: int, seconds: float, rate: float) -> float:
    """achieved_rate is events sent per second, seconds being from the start to the last send.

    The sent events fill sent slots of 1 / rate each, so a producer on time achieves rate.
    """
    return sent / (seconds + 1 / rate) if sent else 0.0


@dataclass(frozen=True, slots=True)
class Paced:
    """Paced is what one paced phase sent, and how well it kept its rate."""

    rate: float
    planned: int
    sent: int
    started: float  # epoch seconds, before the first event was stamped
    seconds: float  # from started to the last send
    max_late_seconds: float  # how far the latest event was sent behind its slot

    @property
    def achieved_rate(self) -> float:
        """achieved_rate is the events per second the producer really sent."""
        return achieved_rate(self.sent, self.seconds, self.rate)


def _fresh_events(rate: float, seed: int) -> Iterator[events_pb2.FeedbackEvent]:
    """_fresh_events yields events without end, generated one second's worth at a time."""
    campaigns = feed_campaigns(limit=200)
    size = max(1, math.ceil(rate))
    chunk = 0
    while True:
        yield from list(synthetic_events(size, campaigns, datetime.now(UTC), seed=seed + chunk))
        chunk += 1


def pace(settings: Settings, rate: float, seconds: float, seed: int) -> Paced:
    """pace sends rate x seconds fresh events at rate per second, each stamped as it is sent.

    Events are generated ahead in chunks, so generating is not what limits the rate; a
    producer that falls behind anyway stops at its deadline and shows in the rate achieved.
    """
    planned = max(1, round(rate * seconds))
    events = _fresh_events(rate, seed)
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "linger.ms": 5})
    failures: list[str] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    started = time.time()
    deadline = started + pacing_deadline(seconds)
    sent, last, late = 0, started, 0.0
    while sent < planned and time.time() < deadline:
        for _ in range(due_count(time.time() - started, rate, planned) - sent):
            event = next(events)
            stamp = time.time_ns()
            event.timestamp.FromNanoseconds(stamp)
            producer.produce(
                settings.feedback_topic,
                key=event.campaign_id.encode(),
                value=event.SerializeToString(),
                on_delivery=delivered,
            )
            last = stamp / 1e9
            late = max(late, last - (started + sent / rate))
            sent += 1
        producer.poll(0)
        pause = started + sent / rate - time.time()
        if pause > 0:
            time.sleep(pause)
    if producer.flush(60) or failures:
        raise RuntimeError(f"events not delivered: {failures[:1]}")
    return Paced(rate, planned, sent, started, last - started, late)


def visibility(
    stamped: Iterable[tuple[int, float]],
    batches: Iterable[dict[str, Any]],
    since: float,
    until: float = math.inf,
) -> list[float]:
    """visibility is, per event stamped in [since, until), the seconds until its batch's insert
    returned; stamped pairs are (writer batch, stamp), events of a batch not in the log are
    left out (their count shows beside the percentiles)."""
    written = {int(b["batch_id"]): float(b["written_at"]) for b in batches}
    return [
        written[batch] - stamp
        for batch, stamp in stamped
        if since <= stamp < until and batch in written
    ]


def stamped_rows(spark: Any, settings: Settings, since: float) -> list[tuple[int, float]]:
    """stamped_rows are (writer batch, stamp in epoch seconds) of archived events since since."""
    table = f"{settings.hive_database}.feedback_events"
    spark.catalog.refreshTable(table)
    rows = spark.sql(
        f"SELECT writer_batch, unix_micros(timestamp) AS stamp FROM {table} "
        f"WHERE timestamp >= timestamp_micros({int(since * 1_000_000)})"
    ).collect()
    return [(int(r.writer_batch), r.stamp / 1_000_000) for r in rows]


@dataclass(frozen=True, slots=True)
class BatchMinute:
    """BatchMinute is the writer's batches that started in one minute of the steady run."""

    minute: int  # 1 for the run's first minute
    batches: int
    events: int  # input rows
    median_seconds: float  # batch duration: written_at - started_at
    max_seconds: float


def minute_trend(
    batches: Iterable[dict[str, Any]], since: float, minutes: int
) -> list[BatchMinute]:
    """minute_trend groups the batches that started in minutes 1..minutes after since.

    Batches without input rows (idle triggers) or without a start are left out, and so is
    any minute in which no batch started.
    """
    durations: dict[int, list[float]] = {}
    events: dict[int, int] = {}
    for batch in batches:
        started = batch.get("started_at")
        if started is None or not batch.get("input_rows") or started < since:
            continue
        minute = int((started - since) // 60) + 1
        if minute > minutes:
            continue
        durations.setdefault(minute, []).append(float(batch["written_at"]) - float(started))
        events[minute] = events.get(minute, 0) + int(batch["input_rows"])
    return [
        BatchMinute(minute, len(each), events[minute], statistics.median(each), max(each))
        for minute, each in sorted(durations.items())
    ]


def trend_ratio(trend: list[BatchMinute], last: int) -> float | None:
    """trend_ratio is minute last's median batch duration over minute 1's (None: either missing)."""
    medians = {each.minute: each.median_seconds for each in trend}
    if 1 not in medians or last not in medians or medians[1] <= 0:
        return None
    return medians[last] / medians[1]


def paced_numbers(prefix: str, paced: Paced, latencies: list[float]) -> dict[str, Any]:
    """paced_numbers are a paced phase's numbers for the result, their keys led by prefix."""
    numbers: dict[str, Any] = {
        "rate": paced.rate,
        "planned_events": paced.planned,
        "sent_events": paced.sent,
        "achieved_rate": round(paced.achieved_rate, 1),
        "send_seconds": round(paced.seconds, 1),
        "max_late_seconds": round(paced.max_late_seconds, 3),
        "latency_events": len(latencies),
    } | {f"latency_{share}_seconds": value for share, value in percentiles(latencies).items()}
    return {f"{prefix}_{key}": value for key, value in numbers.items()}


def steady_trend_numbers(trend: list[BatchMinute], last: int) -> dict[str, Any]:
    """steady_trend_numbers are the per-minute batch trend and its last/first ratio."""
    ratio = trend_ratio(trend, last)
    return {
        "steady_last_minute": last,
        "steady_trend_ratio": None if ratio is None else round(ratio, 2),
        "steady_trend": [
            asdict(each)
            | {
                "median_seconds": round(each.median_seconds, 2),
                "max_seconds": round(each.max_seconds, 2),
            }
            for each in trend
        ],
    }


def _writer_cpu(writer: FeedbackWriter) -> tuple[int, float]:
    """_writer_cpu is the writer's PID and the CPU of its process tree so far."""
    pid = writer.process.pid()
    if pid is None:
        raise RuntimeError("the benchmark's writer is not running")
    return pid, tree_cpu_seconds(pid)


def light_traffic(
    bench: Settings, writer: FeedbackWriter, args: argparse.Namespace, expected: int, say: Say
) -> tuple[Paced, dict[str, Any]]:
    """light_traffic paces the light phase and measures the writer's CPU until it is archived."""
    say(f"light traffic: {args.light_rate:,.0f} events/s for {args.light_seconds:,.0f} s")
    before = archived(bench)
    pid, cpu_before = _writer_cpu(writer)
    begun = time.monotonic()
    paced = pace(bench, args.light_rate, args.light_seconds, LIGHT_SEED)
    say(f"  sent {paced.sent:,} of {paced.planned:,} at {paced.achieved_rate:,.1f} events/s")
    inserted = wait_archived(bench, expected + paced.sent, args.timeout, say) - before
    pid_after, cpu_after = _writer_cpu(writer)
    wall = time.monotonic() - begun
    if pid_after != pid:
        raise RuntimeError("the benchmark's writer restarted during light traffic")
    cpu = cpu_after - cpu_before
    return paced, {
        "light_archived_events": inserted,
        "light_wall_seconds": round(wall, 1),
        "light_writer_cpu_seconds": round(cpu, 1),
        "light_writer_cpu_seconds_per_1000_events": round(cpu_per_thousand(cpu, inserted), 3),
        "light_writer_cores": round(cores_used(cpu, wall), 2),
    }


def backlog(
    bench: Settings, writer: FeedbackWriter, args: argparse.Namespace, say: Say
) -> dict[str, Any]:
    """backlog produces --events, starts the writer on them and measures its throughput."""
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
    say(f"  {rate:,.0f} events/s over {batches} batches")
    return {
        "events": args.events,
        "produce_seconds": round(produce_seconds, 1),
        "produce_events_per_second": round(args.events / produce_seconds),
        "writer_events_per_second": round(rate),
        "writer_seconds": round(busy_seconds, 1),
        "writer_batches": batches,
        "trigger_seconds": bench.spark_trigger_seconds,
        "min_offsets_per_trigger": bench.spark_min_offsets_per_trigger,
        "max_trigger_delay_seconds": bench.spark_max_trigger_delay_seconds,
        "max_offsets_per_trigger": bench.spark_max_offsets_per_trigger,
    }


def steady_run(bench: Settings, args: argparse.Namespace, expected: int, say: Say) -> Paced:
    """steady_run paces the steady phase and waits until the writer archived it."""
    say(f"steady run: {args.steady_rate:,.0f} events/s for {args.steady_minutes:g} min")
    paced = pace(bench, args.steady_rate, args.steady_minutes * 60, STEADY_SEED)
    say(f"  sent {paced.sent:,} of {paced.planned:,} at {paced.achieved_rate:,.1f} events/s")
    wait_archived(bench, expected + paced.sent, args.timeout, say)
    return paced


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
        result = backlog(bench, writer, args, say)
        light, light_cpu = light_traffic(bench, writer, args, args.events, say)
        steady = None
        if not args.skip_steady:
            steady = steady_run(bench, args, args.events + light.sent, say)
        spark = hive_session(bench, "bench-pipeline")
        batch_log = status.read_batches(bench)
        stamped = stamped_rows(spark, bench, light.started)
        until = steady.started if steady is not None else math.inf
        seen = visibility(stamped, batch_log, light.started, until)
        result |= paced_numbers("light", light, seen) | light_cpu
        if steady is not None:
            seen = visibility(stamped, batch_log, steady.started)
            last = math.ceil(args.steady_minutes)
            result |= paced_numbers("steady", steady, seen)
            result |= steady_trend_numbers(minute_trend(batch_log, steady.started, last), last)
        say("timing the report over the benchmark's database")
        begun = time.monotonic()
        report = job.build(spark, bench)
        result["report_seconds"] = round(time.monotonic() - begun, 1)
        result["report_impressions"] = report.totals.impressions
        return result
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


def _latency(result: dict[str, Any], prefix: str) -> str:
    """_latency renders a paced phase's visibility percentiles."""
    shares = ", ".join(
        f"p{share} {result[f'{prefix}_latency_p{share}_seconds']} s"
        for share in SHARES
        if f"{prefix}_latency_p{share}_seconds" in result
    )
    events = result[f"{prefix}_latency_events"]
    return (
        f"{shares or 'no events seen'} (trigger {result['trigger_seconds']} s, a batch at "
        f"{result['min_offsets_per_trigger']:,} records or {result['max_trigger_delay_seconds']} s"
        f", {events:,} events)"
    )


def _paced_row(result: dict[str, Any], prefix: str) -> str:
    """_paced_row says what a paced phase planned and what its producer achieved."""
    sent, planned = result[f"{prefix}_sent_events"], result[f"{prefix}_planned_events"]
    achieved, rate = result[f"{prefix}_achieved_rate"], result[f"{prefix}_rate"]
    late = result[f"{prefix}_max_late_seconds"]
    return (
        f"{sent:,} of {planned:,} events at {achieved:,} events/s "
        f"(planned {rate:,}/s; latest send {late} s behind its slot)"
    )


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
    table.add_row("light traffic", _paced_row(result, "light"))
    table.add_row(
        "writer CPU, light traffic",
        f"{result['light_writer_cpu_seconds_per_1000_events']} CPU-s per 1,000 events "
        f"({result['light_writer_cpu_seconds']} CPU-s over {result['light_wall_seconds']} s: "
        f"{result['light_writer_cores']} cores; {result['light_archived_events']:,} archived)",
    )
    table.add_row("Hive visibility latency, light", _latency(result, "light"))
    trend = result.get("steady_trend")
    if trend is not None:
        ratio = result["steady_trend_ratio"]
        table.add_row("steady run", _paced_row(result, "steady"))
        table.add_row("Hive visibility latency, steady", _latency(result, "steady"))
        table.add_row(
            "batch duration trend",
            f"minute {result['steady_last_minute']} vs minute 1: "
            + ("n/a" if ratio is None else f"{ratio:.2f}"),
        )
    table.add_row(
        "report time", f"{result['report_seconds']} s over {result['report_impressions']:,} events"
    )
    console.print(table)
    if trend:
        minutes = Table(
            "minute",
            "batches",
            "events",
            "median s",
            "max s",
            title="steady run: writer batches by minute",
            title_justify="left",
        )
        for each in trend:
            minutes.add_row(
                str(each["minute"]),
                str(each["batches"]),
                f"{each['events']:,}",
                f"{each['median_seconds']:.2f}",
                f"{each['max_seconds']:.2f}",
            )
        console.print(minutes)
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {number}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return number


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds `bench pipeline` to the bench area's sub-commands."""
    pipeline = commands.add_parser(
        "pipeline",
        help="feedback writer throughput, CPU, Hive visibility latency, batch trend, report time",
    )
    add = pipeline.add_argument
    add("--events", type=_positive, default=1_000_000, help="backlog (1,000,000)")
    add("--trigger-seconds", type=_positive_float, help="writer trigger (the platform's)")
    add("--light-rate", type=_positive_float, default=100.0, help="light events/s (100)")
    add("--light-seconds", type=_positive_float, default=60.0, help="light traffic (60)")
    add("--steady-rate", type=_positive_float, default=1000.0, help="steady events/s (1,000)")
    add("--steady-minutes", type=_positive_float, default=10.0, help="steady run (10)")
    add("--skip-steady", action="store_true", help="no steady run (a short benchmark)")
    add("--timeout", type=_positive_float, default=1800.0, help="seconds per wait")
    add("--json", action="store_true", help="machine-readable output")
    add("--keep", action="store_true", help="keep the topic, tables, run dir")
    pipeline.set_defaults(handler=_pipeline)
