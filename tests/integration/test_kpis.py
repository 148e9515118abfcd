"""Campaign KPIs per minute from the stack's own writer equal a direct computation.

Feedback goes the real way (campaign → served ads → FeedbackService → outbox → Kafka); one
event is also republished byte for byte, as the outbox relay does after a crash. The KPIs the
stream upserted into MySQL and wrote to Hive must equal tests.fixtures.kpis.from_events over the
events on the topic, each request id counted once.
"""

from __future__ import annotations

import uuid
from datetime import UTC
from decimal import Decimal

import pyarrow as pa
import pytest
from adplatform.v1 import events_pb2, feedback_service_pb2
from confluent_kafka import Consumer
from pyspark.sql import SparkSession
from sqlalchemy import Engine, select

from clients import channels
from servers.ads.served import record
from servers.identifiers import PRIVACY_USER_ID
from servers.settings import Settings
from servers.storage.schema import campaign_kpis, campaign_reach
from spark import kpi_sink
from spark.kpis import CampaignMinute
from tests.fixtures.kpis import Charged, from_events
from tests.integration import campaigns, hive, served
from tests.polling import eventually

pytestmark = pytest.mark.integration
FLAGS = [(1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 0, 0), (0, 0, 1), (1, 1, 0), (1, 0, 0)]


def _topic_events(stack: Settings, campaign_id: str, expected: int) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": stack.bootstrap_servers,
            "group.id": f"kpi-check-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([stack.feedback_topic])
    found: list[bytes] = []
    try:

        def arrived() -> bool:
            for record in consumer.consume(500, timeout=0.5):
                if record.error() is None and record.key() == campaign_id.encode():
                    found.append(record.value())
            return len(found) >= expected

        eventually(arrived, timeout=60)
    finally:
        consumer.close()
    return found


def _charged(value: bytes) -> Charged:
    event = events_pb2.FeedbackEvent.FromString(value)
    stamp = event.timestamp.ToDatetime(tzinfo=UTC).replace(tzinfo=None)
    return Charged(
        event.request_id,
        event.campaign_id,
        stamp,
        event.click,
        event.acquisition,
        Decimal(event.expenditure),
    )


def _mysql_kpis(database: Engine, campaign_id: str) -> dict[object, tuple[object, ...]]:
    kpis = campaign_kpis.c
    query = select(
        kpis.minute,
        kpis.impressions,
        kpis.clicks,
        kpis.acquisitions,
        kpis.ctr,
        kpis.conversion_rate,
        kpis.spend,
        kpis.ecpm,
    ).where(kpis.campaign_id == campaign_id)
    with database.connect() as connection:
        rows = connection.execute(query).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def _values(kpi: CampaignMinute) -> tuple[object, ...]:
    return (
        kpi.impressions,
        kpi.clicks,
        kpi.acquisitions,
        kpi.ctr,
        kpi.conversion_rate,
        kpi.spend,
        kpi.ecpm,
    )


def test_kpis_equal_a_direct_computation(stack: Settings, database: Engine) -> None:
    campaign = campaigns.create(stack, cpc="0.0004", cpa="0.05")
    request_ids = served.serve(stack, campaign, count=len(FLAGS), auction_cpc="0.0003")
    for request_id, (view, click, acquisition) in zip(request_ids, FLAGS, strict=True):
        channels.feedback(stack).SubmitFeedback(
            feedback_service_pb2.SubmitFeedbackRequest(
                request_id=request_id, view=view, click=click, acquisition=acquisition
            ),
            timeout=10,
        )
    values = _topic_events(stack, campaign.campaign_id, len(FLAGS))
    hive.produce(stack, values[:1])  # a byte-identical republish, as after a relay crash
    expected = {
        minute: _values(kpi) for (_, minute), kpi in from_events(map(_charged, values)).items()
    }
    assert sum(v[0] for v in expected.values()) == len(FLAGS)  # type: ignore[misc]

    eventually(
        lambda: _mysql_kpis(database, campaign.campaign_id) == expected, timeout=120, interval=1
    )

    spark: SparkSession = hive.spark_session(stack)
    view = f"{stack.hive_database}.campaign_kpis"

    def hive_kpis() -> dict[object, tuple[object, ...]]:
        spark.catalog.refreshTable(f"{stack.hive_database}.campaign_kpi_updates")
        rows = spark.sql(
            "SELECT unix_micros(minute) AS m, impressions, clicks, acquisitions, ctr, "
            f"conversion_rate, spend, ecpm FROM {view} "
            f"WHERE campaign_id = '{campaign.campaign_id}'"
        ).collect()
        from datetime import datetime

        return {
            datetime.fromtimestamp(r.m / 1_000_000, UTC).replace(tzinfo=None): tuple(r[1:])
            for r in rows
        }

    eventually(lambda: hive_kpis() == expected, timeout=120, interval=1)


