"""spark.feedback_writer: a failed query is restarted on its own; the other one is not touched."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import cast

from pyspark.sql.streaming.query import StreamingQuery

from servers.settings import Settings
from spark.feedback_writer import Journal, Queries
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


def test_a_committed_batch_resets_the_failures_in_a_row(tmp_path: Path) -> None:
    journal, queries, starters = _writer(tmp_path)
    starters[KPI_QUERY].started[0].error = RuntimeError("away")
    queries.watch()
    journal.kpis(batch_id=7, written=3)
    assert journal.restarts[KPI_QUERY].consecutive == 0
    assert journal.restarts[KPI_QUERY].restarts == 1


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
