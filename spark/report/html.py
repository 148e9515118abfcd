"""The HTML report: one self-contained page with charts (matplotlib PNGs inline) and tables.

Charts: spend by campaign (the top spenders), CTR by each targeting dimension, and spend over
time. Money is converted to float only to draw bars; every number printed is exact.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from servers.money import format_money
from spark.report.reconcile import Reconciliation, Verdict
from spark.report.render import cell
from spark.report.views import VIEWER_DIMENSIONS, Report, View

HTML_ROWS = 500
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f4f4f4; } td.n { text-align: right; }
.ok { color: #11772d; font-weight: bold; } .bad { color: #b00020; font-weight: bold; }
.charts img { max-width: 100%; margin: .5rem 0; }
"""


def _png(figure: Figure) -> str:
    """_png renders a figure as a base64 data URL and frees it."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def spend_by_campaign(report: Report, limit: int = 15) -> str:
    """spend_by_campaign is a bar chart of the biggest spenders."""
    rows = report.view("bill").records()[:limit]
    figure, axes = plt.subplots(figsize=(9, max(2.5, 0.35 * len(rows) + 1)))
    labels = [str(r["campaign_id"])[:18] for r in rows][::-1]
    axes.barh(labels, [float(r["expenditure"]) for r in rows][::-1], color="#3b6ea8")
    axes.set_title(f"Spend by campaign (top {len(rows)})")
    axes.set_xlabel("expenditure")
    return _png(figure)


def ctr_by_dimension(report: Report, limit: int = 8) -> str:
    """ctr_by_dimension is one bar chart of CTR per viewer dimension (who saw the ad).

    The viewer's groups, not the campaigns' targeting: targeting is mostly "All", which says
    nothing about who clicks. The tables below the charts have both.
    """
    figure, grid = plt.subplots(1, len(VIEWER_DIMENSIONS), figsize=(16, 3.6))
    for axes, name in zip(grid, VIEWER_DIMENSIONS, strict=True):
        rows = report.view(f"ctr_by_viewer_{name}").records()[:limit]
        axes.bar(
            [str(r[name])[:14] for r in rows],
            [float(r["ctr"]) * 100 for r in rows],
            color="#d08a2c",
        )
        axes.set_title(f"CTR by viewer {name}")
        axes.set_ylabel("CTR %")
        axes.tick_params(axis="x", labelrotation=45, labelsize=7)
    return _png(figure)


def spend_over_time(report: Report) -> str:
    """spend_over_time is a line of expenditure per hour."""
    rows = report.view("spend_over_time").records()
    figure, axes = plt.subplots(figsize=(9, 3))
    axes.plot(
        [str(r["hour"]) for r in rows],
        [float(r["expenditure"]) for r in rows],
        marker="o",
        color="#2c8a5a",
    )
    axes.set_title("Spend over time (UTC hours)")
    axes.set_ylabel("expenditure")
    axes.tick_params(axis="x", labelrotation=45, labelsize=7)
    return _png(figure)


def _table(view: View) -> str:
    """_table is a view as an HTML table (the first HTML_ROWS rows)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in view.columns)
    body = []
    for row in view.rows[:HTML_ROWS]:
        cells = []
        for column, value in zip(view.columns, row, strict=True):
            numeric = not isinstance(value, str)
            css = ' class="n"' if numeric else ""
            cells.append(f"<td{css}>{html.escape(cell(column, value))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = len(view.rows) - HTML_ROWS
    note = f"<p>{more:,} more rows in {view.name}.csv</p>" if more > 0 else ""
    return (
        f"<h2>{html.escape(view.title)}</h2><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{note}"
    )


def page(report: Report, reconciliation: Reconciliation) -> str:
    """page is the complete HTML document."""
    t = report.totals
    verdict = "ok" if reconciliation.verdict is Verdict.MATCH else "bad"
    charts = (
        [spend_by_campaign(report), ctr_by_dimension(report), spend_over_time(report)]
        if t.impressions
        else []
    )
    images = "".join(f'<img alt="chart" src="{src}">' for src in charts)
    summary = (
        f"{t.campaigns:,} campaigns · {t.impressions:,} impressions · {t.clicks:,} clicks "
        f"(CTR {t.ctr * 100:.2f}%) · {t.acquisitions:,} acquisitions · "
        f"expenditure {format_money(t.expenditure)}"
    )
    tables = "".join(_table(view) for view in report.views)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>adplatform bill</title>
<style>{STYLE}</style></head><body>
<h1>adplatform bill — Hive database {html.escape(report.database)}</h1>
<p>Generated {report.generated_at:%Y-%m-%d %H:%M:%S} UTC. {summary}</p>
<p class="{verdict}">{html.escape(reconciliation.line())}</p>
<div class="charts">{images}</div>
{tables}
</body></html>
"""


def write_html(report: Report, reconciliation: Reconciliation, out: Path) -> Path:
    """write_html writes report.html into out."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(page(report, reconciliation))
    return path
