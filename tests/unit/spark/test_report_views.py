"""spark.report: the views' rates and the renderers (terminal, CSV, JSON, HTML) on plain data."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from spark.report import render, views
from spark.report.html import page
from spark.report.reconcile import Reconciliation

D = Decimal
BILLS = [
    {
        "campaign_id": "a",
        "category": "Books",
        "budget": D(10),
        "spent": D("0.5"),
        "bid_cpm": D("0.002"),
        "impressions": 4,
        "clicks": 1,
        "acquisitions": 0,
        "unique_users": 3,
        "expenditure": D("0.5"),
        "auction_cpm_total": D("0.006"),
    },
    {
        "campaign_id": "b",
        "category": None,  # not archived yet
        "budget": None,
        "spent": None,
        "bid_cpm": None,
        "impressions": 1,
        "clicks": 1,
        "acquisitions": 1,
        "expenditure": D("1.5"),
        "auction_cpm_total": D("0.001"),
    },
]


def _viewer(value: object, impressions: int, clicks: int, known: bool = True) -> dict[str, object]:
    return {
        "value": value,
        "known": known,
        "impressions": impressions,
        "clicks": clicks,
        "expenditure": D("0.1") * clicks,
    }


VIEWER_ROWS = {
    "age": [_viewer(19, 4, 1), _viewer(24, 6, 3), _viewer(30, 5, 0), _viewer(None, 2, 0)],
    "device": [_viewer("Android Mobile", 3, 1), _viewer("", 2, 0), _viewer(None, 1, 0, False)],
    "gender": [_viewer("F", 3, 2), _viewer(None, 1, 0)],
}
DAYS = [
    {
        "campaign_id": "a",
        "day": "2026-02-01",
        "impressions": 2,
        "clicks": 1,
        "acquisitions": 0,
        "unique_users": 2,
        "spend": D("0.2"),
    },
    {
        "campaign_id": "a",
        "day": "2026-01-31",
        "impressions": 2,
        "clicks": 0,
        "acquisitions": 0,
        "unique_users": 1,
        "spend": D(0),
    },
]


def _report() -> views.Report:
    dims = [
        views.ctr_by(name, [{"value": "0-0", "impressions": 5, "clicks": 2, "expenditure": D(2)}])
        for name in views.DIMENSIONS
    ]
    budgets = [
        {
            "campaign_id": "a",
            "category": "Books",
            "status": "ACTIVE",
            "budget": D(10),
            "expenditure": D("0.5"),
            "impressions": 4,
        },
        {
            "campaign_id": "z",
            "category": "Toys",
            "status": "ACTIVE",
            "budget": D(100),
            "expenditure": D(0),
            "impressions": 0,
        },
    ]
    categories = [
        {"category": "Books", "campaigns": 1, "impressions": 4, "expenditure": D("0.5")},
        {"category": None, "campaigns": 1, "impressions": 1, "expenditure": D("1.5")},
    ]
    hours = [{"hour": "2026-01-31 07:00", "impressions": 5, "expenditure": D(2)}]
    viewers = [
        views.ctr_by_viewer(name, VIEWER_ROWS.get(name, [])) for name in views.VIEWER_DIMENSIONS
    ]
    return views.Report(
        datetime(2026, 1, 31, 8, tzinfo=UTC),
        "adplatform",
        views.totals(BILLS),
        [
            views.bill(BILLS),
            views.top_spenders(BILLS),
            views.under_utilised(budgets),
            *dims,
            *viewers,
            views.campaign_days(DAYS, "Asia/Kolkata"),
            views.expenditure_by_category(categories),
            views.bid_vs_auction(BILLS),
            views.spend_over_time(hours),
        ],
    )


def test_bill_rates_and_remaining() -> None:
    bill = _report().view("bill").records()
    assert [r["campaign_id"] for r in bill] == ["b", "a"]  # biggest spender first
    a = bill[1]
    assert a["ctr"] == D("0.25")
    assert a["remaining"] == D("9.5")
    assert a["avg_auction_cpm"] == D("0.0015")
    assert bill[0]["remaining"] is None


def test_totals_and_views() -> None:
    report = _report()
    assert report.totals.expenditure == D(2) and report.totals.impressions == 5
    assert report.view("top_spenders").records()[0]["share"] == D("0.75")
    under = report.view("under_utilised").records()
    assert [r["campaign_id"] for r in under] == ["z", "a"]
    assert report.view("ctr_by_age").records()[0]["age"] == "All"
    assert report.view("expenditure_by_category").records()[0]["category"] == "(not archived)"
    bid = report.view("bid_vs_auction").records()[0]
    assert bid["campaign_id"] == "a" and bid["discount"] == D("0.25")


def test_renderers(tmp_path: Path) -> None:
    report = _report()
    reconciliation = Reconciliation(D(2), D(2), caught_up=True)
    files = render.write_csv(report, tmp_path)
    assert {f.name for f in files} >= {"bill.csv", "ctr_by_device.csv", "spend_over_time.csv"}
    with (tmp_path / "bill.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows[1]["expenditure"] == "0.5" and rows[1]["ctr"] == "0.25"
    data = json.loads(render.write_json(report, reconciliation, tmp_path).read_text())
    assert data["reconciliation"]["verdict"] == "match"
    assert data["views"]["bill"]["rows"][0]["expenditure"] == "1.5"
    console = Console(record=True, width=160)
    render.print_report(report, console)
    assert "Bill per campaign" in console.export_text()
    html = page(report, reconciliation)
    assert html.count("data:image/png;base64,") == 3
    assert "equal" in html


def test_cell_formats() -> None:
    assert render.cell("ctr", D("0.1234")) == "12.34%"
    assert render.cell("expenditure", D("0.0406000000")) == "0.0406"
    assert render.cell("impressions", 1234567) == "1,234,567"
    assert render.cell("budget", None) == "-"


def test_age_buckets_cover_every_age() -> None:
    assert [views.age_bucket(a) for a in (None, 0, 17, 18, 24, 25, 64, 65, 120)] == [
        "unknown",
        "under 18",
        "under 18",
        "18-24",
        "18-24",
        "25-34",
        "55-64",
        "65+",
        "65+",
    ]


def test_viewer_views_group_who_saw_the_ad() -> None:
    report = _report()
    age = {r["age"]: r for r in report.view("ctr_by_viewer_age").records()}
    assert age["18-24"]["impressions"] == 10 and age["18-24"]["clicks"] == 4
    assert age["18-24"]["ctr"] == D("0.4")
    assert age["18-24"]["expenditure"] == D("0.4")
    assert set(age) == {"18-24", "25-34", "unknown"}
    device = {r["device"]: r["impressions"] for r in report.view("ctr_by_viewer_device").records()}
    assert device == {"Android Mobile": 3, "(none)": 2, "unknown": 1}
    gender = [r["gender"] for r in report.view("ctr_by_viewer_gender").records()]
    assert gender == ["F", "unknown"]  # most impressions first
    assert report.view("ctr_by_viewer_income").rows == []
    assert "by viewer" in report.view("ctr_by_viewer_age").title
    assert "by targeting" in report.view("ctr_by_age").title


def test_campaign_days_and_reach_in_the_bill(tmp_path: Path) -> None:
    report = _report()
    days = report.view("campaign_days")
    assert [r["day"] for r in days.records()] == ["2026-01-31", "2026-02-01"]
    assert "Asia/Kolkata" in days.title
    assert report.view("bill").records()[1]["unique_users"] == 3
    render.write_csv(report, tmp_path)
    with (tmp_path / "campaign_days.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[1]) == [
        "campaign_id",
        "day",
        "impressions",
        "clicks",
        "acquisitions",
        "unique_users",
        "spend",
    ]
    assert rows[1] == {
        "campaign_id": "a",
        "day": "2026-02-01",
        "impressions": "2",
        "clicks": "1",
        "acquisitions": "0",
        "unique_users": "2",
        "spend": "0.2",
    }
