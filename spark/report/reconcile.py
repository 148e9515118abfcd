"""Reconciliation: does Hive's billed total equal MySQL's spent total (the money invariant)?"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum

from servers.money import format_money


class Verdict(IntEnum):
    """Verdict is the outcome of a reconciliation; its value is the report's exit status."""

    MATCH = 0
    DIFFER = 1  # the writer caught up and the totals still differ: money is wrong somewhere
    BEHIND = 3  # the totals differ but the writer had not caught up when we gave up waiting


@dataclass(frozen=True)
class Reconciliation:
    """Reconciliation compares the billed total in Hive with the spent total in MySQL."""

    hive_billed: Decimal
    mysql_spent: Decimal
    caught_up: bool
    waited_seconds: float = 0.0

    @property
    def difference(self) -> Decimal:
        """difference is Hive's total minus MySQL's."""
        return self.hive_billed - self.mysql_spent

    @property
    def verdict(self) -> Verdict:
        """verdict: equal totals match; unequal ones differ, or are behind if still catching up."""
        if self.difference == 0:
            return Verdict.MATCH
        return Verdict.DIFFER if self.caught_up else Verdict.BEHIND

    def line(self) -> str:
        """line is the report's last line, stating the totals and whether they agree."""
        totals = (
            f"Hive billed total {format_money(self.hive_billed)} vs "
            f"MySQL spent total {format_money(self.mysql_spent)}"
        )
        if self.verdict is Verdict.MATCH:
            return f"reconciliation: {totals}: equal"
        if self.verdict is Verdict.DIFFER:
            return (
                f"reconciliation: {totals}: DIFFER by {format_money(abs(self.difference))} "
                "although the writer has caught up"
            )
        return (
            f"reconciliation: {totals}: differ by {format_money(abs(self.difference))}; "
            f"the writer had not caught up after {self.waited_seconds:.0f} s "
            "(`adplatform stack status` shows its lag; if it is down, `adplatform stack up` "
            "restarts it and it resumes from its checkpoint)"
        )
