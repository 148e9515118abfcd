"""spark.kpi_sink: pending counts survive as files; the addition rides out a MySQL away briefly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pymysql
import pytest
from sqlalchemy import Engine
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import OperationalError, ProgrammingError

from spark import kpi_sink
from spark.decode import MONEY, TIMESTAMP
from spark.kpi_sink import PendingCounts, counts_of, minute_counts
from spark.kpis import MinuteCounts, merge_reach, merge_reach_by_campaign, reach_estimate
from spark.tables import KPI_COLUMNS, names

COUNTS = [MinuteCounts("c-1", datetime(2026, 1, 31, 7, 15), 3, 2, 1, Decimal("0.0406"))]


def operational(number: int) -> OperationalError:
    return OperationalError("INSERT ...", {}, pymysql.err.OperationalError(number, "away"))


class FlakyEngine:
    """FlakyEngine fails its first transactions with the given errors, then records statements."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.attempts = 0
        self.executed: list[tuple[str, list[dict[str, Any]]]] = []

    @contextmanager
    def begin(self) -> Iterator[FlakyEngine]:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        yield self

    def execute(self, statement: Any, rows: list[dict[str, Any]]) -> None:
        self.executed.append((str(statement.compile(dialect=mysql.dialect())), rows))


def _upsert(database: FlakyEngine, waits: list[float]) -> None:
    kpi_sink.add_counts(
        cast(Engine, database), "campaign_kpis", "stream", {7: COUNTS}, sleep=waits.append
    )


def test_a_transient_failure_is_retried_until_mysql_answers() -> None:
    database = FlakyEngine(operational(2013), operational(1205), operational(2003), missing())
    waits: list[float] = []
    with pytest.raises(ProgrammingError):  # the fourth attempt got through to MySQL's answer
        _upsert(database, waits)
    assert database.attempts == 4
    assert waits == [0.5, 1.0, 2.0]


def missing() -> ProgrammingError:
    return ProgrammingError("INSERT", {}, pymysql.err.ProgrammingError(1146, "no such table"))


def test_a_mysql_away_too_long_fails_the_batch_after_bounded_attempts() -> None:
    database = FlakyEngine(*[operational(2003)] * 10)
    waits: list[float] = []
    with pytest.raises(OperationalError):
        _upsert(database, waits)
    assert database.attempts == kpi_sink.UPSERT_ATTEMPTS
    assert sum(waits) <= 16  # bounded: the query's restart policy takes it from there
    assert database.executed == []


def test_an_error_that_is_not_transient_fails_at_once() -> None:
    database = FlakyEngine(missing())
    waits: list[float] = []
    with pytest.raises(ProgrammingError):
        _upsert(database, waits)
    assert (database.attempts, waits) == (1, [])


def test_nothing_pending_touches_nothing() -> None:
    database = FlakyEngine(operational(2003))
    assert kpi_sink.add_counts(cast(Engine, database), "t", "s", {}, sleep=pytest.fail) == []
    assert database.attempts == 0


def _events(*rows: tuple[str, datetime, int, int, str]) -> pa.Table:
    """_events is an archived batch's columns the counts read, one row per event."""
    return pa.table(
        {
            "campaign_id": [r[0] for r in rows],
            "timestamp": pa.array([r[1].replace(tzinfo=UTC) for r in rows], TIMESTAMP),
            "click": pa.array([r[2] for r in rows], pa.int32()),
            "acquisition": pa.array([r[3] for r in rows], pa.int32()),
            "expenditure": pa.array([Decimal(r[4]) for r in rows], MONEY),
        }
    )


MINUTE = datetime(2026, 1, 31, 7, 15)
EVENTS = _events(
    ("c-1", MINUTE.replace(second=1), 1, 0, "0.0003"),
    ("c-1", MINUTE.replace(second=59, microsecond=999_999), 1, 1, "0.04"),
    ("c-1", MINUTE.replace(minute=16), 0, 0, "0"),
    ("c-2", MINUTE.replace(second=30), 0, 0, "0"),
)


def test_counts_are_per_campaign_and_minute_of_event_time_exactly() -> None:
    counts = {c.key: c for c in counts_of(minute_counts(EVENTS))}
    assert counts == {
        ("c-1", MINUTE): MinuteCounts("c-1", MINUTE, 2, 2, 1, Decimal("0.0403")),
        ("c-1", MINUTE.replace(minute=16)): MinuteCounts(
            "c-1", MINUTE.replace(minute=16), 1, 0, 0, Decimal(0)
        ),
        ("c-2", MINUTE): MinuteCounts("c-2", MINUTE, 1, 0, 0, Decimal(0)),
    }


