"""The billing archive takes each request id once at a batch's own cost, however old the copy.

Each test runs an isolated writer (tests/integration/hive.py) that starts a batch for every
record (no trigger delay), so "an hour of batches" takes minutes, not an hour:

- a copy republished an hour's worth of batches after the original (360 batches, the old
  10 s trigger's hour) is found by the index of ids (spark/seen_ids.py);
- a copy republished after the index's window is over is found in the archive itself, since
  it was published long after its event (spark/billing_sink.py);
- a replaced checkpoint resumes after the highest offsets the archive holds, so nothing is
  archived twice and its new batches never take an older checkpoint's files for their own.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from adplatform.v1 import events_pb2
from pyspark.sql import SparkSession

from clients.synthetic_feedback import fresh_campaigns, synthetic_events
from deploy.stack.spark_jobs import FeedbackWriter
from servers.settings import Settings
from spark import status
from spark.status import BILLING_QUERY, checkpoint_dir
from tests.integration import hive
from tests.polling import eventually

pytestmark = pytest.mark.integration

HOUR_OF_BATCHES = 360
EVERY_RECORD = {"spark_trigger_seconds": 0.0, "spark_min_offsets_per_trigger": 1}


@pytest.fixture(scope="module")
def spark(stack: Settings) -> SparkSession:
    return hive.spark_session(stack)


def _writer(
    stack: Settings,
    spark: SparkSession,
    tmp_path_factory: pytest.TempPathFactory,
    **settings: object,
) -> Iterator[FeedbackWriter]:
    yield from hive.running_writer(
        stack, spark, tmp_path_factory.mktemp("writer"), **(EVERY_RECORD | settings)
    )


def _events(
    count: int, seed: int, ago: timedelta = timedelta(0), campaigns: int = 2
) -> list[bytes]:
    chosen = fresh_campaigns(campaigns, prefix=f"dedup-{seed}")
    start = datetime.now(UTC) - ago
    events = synthetic_events(count, chosen, start, spread=timedelta(seconds=1), seed=seed)
    return [event.SerializeToString() for event in events]


def _request_id(value: bytes) -> str:
    return events_pb2.FeedbackEvent.FromString(value).request_id


def _archived(writer: FeedbackWriter, spark: SparkSession, request_ids: list[str]) -> int:
    table = f"{writer.settings.hive_database}.feedback_events"
    where = "request_id IN (" + ", ".join(f"'{r}'" for r in request_ids) + ")"
    return hive.count(spark, table, where)[0]


def _batches(writer: FeedbackWriter) -> int:
    return len(status.read_batches(writer.settings))


def _one_batch(writer: FeedbackWriter, value: bytes) -> None:
    """_one_batch sends one record and waits until a batch archived it."""
    before = _batches(writer)
    hive.produce(writer.settings, [value])
    eventually(lambda: _batches(writer) > before, timeout=60, interval=0.02)


@pytest.fixture
def fast_writer(
    stack: Settings, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FeedbackWriter]:
    # One record a batch (the records all of one campaign, so of one Kafka partition): the
    # hour's batches run back to back, with no round trip between.
    yield from _writer(stack, spark, tmp_path_factory, spark_max_offsets_per_trigger=1)


def test_a_copy_an_hour_of_batches_later_is_archived_once(
    fast_writer: FeedbackWriter, spark: SparkSession
) -> None:
    (original,) = _events(1, seed=11)
    _one_batch(fast_writer, original)
    first = _batches(fast_writer)
    deadline = time.monotonic() + 400
    for seed in range(12, 20):  # more records while a batch took two: at most a few rounds
        missing = HOUR_OF_BATCHES - (_batches(fast_writer) - first)
        if missing <= 0 or time.monotonic() > deadline:
            break
        hive.produce(fast_writer.settings, _events(missing, seed=seed, campaigns=1))
        eventually(
            lambda: status.lag(fast_writer.settings).records == 0,
            timeout=max(deadline - time.monotonic(), 1),
            interval=0.5,
        )
    assert _batches(fast_writer) - first >= HOUR_OF_BATCHES
    _one_batch(fast_writer, original)  # the relay republishing, byte for byte
    assert _archived(fast_writer, spark, [_request_id(original)]) == 1
    last = status.read_batches(fast_writer.settings)[-1]
    assert (last["inserted"], last["duplicates"]) == (0, 1)
    assert set(last["seconds"]) <= {"compact", "read", "seen", "late", "archive", "kpis"}


@pytest.fixture
def short_window_writer(
    stack: Settings, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FeedbackWriter]:
    yield from _writer(stack, spark, tmp_path_factory, spark_dedup_seconds=4)


def test_a_copy_after_the_window_is_found_in_the_archive(
    short_window_writer: FeedbackWriter, spark: SparkSession
) -> None:
    writer = short_window_writer
    old, recent = _events(1, seed=21, ago=timedelta(hours=1))[0], _events(1, seed=22)[0]
    _one_batch(writer, old)  # published an hour after its event: checked against the archive
    _one_batch(writer, recent)
    ids = [_request_id(old), _request_id(recent)]
    assert _archived(writer, spark, ids) == 2
    window_over = time.monotonic() + 3 * writer.settings.spark_dedup_seconds
    fillers = iter(_events(200, seed=23))
    while time.monotonic() < window_over:  # batches go by; the index forgets both ids
        _one_batch(writer, next(fillers))
    _one_batch(writer, old)
    _one_batch(writer, recent)
    assert _archived(writer, spark, ids) == 2
    copies = status.read_batches(writer.settings)[-2:]
    assert [(b["inserted"], b["duplicates"]) for b in copies] == [(0, 1), (0, 1)]
    assert all("late" in b["seconds"] for b in copies)  # found by the archive, not the index


@pytest.fixture
def writer(
    stack: Settings, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FeedbackWriter]:
    yield from _writer(stack, spark, tmp_path_factory)


def test_a_replaced_checkpoint_resumes_after_the_archive(
    writer: FeedbackWriter, spark: SparkSession
) -> None:
    before = _events(50, seed=31)
    hive.produce(writer.settings, before)
    ids = [_request_id(v) for v in before]
    eventually(lambda: _archived(writer, spark, ids) == 50, timeout=120, interval=1)
    writer.process.stop()
    shutil.rmtree(checkpoint_dir(writer.settings, BILLING_QUERY))  # an operator starts afresh
    writer.start()
    writer.wait_ready()
    after = _events(30, seed=32)
    hive.produce(writer.settings, after)
    new = [_request_id(v) for v in after]
    eventually(lambda: _archived(writer, spark, new) == 30, timeout=120, interval=1)
    assert _archived(writer, spark, ids) == 50  # none of the earlier events came again
    table = f"{writer.settings.hive_database}.feedback_events"
    lineages = spark.sql(f"SELECT DISTINCT input_file_name() AS f FROM {table}").collect()
    assert len({row.f.rsplit("/", 1)[1].split("-")[1] for row in lineages}) == 2


@pytest.fixture
def compacting_writer(
    stack: Settings, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FeedbackWriter]:
    yield from _writer(stack, spark, tmp_path_factory, spark_compact_after_seconds=1.0)


def _location(spark: SparkSession, table: str, stamp: datetime) -> str:
    rows = spark.sql(
        f"DESCRIBE FORMATTED {table} PARTITION (dt='{stamp:%Y-%m-%d}', hr='{stamp:%H}')"
    ).collect()
    return next(str(row.data_type) for row in rows if row.col_name == "Location")


def test_an_hour_that_ended_is_rewritten_as_one_file_with_every_event_once(
    compacting_writer: FeedbackWriter, spark: SparkSession
) -> None:
    writer = compacting_writer
    table = f"{writer.settings.hive_database}.feedback_events"
    ago = timedelta(hours=3)
    hour = (datetime.now(UTC) - ago).replace(minute=0, second=0, microsecond=0)
    events = _events(6, seed=41, ago=ago)
    for value in events[:5]:  # five batches, five files in that hour's partition
        _one_batch(writer, value)
    before = _location(spark, table, hour)
    ids = [_request_id(v) for v in events]
    values = (
        "SELECT request_id, expenditure, auction_cpm, timestamp, campaign_start_time, "
        f"archived_at, writer_batch, kafka_offset FROM {table} WHERE {_where(ids[:5])}"
    )
    spark.catalog.refreshTable(table)
    written = sorted(spark.sql(values).collect())
    time.sleep(writer.settings.spark_compact_after_seconds)  # the hour settles (a test clock)
    _one_batch(writer, _events(1, seed=42)[0])  # the next batch compacts it first
    after = _location(spark, table, hour)
    assert after != before and ".c" in after.rsplit("/", 1)[1]
    listed = spark.sql(
        f"SELECT DISTINCT input_file_name() AS f FROM {table} WHERE hr = "
        f"'{hour:%H}' AND dt = '{hour:%Y-%m-%d}'"
    ).collect()
    assert len(listed) == 1 and listed[0].f.rsplit("/", 1)[1].startswith("c")
    assert sorted(spark.sql(values).collect()) == written  # every value, to the microsecond
    _one_batch(writer, events[0])  # a copy, found in the compacted hour
    _one_batch(writer, events[5])  # a late event for that hour, appended beside the file
    assert hive.count(spark, table, _where(ids)) == (6, 6)
    assert _location(spark, table, hour) == after


def _where(request_ids: list[str]) -> str:
    return "request_id IN (" + ", ".join(f"'{r}'" for r in request_ids) + ")"
