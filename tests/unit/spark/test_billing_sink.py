"""spark.billing_sink: the pure Arrow steps of a batch: late records, positions, partitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from spark.billing_sink import LATE_SHARE, hour_partitions, late, positions, quarantine_rows
from spark.decode import TIMESTAMP
from spark.tables import QUARANTINE_COLUMNS, names

NOW = datetime(2026, 1, 31, 7, 15, tzinfo=UTC)
WINDOW = 3600.0


def _rows(*times: tuple[datetime | None, datetime]) -> pa.Table:
    """_rows are records with (Kafka time, event time)."""
    return pa.table(
        {
            "kafka_timestamp": pa.array([k for k, _ in times], TIMESTAMP),
            "timestamp": pa.array([t for _, t in times], TIMESTAMP),
        }
    )


def test_a_record_is_late_when_it_waited_or_was_published_long_after_its_event() -> None:
    half = timedelta(seconds=WINDOW * LATE_SHARE)
    rows = _rows(
        (NOW, NOW),  # on time
        (NOW - half - timedelta(seconds=1), NOW - half - timedelta(seconds=1)),  # waited
        (NOW, NOW - half - timedelta(seconds=1)),  # published long after its event
        (None, NOW),  # no Kafka time: checked, to be safe
        (NOW - half + timedelta(seconds=1), NOW - half + timedelta(seconds=1)),
    )
    assert late(rows, NOW.timestamp(), WINDOW).to_pylist() == [False, True, True, True, False]


@given(st.integers(0, 2**15 - 1), st.integers(0, 2**48 - 1))
def test_a_position_is_one_integer_that_keeps_partition_and_offset(
    partition: int, offset: int
) -> None:
    table = pa.table(
        {
            "kafka_partition": pa.array([partition], pa.int32()),
            "kafka_offset": pa.array([offset], pa.int64()),
        }
    )
    (value,) = positions(table).to_pylist()
    assert (value >> 48, value & (2**48 - 1)) == (partition, offset)


def test_partitions_are_the_events_utc_date_and_hour() -> None:
    rows = hour_partitions(
        pa.table({"timestamp": pa.array([NOW, NOW + timedelta(hours=17)], TIMESTAMP)})
    )
    assert rows.column("dt").to_pylist() == ["2026-01-31", "2026-02-01"]
    assert rows.column("hr").to_pylist() == ["07", "00"]


def test_a_quarantined_record_keeps_its_bytes_and_reason_in_the_tables_columns() -> None:
    rejected = pa.table(
        {
            "kafka_topic": ["user-feedback"],
            "kafka_partition": pa.array([2], pa.int32()),
            "kafka_offset": pa.array([41], pa.int64()),
            "kafka_timestamp": pa.array([NOW], TIMESTAMP),
            "raw": pa.array([b"\x00bad"], pa.binary()),
            "error": ["not a FeedbackEvent: truncated"],
        }
    )
    (row,) = quarantine_rows(rejected, 9, NOW.timestamp()).to_pylist()
    assert list(row) == names(QUARANTINE_COLUMNS)
    assert (row["raw"], row["reason"], row["writer_batch"]) == (
        b"\x00bad",
        "not a FeedbackEvent: truncated",
        9,
    )
    assert row["quarantined_at"] == NOW
