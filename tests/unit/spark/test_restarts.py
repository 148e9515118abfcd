"""spark.restarts: when a failed streaming query starts again, and when the writer gives up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spark.restarts import (
    FAILED,
    RESTARTING,
    RUNNING,
    Backoff,
    QueryRestarts,
    cause,
    retry,
)


def test_backoff_doubles_from_one_second_up_to_thirty() -> None:
    delays = [Backoff().delay(failures) for failures in range(1, 9)]
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


@given(st.integers(min_value=1, max_value=10_000))
def test_backoff_never_exceeds_its_cap_nor_shrinks(failures: int) -> None:
    backoff = Backoff(first=0.5, cap=8.0)
    assert 0.5 <= backoff.delay(failures) <= 8.0
    assert backoff.delay(failures + 1) >= backoff.delay(failures)


def _started(budget: int = 3) -> QueryRestarts:
    query = QueryRestarts("campaign-kpis", budget=budget, stable_after=120.0)
    query.started(now=0.0)
    return query


def test_a_failed_query_restarts_after_its_backoff() -> None:
    query = _started()
    query.failed("OperationalError: MySQL is away", now=10.0)
    assert query.state == RESTARTING
    assert not query.due(now=10.9)
    assert query.due(now=11.0)  # first delay 1 s
    query.started(now=11.0)
    assert (query.state, query.restarts, query.failures) == (RUNNING, 1, 1)
    assert not query.due(now=99.0)  # a running query is never due


def test_failures_in_a_row_wait_longer_each_time() -> None:
    query = _started(budget=10)
    waits = []
    now = 0.0
    for _ in range(4):
        query.failed("boom", now=now)
        assert query.restart_at is not None
        waits.append(query.restart_at - now)
        now = query.restart_at
        query.started(now)
    assert waits == [1, 2, 4, 8]
    assert (query.restarts, query.consecutive) == (4, 4)


def test_a_committed_batch_resets_the_backoff_but_not_the_restart_count() -> None:
    query = _started(budget=10)
    for now in (1.0, 3.0, 7.0):
        query.failed("boom", now=now)
        query.started(now + 0.5)
    query.progressed()
    query.failed("boom", now=20.0)
    assert query.restart_at == 21.0  # back to the first delay
    assert (query.restarts, query.failures, query.consecutive) == (3, 4, 1)


def test_running_long_enough_counts_as_recovered_even_without_batches() -> None:
    query = _started(budget=10)
    query.failed("boom", now=1.0)
    query.started(now=2.0)
    query.failed("boom", now=3.0)
    assert query.consecutive == 2
    query.started(now=5.0)
    query.failed("boom", now=5.0 + 120.0)  # ran two minutes: the earlier failures are over
    assert query.consecutive == 1


def test_past_its_budget_a_query_is_failed_and_never_due() -> None:
    query = _started(budget=3)
    now = 0.0
    for _ in range(3):
        query.failed("metastore down", now=now)
        assert not query.exhausted
        now += 60.0
        query.started(now - 59.0)
    query.failed("metastore down", now=now)
    assert query.state == FAILED and query.exhausted
    assert not query.due(now=now + 3600)
    assert query.record()["state"] == "failed"
    assert query.record()["consecutive_failures"] == 4


def test_a_failure_to_start_counts_like_a_failure_of_the_query() -> None:
    query = _started(budget=5)
    query.failed("boom", now=0.0)
    assert query.due(now=1.0)
    query.failed("cannot start: metastore down", now=1.0)  # the restart itself failed
    assert query.restart_at == 3.0
    assert (query.restarts, query.consecutive) == (0, 2)
    assert query.last_error == "cannot start: metastore down"


def test_the_status_record_keeps_errors_short() -> None:
    query = _started()
    query.failed("x" * 10_000, now=0.0)
    record = query.record()
    assert record["state"] == "restarting" and record["restart_at"] == 1.0
    assert len(record["last_error"]) == 300


class TransientError(Exception):
    pass


def test_retry_retries_what_is_retryable_with_the_backoff() -> None:
    calls, waits = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientError
        return "done"

    result = retry(
        flaky,
        retryable=lambda error: isinstance(error, TransientError),
        attempts=5,
        backoff=Backoff(first=0.5, cap=8.0),
        sleep=waits.append,
    )
    assert (result, len(calls), waits) == ("done", 3, [0.5, 1.0])


def test_retry_raises_at_once_what_is_not_retryable() -> None:
    waits: list[float] = []

    def broken() -> None:
        raise ValueError("the record is wrong")

    with pytest.raises(ValueError):
        retry(broken, retryable=lambda e: False, attempts=5, backoff=Backoff(), sleep=waits.append)
    assert waits == []


def test_retry_gives_up_after_its_attempts() -> None:
    calls, waits = [], []

    def away() -> None:
        calls.append(1)
        raise TransientError

    with pytest.raises(TransientError):
        retry(away, retryable=lambda e: True, attempts=4, backoff=Backoff(), sleep=waits.append)
    assert (len(calls), waits) == (4, [1, 2, 4])


def test_the_cause_of_a_failed_batch_is_the_last_exception_of_its_traceback() -> None:
    message = "\n".join(
        [
            "[FOREACH_BATCH_USER_FUNCTION_ERROR] An error occurred in the user provided function.",
            "An exception was raised by the Python Proxy. Return Message: Traceback (most recent",
            '  File "/spark/kpi_sink.py", line 95, in attempt',
            "pymysql.err.ProgrammingError: (1146, \"Table 'adplatform.kpis' doesn't exist\")",
            "",
            "The above exception was the direct cause of the following exception:",
            'sqlalchemy.exc.ProgrammingError: (pymysql.err.ProgrammingError) (1146, "Table '
            "'adplatform.campaign_kpis' doesn't exist\")",
            "[SQL: INSERT INTO campaign_kpis ...]",
        ]
    )
    assert cause("StreamingQueryException: " + message) == (
        'ProgrammingError: (pymysql.err.ProgrammingError) (1146, "Table '
        "'adplatform.campaign_kpis' doesn't exist\")"
    )
    assert cause("StreamingQueryException: Kafka   leader\n changed") == (
        "StreamingQueryException: Kafka leader changed"
    )
    assert cause("the query stopped") == "the query stopped"
