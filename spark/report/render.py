"""Rendering the report: terminal tables (rich), one CSV file per view, and JSON.

Money is printed in plain notation with every significant digit (never float); ratio columns
are fractions in CSV and JSON and percentages on screen.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from servers.money import format_money
from spark.report.reconcile import Reconciliation, Verdict
from spark.report.views import RATIO_COLUMNS, Report, View

SCREEN_ROWS = 25


def cell(column: str, value: Any) -> str:
    """cell formats one value for people: 1,234 impressions, 12.34% CTR, 0.0406 spent."""
    if value is None:
        return "-"
    if column in RATIO_COLUMNS and isinstance(value, Decimal):
        return f"{value * 100:.2f}%"
    if isinstance(value, Decimal):
        return format_money(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def raw(value: Any) -> Any:
    """raw is a value for CSV and JSON: exact decimal strings, ISO times, numbers as numbers."""
    if isinstance(value, Decimal):
        return format_money(value) if value >= 0 else "-" + format_money(-value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def view_table(view: View, limit: int | None = SCREEN_ROWS) -> Table:
    """view_table is a rich table of a view's first limit rows."""
    shown = view.rows if limit is None else view.rows[:limit]
    table = Table(title=view.title, title_justify="left")
    for index, name in enumerate(view.columns):
        numeric = any(isinstance(row[index], (int, Decimal)) for row in shown)
        if numeric:
            table.add_column(name, justify="right", no_wrap=True)
        else:  # ids and names give way first when the terminal is narrow
            table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=38)
    for row in shown:
        table.add_row(*(cell(c, v) for c, v in zip(view.columns, row, strict=True)))
    if limit is not None and len(view.rows) > limit:
        table.caption = f"{len(view.rows) - limit:,} more rows in the CSV, HTML and JSON outputs"
    return table


def reconciliation_style(reconciliation: Reconciliation) -> str:
    """reconciliation_style colours the reconciliation line: green when the totals agree."""
    return "bold green" if reconciliation.verdict is Verdict.MATCH else "bold red"


def print_report(report: Report, console: Console) -> None:
    """print_report shows the totals and every view as terminal tables."""
    t = report.totals
    console.print(
        f"[bold]Bill from Hive database {report.database}[/] at "
        f"{report.generated_at:%Y-%m-%d %H:%M:%S} UTC: "
        f"{t.campaigns:,} campaigns, {t.impressions:,} impressions, {t.clicks:,} clicks "
        f"(CTR {t.ctr * 100:.2f}%), {t.acquisitions:,} acquisitions, "
        f"expenditure {format_money(t.expenditure)}"
    )
    for view in report.views:
        console.print(view_table(view))


def write_csv(report: Report, out: Path) -> list[Path]:
    """write_csv writes one CSV file per view into out; returns the files."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for view in report.views:
        path = out / f"{view.name}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(view.columns)
            writer.writerows([raw(v) for v in row] for row in view.rows)
        written.append(path)
    return written


def as_json(report: Report, reconciliation: Reconciliation) -> dict[str, Any]:
    """as_json is the whole report as JSON-ready data."""
    t = report.totals
    return {
        "generated_at": report.generated_at.isoformat(),
        "database": report.database,
        "totals": {
            "campaigns": t.campaigns,
            "impressions": t.impressions,
            "clicks": t.clicks,
            "acquisitions": t.acquisitions,
            "ctr": raw(t.ctr),
            "expenditure": raw(t.expenditure),
        },
        "views": {
            view.name: {
                "title": view.title,
                "rows": [{c: raw(v) for c, v in record.items()} for record in view.records()],
            }
            for view in report.views
        },
        "reconciliation": {
            "hive_billed": raw(reconciliation.hive_billed),
            "mysql_spent": raw(reconciliation.mysql_spent),
            "caught_up": reconciliation.caught_up,
            "verdict": reconciliation.verdict.name.lower(),
            "line": reconciliation.line(),
        },
    }


def write_json(report: Report, reconciliation: Reconciliation, out: Path) -> Path:
    """write_json writes report.json into out."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    path.write_text(json.dumps(as_json(report, reconciliation), indent=2))
    return path
