"""spark.feedback_writer: a failed query is restarted on its own; failed KPIs wait their turn."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import cast

from pyspark.sql.streaming.query import StreamingQuery

from servers.settings import Settings
from spark.feedback_writer import Counting, Journal, Queries
from spark.kpi_sink import KpiSink
from spark.restarts import Backoff, QueryRestarts
from spark.status import BILLING_QUERY, KPI_QUERY, status_file


class Query:
    """Query stands in for a StreamingQuery: running until told it failed."""

    def __init__(self) -> None:
        self.error: Exception | None = None
        self.stopped = False

    @property
    def isActive(self) -> bool:  # noqa: N802 - StreamingQuery's name
        return self.error is None and not self.stopped

    def exception(self) -> Exception | None:
        return self.error

    def stop(self) -> None:
        self.stopped = True


class Starter:
    """Starter starts Query objects, or fails to while told to."""

    def __init__(self) -> None:
        self.started: list[Query] = []
        self.refusals: list[Exception] = []

    def __call__(self) -> StreamingQuery:
        if self.refusals:
            raise self.refusals.pop(0)
        self.started.append(Query())
        return cast(StreamingQuery, self.started[-1])


def _writer(tmp_path: Path, budget: int = 12) -> tuple[Journal, Queries, dict[str, Starter]]:
    journal = Journal(Settings(run_dir=tmp_path))
    for name in (BILLING_QUERY, KPI_QUERY):  # no wait before a restart: the test is the clock
        journal.restarts[name] = QueryRestarts(name, backoff=Backoff(first=0.0), budget=budget)
    # Queries keeps any number of queries; the writer runs one, two show they stay apart.
    starters = {BILLING_QUERY: Starter(), KPI_QUERY: Starter()}
    queries = Queries(journal, cast(dict[str, Callable[[], StreamingQuery]], starters))
    queries.start()
    return journal, queries, starters


def test_a_failed_kpi_query_restarts_and_the_billing_query_is_untouched(tmp_path: Path) -> None:
    journal, queries, starters = _writer(tmp_path)
    first = starters[KPI_QUERY].started[0]
    first.error = RuntimeError("ProgrammingError: (1146, \"Table 'campaign_kpis' doesn't exist\")")
    queries.watch()
    assert first.stopped
    assert len(starters[KPI_QUERY].started) == 2  # started again, from its checkpoint
    assert queries.running[KPI_QUERY] is starters[KPI_QUERY].started[1]
    billing = starters[BILLING_QUERY].started
    assert len(billing) == 1 and not billing[0].stopped
    journal.flush(queries.running)
    record = json.loads(status_file(journal.settings).read_text())
    kpis = record["queries"][KPI_QUERY]
    assert (kpis["state"], kpis["restarts"], kpis["failures"]) == ("running", 1, 1)
    assert kpis["last_error"].startswith("RuntimeError: ProgrammingError: (1146")
    assert record["active"] == {BILLING_QUERY: True, KPI_QUERY: True}


def test_a_query_that_cannot_start_again_is_retried_at_its_next_turn(tmp_path: Path) -> None:
    journal, queries, starters = _writer(tmp_path)
    starters[BILLING_QUERY].started[0].error = RuntimeError("metastore down")
    starters[BILLING_QUERY].refusals.append(RuntimeError("metastore still down"))
    queries.watch()
    assert queries.running[BILLING_QUERY] is None
    assert journal.restarts[BILLING_QUERY].consecutive == 2
    queries.watch()
    assert queries.running[BILLING_QUERY] is starters[BILLING_QUERY].started[1]
    assert journal.restarts[BILLING_QUERY].restarts == 1


def test_added_kpis_reset_the_failures_in_a_row_and_count_a_restart(tmp_path: Path) -> None:
    journal, _, _ = _writer(tmp_path)
    journal.failed(KPI_QUERY, "OperationalError: (2003, MySQL away)")
    assert journal.restarts[KPI_QUERY].state == "restarting"
    journal.kpis(written=3)
    kpis = journal.restarts[KPI_QUERY]
    assert (kpis.state, kpis.consecutive, kpis.restarts) == ("running", 0, 1)


class Kpis:
    """Kpis stands in for the KPI sink: fails while told to, then adds what is pending."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def catch_up(self) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return 2


def _count(journal: Journal, kpis: Kpis, rounds: int) -> None:
    """_count runs the counting thread's rounds one after the other, without the thread."""
    counting = Counting(journal, cast(KpiSink, kpis), threading.Event())
    for _ in range(rounds):
        counting.once()


def test_kpis_that_cannot_be_added_wait_their_backoff_and_never_touch_the_query(
    tmp_path: Path,
) -> None:
    journal, _, starters = _writer(tmp_path)
    journal.restarts[KPI_QUERY] = QueryRestarts(KPI_QUERY, backoff=Backoff(first=3600.0))
    kpis = Kpis(RuntimeError("OperationalError: (2003, MySQL away)"))
    _count(journal, kpis, rounds=3)
    assert kpis.calls == 1  # the other rounds waited out the backoff
    record = journal.restarts[KPI_QUERY]
    assert (record.state, record.failures) == ("restarting", 1)
    assert record.last_error is not None and "MySQL away" in record.last_error
    billing = starters[BILLING_QUERY].started
    assert len(billing) == 1 and not billing[0].stopped


def test_kpis_are_added_again_once_their_backoff_is_over(tmp_path: Path) -> None:
    journal, _, _ = _writer(tmp_path)
    kpis = Kpis(RuntimeError("away"), RuntimeError("still away"))
    _count(journal, kpis, rounds=4)
    assert kpis.calls == 4
    record = journal.restarts[KPI_QUERY]
    assert (record.state, record.failures, record.restarts) == ("running", 2, 2)
    assert journal.last[KPI_QUERY]["campaign_minutes"] == 2


def test_a_query_failing_past_its_budget_ends_the_writer(tmp_path: Path) -> None:
    journal, queries, starters = _writer(tmp_path, budget=2)
    for _ in range(3):
        assert journal.exhausted() == []
        starters[KPI_QUERY].started[-1].error = RuntimeError("still away")
        queries.watch()
    assert journal.exhausted() == [KPI_QUERY]
    assert queries.running[KPI_QUERY] is None
    assert len(starters[KPI_QUERY].started) == 3  # never started after giving up
    queries.stop()
    assert starters[BILLING_QUERY].started[0].stopped
