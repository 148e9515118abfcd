"""How a chaos run reads: the per-fault table, the invariants table, and the JSON document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from clients.chaos.books import Check
from clients.chaos.plan import Fault
from clients.chaos.windows import FaultReport, Tally


@dataclass(frozen=True)
class Outcome:
    """Outcome is a whole run: its settings, each fault's row, the invariants and the traffic."""

    rate: float
    faults: Sequence[tuple[Fault, FaultReport]]
    checks: Sequence[Check]
    serve: Tally
    feedback: Tally
    instructions: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        """held is true when every invariant held."""
        return all(check.held for check in self.checks)


def _percent(tally: Tally) -> str:
    rate = tally.success_rate
    return "-" if rate is None else f"{rate:.1%}"


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def _pids(before: int | None, after: int | None) -> str:
    return f"{before or '-'} → {after or '-'}"


def fault_table(outcome: Outcome) -> Table:
    """fault_table has one row per fault: what was done, traffic during it, time until back."""
    table = Table(
        "fault",
        "how",
        "pid before → after",
        "back after s",
        "ads asked",
        "ads ok",
        "feedback sent",
        "feedback ok",
        title=f"faults under {outcome.rate:g} ads/s through Envoy",
    )
    for fault, row in outcome.faults:
        window = row.window
        table.add_row(
            fault.name,
            fault.describe(),
            _pids(window.pid_before, window.pid_after),
            _seconds(window.back_after),
            f"{row.serve.sent:,}",
            _percent(row.serve),
            f"{row.feedback.sent:,}",
            _percent(row.feedback),
        )
    return table


def checks_table(outcome: Outcome) -> Table:
    """checks_table lists every invariant with held or FAILED and its figures."""
    table = Table("invariant", "verdict", "figures", title="the books")
    for check in outcome.checks:
        verdict = "[green]held[/]" if check.held else "[bold red]FAILED[/]"
        table.add_row(check.name, verdict, check.detail)
    return table


def summary_line(outcome: Outcome) -> str:
    """summary_line is the run in one line, the last thing printed."""
    verdict = "every invariant held" if outcome.held else "INVARIANTS FAILED"
    return (
        f"chaos: {len(outcome.faults)} faults in {outcome.seconds:.0f} s; "
        f"{outcome.serve.sent:,} ad requests ({_percent(outcome.serve)} answered), "
        f"{outcome.feedback.sent:,} feedback calls ({_percent(outcome.feedback)} answered), "
        f"{outcome.instructions:,} instructions accepted; {verdict}"
    )


def _tally(tally: Tally) -> dict[str, Any]:
    return {"sent": tally.sent, "answered": tally.answered, "success_rate": tally.success_rate}


def as_json(outcome: Outcome) -> dict[str, Any]:
    """as_json is the run as plain values, for machines (``--json``)."""
    return {
        "held": outcome.held,
        "rate": outcome.rate,
        "seconds": round(outcome.seconds, 1),
        "serve": _tally(outcome.serve),
        "feedback": _tally(outcome.feedback),
        "instructions_accepted": outcome.instructions,
        "faults": [
            {
                "name": fault.name,
                "part": fault.part,
                "how": fault.describe(),
                "pid_before": row.window.pid_before,
                "pid_after": row.window.pid_after,
                "back_after_seconds": None
                if row.window.back_after is None
                else round(row.window.back_after, 2),
                "note": row.window.note,
                "serve": _tally(row.serve),
                "feedback": _tally(row.feedback),
            }
            for fault, row in outcome.faults
        ],
        "invariants": [
            {"name": check.name, "held": check.held, "detail": check.detail}
            for check in outcome.checks
        ],
        **outcome.extra,
    }
