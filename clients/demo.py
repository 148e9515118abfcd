"""The demo: the whole platform end to end, as the seed project ran it, then the bill.

    adplatform demo                   # a few minutes
    adplatform demo --duration 1h     # the seed's hour

Steps: bring the stack up (schema migrated), seed the users, load the campaign feed with its
dates moved by whole days so that the most campaigns are inside their window now (at 3 a.m.
a feed starting today would serve nothing yet), run the simulator for the duration, drain
the pipeline (outbox empty, writer caught up), run the report over Hive, print the bill
and the reconciliation, and leave the HTML report and a JSON summary under the run
directory. The exit status is the report's: 0 when Hive's billed total equals MySQL's
spent total.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.rule import Rule

from deploy.paths import FEED_CSV
from servers.settings import Settings

# whole ads a second the demo asks for: the platform spends 10-16 ms of CPU on a whole ad
# (serve, charge, Kafka, the Spark writer), so two cores carry about 125-200 a second with
# nothing else running; 100 leaves the pipeline headroom to stay caught up for the hour.
# The simulator costs about 0.5 ms an ad, so the platform, not the client, sets this.
RATE = 100.0


def run(settings: Settings, args: argparse.Namespace, console: Console) -> int:
    """run plays the demo and returns the report's exit status."""
    from clients import feed_loader, users_commands
    from clients.simulator import commands as simulator
    from deploy.stack import launcher
    from deploy.stack.services import AdServerProcess
    from spark.report import html, job, render
    from spark.session import hive_session

    started = time.monotonic()
    out = settings.run_dir / "demo" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    summary: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat()}

    console.print(Rule("1. the stack"))
    launcher.up(settings, report=console.print)
    summary["frequency_cap"] = settings.frequency_cap
    if args.frequency_cap is not None:
        # A stack already running keeps the settings it started with: the AdServer, which
        # enforces the cap, starts again with this one.
        launcher.restart(settings, AdServerProcess.name, report=console.print)

    console.print(Rule(f"2. users ({args.users:,})"))
    seeded = users_commands.seed(settings, args.users)
    console.print(f"{seeded.table_rows:,} users in MySQL")

    console.print(Rule("3. the campaign feed, dates moved so that it serves now"))
    feed_started = time.monotonic()
    loaded = feed_loader.publish(settings, feed_loader.read_live_messages(FEED_CSV, settings))
    feed_loader.wait_applied(settings, loaded.end_offsets, timeout=300)
    feed_seconds = time.monotonic() - feed_started
    summary["feed"] = {"messages": loaded.messages, "seconds": round(feed_seconds, 1)}
    console.print(
        f"{loaded.messages:,} instructions applied by the Ad Manager in {feed_seconds:.1f} s "
        f"({loaded.messages / feed_seconds:,.0f}/s end to end)"
    )

    console.print(Rule(f"4. simulating devices for {args.duration:,.0f} s"))
    simulated = asyncio.run(simulator.simulate(settings, args))
    summary["simulation"] = simulated
    console.print(simulator_table(simulated))
    summary["delivery"] = report_delivery(settings, summary["started_at"], console)

    console.print(Rule("5. the bill"))
    report_started = time.monotonic()
    spark = hive_session(settings, "demo-report")
    try:
        report, reconciliation = job.run(spark, settings, args.drain, console.log)
    finally:
        spark.stop()
    summary["report_seconds"] = round(time.monotonic() - report_started, 1)
    render.print_report(report, console)
    page = html.write_html(report, reconciliation, out)
    render.write_json(report, reconciliation, out)
    summary["hive_billed"] = str(reconciliation.hive_billed)
    summary["mysql_spent"] = str(reconciliation.mysql_spent)
    summary["reconciled"] = reconciliation.verdict == 0
    summary["seconds"] = round(time.monotonic() - started, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(
        reconciliation.line(),
        style=render.reconciliation_style(reconciliation),
        soft_wrap=True,  # one line, however narrow the terminal: scripts grep it
    )
    console.print(f"HTML report: {page}\nsummary: {out / 'summary.json'}")
    return int(reconciliation.verdict)


def report_delivery(settings: Settings, started_at: str, console: Console) -> dict[str, int]:
    """report_delivery prints how widely the run delivered: campaigns served and charged."""
    reach = delivery(settings, since=datetime.fromisoformat(started_at))
    cap = settings.frequency_cap
    console.print(
        f"{reach['served']:,} of {reach['live']:,} live campaigns were served, "
        f"{reach['charged']:,} were charged"
        + (f" (default frequency cap {cap})" if cap else " (no default frequency cap)")
    )
    return reach


def delivery(settings: Settings, since: datetime) -> dict[str, int]:
    """delivery counts the campaigns live now, and those served and charged since since."""
    from sqlalchemy import func, select

    from servers.storage.db import engine
    from servers.storage.schema import campaigns, feedback, naive_utc, served_ads

    now = naive_utc(datetime.now(UTC))
    database = engine(settings.database_url)
    try:
        with database.connect() as connection:
            live = connection.scalar(
                select(func.count()).where(
                    campaigns.c.status == "ACTIVE",
                    campaigns.c.window_start <= now,
                    campaigns.c.window_end > now,
                )
            )
            served = connection.scalar(
                select(func.count(served_ads.c.campaign_id.distinct())).where(
                    served_ads.c.served_at >= naive_utc(since)
                )
            )
            charged = connection.scalar(
                select(func.count(feedback.c.campaign_id.distinct())).where(
                    feedback.c.recorded_at >= naive_utc(since), feedback.c.expenditure > 0
                )
            )
    finally:
        database.dispose()
    return {"live": int(live or 0), "served": int(served or 0), "charged": int(charged or 0)}


def simulator_table(summary: dict[str, Any]) -> Any:
    """simulator_table is the simulation summary as a table."""
    from clients.simulator.display import summary_table

    return summary_table(summary)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    if args.frequency_cap is not None:
        from pydantic import ValidationError

        try:
            settings = Settings.model_validate(
                {**settings.model_dump(), "frequency_cap": args.frequency_cap}
            )
        except ValidationError as error:
            reason = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise SystemExit(f"demo: --frequency-cap {reason}") from None
    return run(settings, args, Console())


def register(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds `adplatform demo`."""
    from clients.simulator.commands import DEVICES, parse_duration

    demo = areas.add_parser("demo", help="run the whole platform, then print the bill")
    demo.add_argument(
        "--duration",
        type=parse_duration,
        default=180.0,
        help="how long devices run: 90s, 15m, 1h (default 3m)",
    )
    demo.add_argument("--users", type=int, default=10_000, help="population size (default 10000)")
    pace = demo.add_mutually_exclusive_group()
    pace.add_argument(
        "--rate",
        type=float,
        default=RATE,
        help=f"ad requests per second (default {RATE:.0f}: what the platform sustains)",
    )
    pace.add_argument("--max", action="store_true", help="as fast as the platform answers")
    demo.add_argument("--concurrency", type=int, default=DEVICES, help="devices at once")
    demo.add_argument("--via", choices=("envoy", "grpc"), default="envoy")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument(
        "--drain",
        type=float,
        default=300.0,
        help="seconds to wait for the pipeline to catch up before the bill",
    )
    demo.add_argument(
        "--frequency-cap",
        metavar="N/PERIOD",
        help="the platform's default frequency cap for campaigns without one, e.g. 3/day "
        "(minute, hour, day or lifetime; default: the configured one, none unless set)",
    )
    demo.add_argument("--quiet", action="store_true", help="no live progress display")
    demo.set_defaults(handler=_demo, json=None)
