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
    return views.Report(
        datetime(2026, 1, 31, 8, tzinfo=UTC),
        "adplatform",
        views.totals(BILLS),
        [
            views.bill(BILLS),
            views.top_spenders(BILLS),
            views.under_utilised(budgets),
            *dims,
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
