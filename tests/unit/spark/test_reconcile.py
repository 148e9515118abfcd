"""spark.report.reconcile: the verdict and the report's last line."""

from __future__ import annotations

from decimal import Decimal

from spark.report.reconcile import Reconciliation, Verdict


def test_equal_totals_match() -> None:
    result = Reconciliation(Decimal("1.5"), Decimal("1.5000000000"), caught_up=True)
    assert result.verdict is Verdict.MATCH and int(result.verdict) == 0
    assert result.line() == (
        "reconciliation: Hive billed total 1.5 vs MySQL spent total 1.5: equal"
    )


def test_difference_after_catching_up_fails() -> None:
    result = Reconciliation(Decimal("1.4"), Decimal("1.5"), caught_up=True)
    assert result.verdict is Verdict.DIFFER and int(result.verdict) == 1
    assert "DIFFER by 0.1" in result.line()


def test_difference_while_behind_is_reported_as_behind() -> None:
    result = Reconciliation(Decimal("1.4"), Decimal("1.5"), caught_up=False, waited_seconds=30)
    assert result.verdict is Verdict.BEHIND and int(result.verdict) == 3
    assert "had not caught up after 30 s" in result.line()
    assert "`adplatform stack up` restarts it" in result.line()  # what to do about it
