"""spark.compaction: which hours are rewritten, and which files a rewrite must leave alone."""

from __future__ import annotations

from datetime import UTC, datetime

from spark.commits import batch_file
from spark.compaction import _uncommitted, hour_end, settled

SPEC = {"dt": "2026-01-31", "hr": "23"}
END = datetime(2026, 2, 1, 0, 0, tzinfo=UTC).timestamp()


def test_an_hour_ends_at_the_next_hour_utc_across_the_day() -> None:
    assert hour_end(SPEC) == END


def test_an_hour_settles_after_its_end_and_its_last_write() -> None:
    assert not settled(SPEC, last_write=0.0, now=END + 599, after=600)
    assert settled(SPEC, last_write=0.0, now=END + 600, after=600)
    late_write = END + 3000  # a late event came: the hour waits again
    assert not settled(SPEC, last_write=late_write, now=END + 3500, after=600)
    assert settled(SPEC, last_write=late_write, now=late_write + 600, after=600)


def test_a_rewrite_leaves_the_files_of_this_batch_and_later_ones() -> None:
    lineage = "0123456789abcdef"
    assert _uncommitted(f"file:/w/dt=x/hr=y/{batch_file(7, lineage, 0)}", 7, lineage)
    assert _uncommitted(f"file:/w/{batch_file(8, lineage, 2)}", 7, lineage)
    assert not _uncommitted(f"file:/w/{batch_file(6, lineage, 0)}", 7, lineage)
    assert not _uncommitted(f"file:/w/{batch_file(9, 'fedcba9876543210', 0)}", 7, lineage)
    assert not _uncommitted("file:/w/c000000000003-0123456789abcdef-000.snappy.parquet", 7, lineage)
    assert not _uncommitted("file:/w/part-00000-1234.snappy.parquet", 7, lineage)
