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

LINEAGE = "1f2e3d4c5b6a7980"


def test_a_batch_file_starts_with_its_batch_and_sorts_by_batch() -> None:
    assert batch_file(42, LINEAGE, 0) == f"b000000000042-{LINEAGE}-000.snappy.parquet"
    assert batch_file(42, LINEAGE, 3).startswith(batch_prefix(42, LINEAGE))
    assert not batch_file(420, LINEAGE, 0).startswith(batch_prefix(42, LINEAGE))
    ordered = [batch_file(9, LINEAGE, 1), batch_file(10, LINEAGE, 0)]
    assert sorted(reversed(ordered)) == ordered


def test_another_checkpoints_batch_is_never_taken_for_this_ones() -> None:
    assert not batch_file(7, "aaaa", 0).startswith(batch_prefix(7, "bbbb"))


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
