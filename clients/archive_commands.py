"""`adplatform archive run`: copy campaigns and served ads from MySQL into Hive (spark/archive.py).

Incremental and idempotent: run it as often as you like; a run with nothing new writes nothing.
"""

from __future__ import annotations

import argparse

from servers.settings import Settings


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    from spark import archive
    from spark.session import hive_session

    console = Console()
    with console.status("archiving MySQL into Hive"):
        spark = hive_session(settings, "archive")
        try:
            outcome = archive.run(spark, settings)
        finally:
            spark.stop()
    console.print(
        f"campaigns: {outcome.campaigns_read:,} read, {outcome.campaigns_changed:,} changed; "
        f"served ads: {outcome.served_read:,} read, {outcome.served_added:,} added "
        f"(Hive database {settings.hive_database})"
    )
    return 0


def register(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds the archive commands."""
    commands = areas.add_parser(
        "archive", help="copy MySQL's campaigns and served ads into Hive"
    ).add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="one incremental, idempotent copy").set_defaults(handler=_run)
