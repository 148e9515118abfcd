"""spark.commits: a batch's files are named after it, and partitions are read back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spark.commits import (
    batch_file,
    batch_prefix,
    parse_partition,
    partition_clause,
    partition_dir,
)


def test_a_batch_file_starts_with_its_batch_and_sorts_by_batch() -> None:
    assert batch_file(42, 0) == "b000000000042-000.snappy.parquet"
    assert batch_file(42, 3).startswith(batch_prefix(42))
    assert not batch_file(420, 0).startswith(batch_prefix(42))  # no batch is a prefix of another
    assert sorted([batch_file(10, 0), batch_file(9, 1)]) == [batch_file(9, 1), batch_file(10, 0)]


def test_partitions_are_named_as_hive_names_them() -> None:
    spec = {"dt": "2026-01-31", "hr": "07"}
    assert partition_dir(spec) == "dt=2026-01-31/hr=07"
    assert partition_clause(spec) == "PARTITION (dt='2026-01-31', hr='07')"


@given(st.dates(), st.integers(0, 23))
def test_a_partition_directory_reads_back_as_its_spec(day: object, hour: int) -> None:
    spec = {"dt": str(day), "hr": f"{hour:02d}"}
    path = "file:/warehouse/db.db/feedback_events/" + partition_dir(spec)
    assert parse_partition(path, ("dt", "hr")) == spec


def test_a_directory_of_other_columns_is_refused() -> None:
    with pytest.raises(ValueError, match="not a partition directory"):
        parse_partition("file:/t/day=2026-01-31/hr=07", ("dt", "hr"))