def test_pending_counts_come_back_exactly_oldest_batch_first(tmp_path: Path) -> None:
    pending = PendingCounts(tmp_path / "pending")
    assert pending.batches() == []
    later = _events(("c-2", MINUTE.replace(minute=16), 0, 0, "0.0000000001"))
    pending.put(12, minute_counts(later))
    pending.put(3, minute_counts(EVENTS))
    assert pending.batches() == [3, 12]
    assert sorted(pending.read(3), key=lambda c: c.key) == sorted(
        counts_of(minute_counts(EVENTS)), key=lambda c: c.key
    )
    (tiny,) = pending.read(12)
    assert tiny.spend == Decimal("0.0000000001")


def test_a_replayed_batch_replaces_its_pending_counts(tmp_path: Path) -> None:
    pending = PendingCounts(tmp_path)
    pending.put(5, minute_counts(pa.concat_tables([EVENTS, EVENTS])))
    pending.put(5, minute_counts(EVENTS))
    assert sum(c.impressions for c in pending.read(5)) == EVENTS.num_rows
    assert [p.name for p in tmp_path.iterdir()] == ["000000000005.arrow"]  # no temporary left


def test_dropping_removes_the_batches_added_and_keeps_the_newer(tmp_path: Path) -> None:
    pending = PendingCounts(tmp_path)
    for batch_id in (1, 2, 3):
        pending.put(batch_id, minute_counts(EVENTS))
    pending.drop(2)
    assert pending.batches() == [3]


def test_the_change_log_is_written_in_the_tables_columns() -> None:
    assert kpi_sink.KPI_SCHEMA.names == names(KPI_COLUMNS)


def _reached(*rows: tuple[str, str]) -> pa.Table:
    """_reached is an archived batch's campaign and user columns, one row per event."""
    return pa.table({"campaign_id": [r[0] for r in rows], "user_id": [r[1] for r in rows]})


def _estimates(sketches: dict[str, bytes]) -> dict[str, int]:
    return {c: reach_estimate(merge_reach([s])) for c, s in sketches.items()}


def test_a_batch_has_one_sketch_of_its_users_per_campaign() -> None:
    batch = _reached(
        ("c-1", "u-1"),
        ("c-1", "u-1"),
        ("c-1", "u-2"),
        ("c-2", "u-1"),
        ("c-3", "1111-1111-1111-1111"),  # the privacy id is nobody's reach
    )
    table = kpi_sink.reach_sketches(batch)
    assert table.schema == kpi_sink.REACH_SCHEMA
    sketches = dict(zip(table["campaign_id"].to_pylist(), table["sketch"].to_pylist(), strict=True))
    assert _estimates(sketches) == {"c-1": 2, "c-2": 1}


def test_pending_reach_is_kept_beside_the_counts_and_dropped_with_them(tmp_path: Path) -> None:
    pending = PendingCounts(tmp_path)
    batch = _reached(("c-1", "u-1"), ("c-1", "u-2"))
    pending.put(4, minute_counts(EVENTS), kpi_sink.reach_sketches(batch))
    pending.put(5, minute_counts(EVENTS))  # written before reach was kept: no sketches
    assert pending.batches() == [4, 5]
    assert _estimates(pending.read_reach(4)) == {"c-1": 2}
    assert pending.read_reach(5) == {}
    pending.drop(5)
    assert list(tmp_path.iterdir()) == []


def test_replayed_batches_merge_to_the_same_reach(tmp_path: Path) -> None:
    pending = PendingCounts(tmp_path)
    batch = kpi_sink.reach_sketches(_reached(*((f"c-{n % 3}", f"u-{n}") for n in range(3000))))
    pending.put(1, minute_counts(EVENTS), batch)
    once = merge_reach_by_campaign([pending.read_reach(1)])
    pending.put(1, minute_counts(EVENTS), batch)  # the replay writes the same file again
    again = merge_reach_by_campaign([pending.read_reach(1), pending.read_reach(1)])
    assert once == again
    assert sum(_estimates(once).values()) == pytest.approx(3000, rel=0.05)
