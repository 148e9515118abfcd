"""The report over the stack's Hive archive: its totals equal MySQL's, in every format.

Charges go the real way, then `adplatform report` runs as a user would run it (a separate
process with its own Spark); its exit status and reconciliation line say Hive's billed total
equals MySQL's spent total, and the bill's rows equal what MySQL charged per campaign.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from adplatform.v1 import feedback_service_pb2
from sqlalchemy import Engine, insert, text

from clients import channels
from servers.ads.served import record
from servers.settings import Settings
from servers.storage.schema import users
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
        assert bill[campaign_id]["unique_users"] == shown  # one user per ad (served.serve)
    assert set(data["views"]) >= {
        "top_spenders",
        "under_utilised",
        "ctr_by_age",
        "ctr_by_location",
        "ctr_by_gender",
        "ctr_by_income",
        "ctr_by_device",
        "ctr_by_viewer_age",
        "ctr_by_viewer_location",
        "ctr_by_viewer_gender",
        "ctr_by_viewer_income",
        "ctr_by_viewer_device",
        "campaign_days",
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


def _served_to_viewers(stack: Settings, database: Engine, city: str) -> str:
    """_served_to_viewers charges ads shown to profiled users in city; returns the campaign."""
    campaign = campaigns.create(stack, cpc="0.0004", cpa="0.05", category="Garden")
    tag = uuid.uuid4().hex[:10]
    profiles = [("M", "H", 70), ("F", "L", 70), ("F", "L", 19)]
    with database.begin() as connection:
        connection.execute(
            insert(users),
            [
                {
                    "id": f"viewer-{tag}-{n}",
                    "age": age,
                    "gender": gender,
                    "income_bucket": income,
                    "device_type": "Android Mobile",
                    "city": city,
                    "state": "Kerala",
                }
                for n, (gender, income, age) in enumerate(profiles)
            ],
        )
        ads = [
            served.served_ad(
                campaign.campaign_id,
                user_id=f"viewer-{tag}-{n % len(profiles)}",
                device_type="Smart TV",
                city=city,
                auction_cpm=Decimal(campaign.cpm),
                auction_cpc=Decimal("0.0003"),
                auction_cpa=Decimal(campaign.cpa),
                bid_cpm=Decimal(campaign.cpm),
            )
            for n in range(6)
        ]
        record(connection, ads)
    for index, ad in enumerate(ads):
        channels.feedback(stack).SubmitFeedback(
            feedback_service_pb2.SubmitFeedbackRequest(
                request_id=ad.request_id, view=1, click=int(index < 2)
            ),
            timeout=10,
        )
    return campaign.campaign_id


def test_report_exports_days_and_views_by_viewer(
    stack: Settings, database: Engine, tmp_path: Path
) -> None:
    city = f"Viewerton {uuid.uuid4().hex[:8]}"
    campaign_id = _served_to_viewers(stack, database, city)
    result = _report(stack, "--format", "csv", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    with (tmp_path / "campaign_days.csv").open() as handle:
        days = [row for row in csv.DictReader(handle) if row["campaign_id"] == campaign_id]
    today = datetime.now(ZoneInfo(stack.timezone)).date().isoformat()
    assert len(days) == 1, days  # the six ads were charged moments ago, all today
    (day,) = days
    assert day["day"] == today
    assert (day["impressions"], day["clicks"], day["acquisitions"]) == ("6", "2", "0")
    assert day["unique_users"] == "3"
    spent = _mysql(database, "SELECT spent FROM campaigns WHERE campaign_id = :id", id=campaign_id)
    assert Decimal(day["spend"]) == Decimal(str(spent)) == Decimal("0.0006")

    def view(name: str) -> dict[str, dict[str, str]]:
        with (tmp_path / f"ctr_by_viewer_{name}.csv").open() as handle:
            return {row[name]: row for row in csv.DictReader(handle)}

    location = view("location")[city]
    assert (location["impressions"], location["clicks"]) == ("6", "2")
    assert int(view("device")["Smart TV"]["impressions"]) >= 6
    assert int(view("age")["65+"]["impressions"]) >= 4 and int(view("age")["18-24"]["clicks"]) >= 0
    assert int(view("gender")["F"]["impressions"]) >= 4
    assert int(view("income")["H"]["impressions"]) >= 2
    with (tmp_path / "ctr_by_location.csv").open() as handle:
        targeted = {row["location"] for row in csv.DictReader(handle)}
    assert city not in targeted  # by targeting, the campaign targets everywhere
