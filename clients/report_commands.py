"""`adplatform report`: the bill for every ad displayed and the BI views, from Hive.

    adplatform report                          # terminal tables, then the reconciliation line
    adplatform report --format csv --out DIR   # one CSV file per view (campaign_days.csv:
                                               # per campaign per day, the export)
    adplatform report --format html --out DIR  # report.html with charts
    adplatform report --format json            # JSON on stdout (or report.json with --out)

It first waits (--wait, default 120 s) until the feedback outbox is empty and the writer's
Kafka lag is 0, so Hive holds every charge; then archives campaigns and served ads from MySQL
and computes the report with Spark over Hive. The last line compares Hive's billed total with
MySQL's spent total. Exit status: 0 equal, 1 they differ although the writer caught up,
3 they differ and the writer had not caught up in time.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from servers.settings import Settings

FORMATS = ("table", "csv", "html", "json")


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    from spark.report import job, render
    from spark.session import hive_session

    machine = args.format == "json" and args.out is None
    console = Console(stderr=machine)
    out = args.out or settings.run_dir / "reports" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with console.status("starting Spark") as spinner:

        def progress(step: str) -> None:
            console.log(step)
            spinner.update(step)

        spark = hive_session(settings, "report")
        try:
            report, reconciliation = job.run(
                spark, settings, args.wait, progress, refresh_archive=not args.no_archive
            )
        finally:
            spark.stop()
    if args.format == "table":
        render.print_report(report, console)
    elif args.format == "csv":
        for path in render.write_csv(report, out):
            console.print(f"wrote {path}")
    elif args.format == "html":
        from spark.report.html import write_html

        console.print(f"wrote {write_html(report, reconciliation, out)}")
    elif machine:
        json.dump(render.as_json(report, reconciliation), sys.stdout, indent=2)
        print()
    else:
        console.print(f"wrote {render.write_json(report, reconciliation, out)}")
    console.print(
        reconciliation.line(),
        style=render.reconciliation_style(reconciliation),
        soft_wrap=True,  # one line, however narrow the terminal: scripts grep it
    )
    return int(reconciliation.verdict)


def register(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds the report command."""
    report = areas.add_parser("report", help="the bill and BI views from Hive, reconciled")
    report.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    report.add_argument("--out", type=Path, default=None, help="directory for csv/html/json files")
    report.add_argument(
        "--wait",
        type=float,
        default=120.0,
        help="seconds to wait for the writer to catch up (default %(default)s)",
    )
    report.add_argument(
        "--no-archive", action="store_true", help="skip copying campaigns and served ads first"
    )
    report.set_defaults(handler=_report)
