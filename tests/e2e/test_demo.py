"""The demo end to end: about a minute of simulated devices on the real stack, then the bill.

It runs `adplatform demo` as a user would, against the session's stack (it runs last, after
every other test has charged its money the real way), and checks the invariant of docs/design.md §4:
Σ expenditure acknowledged to the devices = what MySQL's spent grew by, Hive's billed total
= MySQL's spent total, no request id billed twice, no campaign past its budget, and the bill
lists every campaign that was charged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from servers.settings import Settings

pytestmark = pytest.mark.e2e


def _books(database: Engine) -> tuple[Decimal, int]:
    """_books is MySQL's total spent and its number of feedback rows."""
    with database.connect() as connection:
        spent = connection.execute(text("SELECT COALESCE(SUM(spent), 0) FROM campaigns"))
        rows = connection.execute(text("SELECT COUNT(*) FROM feedback"))
        return Decimal(spent.scalar_one()), int(rows.scalar_one())


def _environment(settings: Settings) -> dict[str, str]:
    """_environment points the CLI at the stack, as `stack env` would."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ADPLATFORM_")}
    return {**base, **settings.child_environment()}


def test_demo_reconciles_to_the_cent(stack: Settings, database: Engine) -> None:
    spent_before, feedback_before = _books(database)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "clients.cli",
            "demo",
            "--duration",
            "60s",
            "--users",
            "3000",
            "--rate",
            "40",
            "--concurrency",
            "12",
            "--quiet",
        ],
        env=_environment(stack),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "reconciliation:" in result.stdout and ": equal" in result.stdout

    (out,) = sorted((stack.run_dir / "demo").iterdir())[-1:]
    summary = json.loads((out / "summary.json").read_text())
    report = json.loads((out / "report.json").read_text())
    simulation = summary["simulation"]
    assert simulation["requests"] > 500
    assert simulation["filled"] > 0 and simulation["feedback"] == simulation["filled"]
    assert "feedback abandoned" not in simulation["errors"]

    acknowledged = Decimal(simulation["spend"])
    assert acknowledged > 0
    spent_after, feedback_after = _books(database)
    assert spent_after - spent_before == acknowledged
    assert feedback_after - feedback_before == simulation["feedback"]
    assert Decimal(summary["mysql_spent"]) == spent_after
    assert Decimal(summary["hive_billed"]) == spent_after

    with database.connect() as connection:
        charged = {
            row.campaign_id
            for row in connection.execute(text("SELECT campaign_id FROM campaigns WHERE spent > 0"))
        }
        overspent = connection.execute(
            text("SELECT COUNT(*) FROM campaigns WHERE spent > budget")
        ).scalar_one()
    assert overspent == 0
    billed = {row["campaign_id"] for row in report["views"]["bill"]["rows"]}
    assert charged <= billed
    assert report["totals"]["impressions"] == feedback_after  # each request id billed once
    assert (out / "report.html").is_file()
