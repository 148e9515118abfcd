"""The report over the stack's Hive archive: its totals equal MySQL's, in every format.

Charges go the real way, then `adplatform report` runs as a user would run it (a separate
process with its own Spark); its exit status and reconciliation line say Hive's billed total
equals MySQL's spent total, and the bill's rows equal what MySQL charged per campaign.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from adplatform.v1 import feedback_service_pb2
from sqlalchemy import Engine, text

from clients import channels
from servers.settings import Settings
from tests.integration import campaigns, served

pytestmark = pytest.mark.integration


def _charge(stack: Settings, count: int) -> str:
    campaign = campaigns.create(stack, cpc="0.0004", cpa="0.05", category="Books")
    request_ids = served.serve(stack, campaign, count=count, auction_cpc="0.0003")
    for index, request_id in enumerate(request_ids):
        channels.feedback(stack).SubmitFeedback(
            feedback_service_pb2.SubmitFeedbackRequest(
                request_id=request_id, view=1, click=index % 2, acquisition=int(index % 5 == 0)
            ),
            timeout=10,
        )
    return campaign.campaign_id


def _mysql(database: Engine, sql: str, **params: object) -> object:
    """_mysql is the value of one SQL aggregate: what the report must agree with, as SQL."""
    with database.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def _report(stack: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **stack.child_environment()}
    return subprocess.run(
        [sys.executable, "-m", "clients.cli", "report", "--wait", "180", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_report_totals_equal_mysql(stack: Settings, database: Engine, tmp_path: Path) -> None:
    campaign_ids = [_charge(stack, 6), _charge(stack, 4)]
    result = _report(stack, "--format", "json", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Hive billed total" in result.stdout and ": equal" in result.stdout
    data = json.loads((tmp_path / "report.json").read_text())
    recon = data["reconciliation"]
    assert recon["verdict"] == "match" and recon["caught_up"]
    spent = Decimal(str(_mysql(database, "SELECT COALESCE(SUM(spent), 0) FROM campaigns")))
    assert Decimal(recon["hive_billed"]) == spent  # nothing was charged since the report ran
    bill = {row["campaign_id"]: row for row in data["views"]["bill"]["rows"]}
    for campaign_id in campaign_ids:
        charged = _mysql(
            database, "SELECT spent FROM campaigns WHERE campaign_id = :id", id=campaign_id
        )
        shown = _mysql(
            database, "SELECT COUNT(*) FROM feedback WHERE campaign_id = :id", id=campaign_id
        )
        assert Decimal(bill[campaign_id]["expenditure"]) == Decimal(str(charged))
        assert bill[campaign_id]["impressions"] == shown
        assert bill[campaign_id]["category"] == "Books"
        assert Decimal(bill[campaign_id]["budget"]) == Decimal(700)
    assert set(data["views"]) >= {
        "top_spenders",
        "under_utilised",
        "ctr_by_age",
        "ctr_by_location",
        "ctr_by_gender",
        "ctr_by_income",
        "ctr_by_device",
        "expenditure_by_category",
        "bid_vs_auction",
        "spend_over_time",
    }


def test_report_writes_csv_and_html(stack: Settings, tmp_path: Path) -> None:
    _charge(stack, 3)
    result = _report(stack, "--format", "html", "--out", str(tmp_path), "--no-archive")
    assert result.returncode == 0, result.stdout + result.stderr
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "equal" in page
    result = _report(stack, "--format", "csv", "--out", str(tmp_path), "--no-archive")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "bill.csv").read_text().startswith("campaign_id,category,impressions")