def _reach(database: Engine, campaign_id: str) -> int | None:
    with database.connect() as connection:
        return connection.execute(
            select(campaign_reach.c.unique_users).where(campaign_reach.c.campaign_id == campaign_id)
        ).scalar()


def test_reach_counts_each_user_once_and_shows_in_the_campaigns_stats(
    stack: Settings, database: Engine
) -> None:
    campaign = campaigns.create(stack, cpc="0.0004", cpa="0.05")
    users = ["reach-a", "reach-b", "reach-a", "reach-c", PRIVACY_USER_ID, PRIVACY_USER_ID]
    ads = [
        served.served_ad(
            campaign.campaign_id,
            user_id=user_id,
            auction_cpm=Decimal(campaign.cpm),
            auction_cpc=Decimal("0.0003"),
            auction_cpa=Decimal(campaign.cpa),
            bid_cpm=Decimal(campaign.cpm),
        )
        for user_id in users
    ]
    with database.begin() as connection:
        record(connection, ads)
    for ad in ads:
        channels.feedback(stack).SubmitFeedback(
            feedback_service_pb2.SubmitFeedbackRequest(request_id=ad.request_id, view=1),
            timeout=10,
        )
    values = _topic_events(stack, campaign.campaign_id, len(ads))
    hive.produce(stack, values[:2])  # republished, as after a relay crash: nobody new
    eventually(lambda: _reach(database, campaign.campaign_id) == 3, timeout=120, interval=1)
    eventually(
        lambda: (campaigns.get(stack, campaign.campaign_id) or campaign).stats.unique_users == 3,
        timeout=10,
    )


def test_a_replayed_addition_leaves_reach_as_it_was(stack: Settings, database: Engine) -> None:
    campaign_id = f"reach-replay-{uuid.uuid4()}"[:36]
    batch = kpi_sink.reach_sketches(
        pa.table(
            {
                "campaign_id": [campaign_id] * 2_000,
                "user_id": [f"replay-user-{n % 1_500}" for n in range(2_000)],
            }
        )
    )
    reach = dict(zip(batch["campaign_id"].to_pylist(), batch["sketch"].to_pylist(), strict=True))
    stream = f"reach-test:{uuid.uuid4()}"
    for _ in range(3):  # the batch, then two replays of it (a crash after the commit)
        kpi_sink.add_counts(database, stack.kpi_table, stream, {0: []}, reach=reach)
    estimate = _reach(database, campaign_id)
    assert estimate is not None and abs(estimate - 1_500) <= 1_500 * 0.05
    more = kpi_sink.reach_sketches(
        pa.table({"campaign_id": [campaign_id] * 500, "user_id": [f"new-{n}" for n in range(500)]})
    )
    kpi_sink.add_counts(
        database, stack.kpi_table, stream, {1: []}, reach={campaign_id: more["sketch"][0].as_py()}
    )
    grown = _reach(database, campaign_id)
    assert grown is not None and abs(grown - 2_000) <= 2_000 * 0.05
    kpi_sink.add_counts(database, stack.kpi_table, stream, {1: []}, reach=reach)
    assert _reach(database, campaign_id) == grown
