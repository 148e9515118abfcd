"""The billing stream survives its dependencies: a KPI outage never stops the billing archive.

Feedback goes the real way (campaign → served ads → FeedbackService → outbox → Kafka → the
stack's own writer) while the KPI sink cannot write: its MySQL table is renamed away, so every
KPI upsert fails (a refusal, not a blip: the upsert's own retries cannot ride it out, and the
writer must restart the KPI query). The billing rows must land in Hive during the outage, the
writer must stay the same process, and once the table is back the KPIs must catch up to the
acknowledged feedback exactly.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from adplatform.v1 import feedback_service_pb2
from sqlalchemy import Engine, text

from clients import channels
from deploy.stack import launcher
from deploy.stack.spark_jobs import FeedbackWriter
from servers.settings import Settings
from spark import status
from spark.kpis import CampaignMinute
from tests.fixtures.kpis import Charged, from_events
from tests.integration import campaigns, hive, served
from tests.polling import eventually

pytestmark = pytest.mark.integration

# view, click, acquisition: impressions 6, clicks 3, acquisitions 2
FLAGS = [(1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 0, 0), (0, 0, 1), (1, 1, 0)]
AUCTION_CPC, AUCTION_CPA = "0.0003", "0.04"
# The outage lasts until billing and the KPI failure are seen; a batch of six events took up
# to 105 s on a 2-core machine shared with other suites (load 16-20).
OUTAGE_LIMIT_SECONDS = 240
CATCH_UP_SECONDS = 240  # the KPI query's next restart is at most 30 s away, then a batch


def _writer_pid(stack: Settings) -> int | None:
    (row,) = [row for row in launcher.status(stack) if row.name == FeedbackWriter.name]
    return row.pid


def _kpi_query(stack: Settings) -> dict[str, Any]:
    record = status.read_status(stack) or {}
    query: dict[str, Any] = (record.get("queries") or {}).get(status.KPI_QUERY, {})
    return query


def _submit(stack: Settings, request_id: str, flags: tuple[int, int, int]) -> Decimal:
    view, click, acquisition = flags
    reply = channels.feedback(stack).SubmitFeedback(
        feedback_service_pb2.SubmitFeedbackRequest(
            request_id=request_id, view=view, click=click, acquisition=acquisition
        ),
        timeout=10,
    )
    return Decimal(reply.expenditure)


def _mysql_kpis(database: Engine, table: str, campaign_id: str) -> dict[datetime, CampaignMinute]:
    with database.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT minute, impressions, clicks, acquisitions, ctr, conversion_rate, spend, "
                f"ecpm FROM `{table}` WHERE campaign_id = :id"
            ),
            {"id": campaign_id},
        ).all()
    return {row.minute: CampaignMinute(campaign_id, *row) for row in rows}


def test_a_kpi_outage_does_not_stop_the_billing_archive(stack: Settings, database: Engine) -> None:
    spark = hive.spark_session(stack)
    writer_pid = _writer_pid(stack)
    assert writer_pid is not None
    failures_before = int(_kpi_query(stack).get("failures", 0))
    campaign = campaigns.create(stack)
    request_ids = served.serve(
        stack, campaign, count=len(FLAGS), auction_cpc=AUCTION_CPC, auction_cpa=AUCTION_CPA
    )
    billing = f"{stack.hive_database}.feedback_events"
    where = f"campaign_id = '{campaign.campaign_id}'"
    kpi_table, hidden = stack.kpi_table, f"{stack.kpi_table}_away_{uuid.uuid4().hex[:8]}"

    with database.begin() as connection:
        connection.execute(text(f"RENAME TABLE `{kpi_table}` TO `{hidden}`"))
    try:
        acknowledged = {
            request_id: _submit(stack, request_id, flags)
            for request_id, flags in zip(request_ids, FLAGS, strict=True)
        }
        # The archive goes on: every charge reaches Hive while the KPI sink cannot write.
        eventually(
            lambda: hive.count(spark, billing, where) == (len(FLAGS), len(FLAGS)),
            timeout=OUTAGE_LIMIT_SECONDS,
            interval=1,
        )
        # The KPI query failed on these very events and is being restarted, as stack status says.
        eventually(
            lambda: int(_kpi_query(stack).get("failures", 0)) > failures_before,
            timeout=OUTAGE_LIMIT_SECONDS,
            interval=0.5,
        )
        trouble = eventually(
            lambda: (
                "campaign-kpis restarting" in FeedbackWriter(stack).endpoint()
                and FeedbackWriter(stack).endpoint()
            ),
            timeout=60,
            interval=0.5,
        )
        assert "restart" in str(trouble)
        assert _writer_pid(stack) == writer_pid
        assert FeedbackWriter(stack).healthy()  # restarting a query is the writer doing its job
    finally:
        with database.begin() as connection:
            connection.execute(text(f"RENAME TABLE `{hidden}` TO `{kpi_table}`"))

    archived = spark.sql(
        "SELECT request_id, campaign_id, unix_micros(timestamp) AS us, click, acquisition, "
        f"expenditure FROM {billing} WHERE {where}"
    ).collect()
    assert {row.request_id: row.expenditure for row in archived} == acknowledged
    charged = [
        Charged(
            row.request_id,
            row.campaign_id,
            datetime.fromtimestamp(row.us / 1_000_000, UTC).replace(tzinfo=None),
            row.click,
            row.acquisition,
            row.expenditure,
        )
        for row in archived
    ]
    expected = {minute: kpi for (_, minute), kpi in from_events(charged).items()}
    assert sum(kpi.spend for kpi in expected.values()) == sum(acknowledged.values())

    # After the outage the KPI query restarts from its checkpoint and writes what it missed,
    # each minute's values exactly those of the acknowledged feedback.
    eventually(
        lambda: _mysql_kpis(database, kpi_table, campaign.campaign_id) == expected,
        timeout=CATCH_UP_SECONDS,
        interval=1,
    )
    assert _writer_pid(stack) == writer_pid  # restarted inside the process, never the process
    query = _kpi_query(stack)
    assert query["state"] == "running" and query["restarts"] >= 1
    assert "campaign-kpis running" in FeedbackWriter(stack).endpoint()
