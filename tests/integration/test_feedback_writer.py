"""The streaming feedback writer with real Kafka, Spark and Hive: every event archived once.

Writer-only tests run an isolated writer (tests/integration/hive.py) fed synthetic events;
the real path (campaign → served ad → FeedbackService → outbox → Kafka → the stack's own
writer → Hive) is covered at the end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from adplatform.v1 import feedback_service_pb2
from pyspark.sql import SparkSession

from clients import channels
from clients.synthetic_feedback import fresh_campaigns, synthetic_events
from deploy.stack.process import alive
from deploy.stack.spark_jobs import FeedbackWriter
from servers.settings import Settings
from spark import status
from tests.integration import campaigns, hive, served
from tests.polling import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def spark(stack: Settings) -> SparkSession:
    return hive.spark_session(stack)


@pytest.fixture(scope="module")
def writer(
    stack: Settings, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FeedbackWriter]:
    yield from hive.running_writer(stack, spark, tmp_path_factory.mktemp("writer"))


def _billing(writer: FeedbackWriter) -> str:
    return f"{writer.settings.hive_database}.feedback_events"


def _events(count: int, seed: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(minutes=1)
    chosen = fresh_campaigns(3, prefix=f"writer-{seed}")
    events = synthetic_events(count, chosen, start, spread=timedelta(seconds=50), seed=seed)
    return [event.SerializeToString() for event in events]


def _campaign_filter(values: list[bytes]) -> str:
    from adplatform.v1 import events_pb2

    ids = {events_pb2.FeedbackEvent.FromString(v).campaign_id for v in values}
    return "campaign_id IN (" + ", ".join(f"'{i}'" for i in sorted(ids)) + ")"


def test_each_event_reaches_hive_once_even_when_republished(
    writer: FeedbackWriter, spark: SparkSession
) -> None:
    values = _events(300, seed=1)
    hive.produce(writer.settings, values)
    hive.produce(writer.settings, values[:60])  # the relay republishing after a crash
    where = _campaign_filter(values)
    eventually(
        lambda: hive.count(spark, _billing(writer), where) == (300, 300), timeout=120, interval=1
    )
    from adplatform.v1 import events_pb2

    expected = sum(Decimal(events_pb2.FeedbackEvent.FromString(v).expenditure) for v in values)
    total = spark.sql(f"SELECT SUM(expenditure) AS s FROM {_billing(writer)} WHERE {where}").first()
    assert total is not None and total.s == expected
    sample = events_pb2.FeedbackEvent.FromString(values[0])
    row = spark.sql(
        f"SELECT * FROM {_billing(writer)} WHERE request_id = '{sample.request_id}'"
    ).first()
    assert row is not None
    assert (row.campaign_id, row.user_id, row.user_action) == (
        sample.campaign_id,
        sample.user_id,
        sample.user_action,
    )
    assert row.auction_cpm == Decimal(sample.auction_cpm)
    assert row.target_age_range == f"{sample.target_age_range.start}-45"
    assert row.target_location == sample.target_location
    stamp = sample.timestamp.ToDatetime()
    assert (row.dt, row.hr) == (f"{stamp:%Y-%m-%d}", f"{stamp:%H}")
    partitions = {r.partition for r in spark.sql(f"SHOW PARTITIONS {_billing(writer)}").collect()}
    assert f"dt={stamp:%Y-%m-%d}/hr={stamp:%H}" in partitions  # visible to Hive readers too


def test_malformed_records_are_quarantined_and_the_writer_goes_on(
    writer: FeedbackWriter, spark: SparkSession
) -> None:
    from adplatform.v1 import events_pb2

    good = _events(20, seed=2)
    bad_amount = events_pb2.FeedbackEvent.FromString(good[0])
    bad_amount.request_id = str(uuid.uuid4())  # a valid id: only the amount is wrong
    bad_amount.expenditure = "lots"
    hive.produce(writer.settings, [b"\x00not a protobuf\xff", bad_amount.SerializeToString()])
    hive.produce(writer.settings, good[1:])
    where = _campaign_filter(good)
    eventually(
        lambda: hive.count(spark, _billing(writer), where) == (19, 19), timeout=120, interval=1
    )
    quarantine = f"{writer.settings.hive_database}.feedback_quarantine"
    spark.catalog.refreshTable(quarantine)
    reasons = {r.reason for r in spark.sql(f"SELECT reason FROM {quarantine}").collect()}
    assert any(reason.startswith("not a FeedbackEvent") for reason in reasons)
    assert any(reason.startswith("expenditure") for reason in reasons)
    raw = spark.sql(f"SELECT raw FROM {quarantine} WHERE reason LIKE 'expenditure%'").first()
    assert raw is not None and bytes(raw.raw) == bad_amount.SerializeToString()
    record = status.read_status(writer.settings)
    assert record is not None and record["totals"]["quarantined"] >= 2
    assert writer.healthy()


def test_sigkill_mid_batch_then_restart_archives_each_event_once(
    writer: FeedbackWriter, spark: SparkSession
) -> None:
    values = _events(12_000, seed=3)
    hive.produce(writer.settings, values + values[:1000])
    killed_batch = killed_pid = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # catch the writer inside a batch's foreachBatch
        record = status.read_status(writer.settings) or {}
        if str(record.get("phase", "")).startswith("writing batch"):
            killed_pid = writer.process.pid()
            writer.process.kill()
            killed_batch = int(record["phase"].rsplit(" ", 1)[1])
            break
        time.sleep(0.005)
    assert killed_batch is not None and killed_pid is not None, "never saw the writer in a batch"
    assert not alive(killed_pid)
    # No one starts it again: its supervisor does, and the new process resumes the checkpoint.
    eventually(
        lambda: writer.process.pid() not in (None, killed_pid) and writer.healthy(),
        timeout=writer.start_timeout,
        interval=1,
    )
    where = _campaign_filter(values)
    eventually(
        lambda: hive.count(spark, _billing(writer), where) == (12_000, 12_000),
        timeout=480,
        interval=2,
    )
    replayed = [b for b in status.read_batches(writer.settings) if b["batch_id"] == killed_batch]
    assert replayed, f"batch {killed_batch} was not written again after the restart"
    eventually(lambda: status.lag(writer.settings).records == 0, timeout=60)


def test_charged_feedback_reaches_the_stacks_archive(stack: Settings, spark: SparkSession) -> None:
    campaign = campaigns.create(stack)
    request_ids = served.serve(stack, campaign, count=3, auction_cpc="0.0003", auction_cpa="0.04")
    acknowledged = {}
    for request_id, flags in zip(request_ids, [(1, 0, 0), (1, 1, 0), (1, 1, 1)], strict=True):
        reply = channels.feedback(stack).SubmitFeedback(
            feedback_service_pb2.SubmitFeedbackRequest(
                request_id=request_id, view=flags[0], click=flags[1], acquisition=flags[2]
            ),
            timeout=10,
        )
        acknowledged[request_id] = Decimal(reply.expenditure)
    table = f"{stack.hive_database}.feedback_events"
    where = f"campaign_id = '{campaign.campaign_id}'"
    eventually(lambda: hive.count(spark, table, where) == (3, 3), timeout=120, interval=1)
    rows = spark.sql(f"SELECT request_id, expenditure, user_action FROM {table} WHERE {where}")
    archived = {r.request_id: r.expenditure for r in rows.collect()}
    assert archived == acknowledged
    assert "lag" in FeedbackWriter(stack).endpoint()
