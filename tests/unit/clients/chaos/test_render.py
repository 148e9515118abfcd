"""The chaos run's tables and JSON say what was done and what held."""

from __future__ import annotations

import io
import json

from rich.console import Console

from clients.chaos.books import Check
from clients.chaos.plan import plan
from clients.chaos.render import Outcome, as_json, checks_table, fault_table, summary_line
from clients.chaos.windows import FaultReport, FaultWindow, Tally


def _outcome(held: bool = True) -> Outcome:
    kafka, freeze = plan(["kafka", "mariadb-freeze"])
    rows = [
        (
            kafka,
            FaultReport(FaultWindow("kafka", 10, 10, 22.5, 41, 77), Tally(100, 90), Tally(80, 40)),
        ),
        (
            freeze,
            FaultReport(
                FaultWindow("mariadb-freeze", 40, 60, None, 9, 9), Tally(0, 0), Tally(5, 0)
            ),
        ),
    ]
    checks = [Check("no request id in Hive twice", held, "3 rows, 3 request ids")]
    return Outcome(40, rows, checks, Tally(1000, 990), Tally(900, 880), 31, 123.4, {"run_id": "x"})


def _text(table: object) -> str:
    out = io.StringIO()
    Console(file=out, width=200).print(table)
    return out.getvalue()


def test_the_fault_table_shows_pids_time_back_and_success_rates() -> None:
    text = _text(fault_table(_outcome()))
    assert "41 → 77" in text
    assert "12.5" in text
    assert "90.0%" in text
    assert "50.0%" in text
    assert "never" in text
    assert "SIGSTOP 20 s" in text


def test_the_checks_table_and_summary_say_whether_the_books_held() -> None:
    assert "held" in _text(checks_table(_outcome()))
    assert "FAILED" in _text(checks_table(_outcome(held=False)))
    assert "every invariant held" in summary_line(_outcome())
    assert "INVARIANTS FAILED" in summary_line(_outcome(held=False))


def test_the_json_document_is_plain_values() -> None:
    document = json.loads(json.dumps(as_json(_outcome())))
    assert document["held"] is True
    assert document["run_id"] == "x"
    assert document["faults"][0]["back_after_seconds"] == 12.5
    assert document["faults"][1]["back_after_seconds"] is None
    assert document["faults"][0]["serve"] == {"sent": 100, "answered": 90, "success_rate": 0.9}
