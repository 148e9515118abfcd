"""Few files per hour: a settled hour partition of the archive is rewritten as one file.

Each batch writes one file per partition it touches, so an hour of a busy stream holds a file
per batch. Once an hour is over and has settled (no batch wrote to it for
``spark_compact_after_seconds``, 10 minutes, after its end), the writer rewrites it as one
file, at the start of a batch: every earlier batch is committed then, and no batch writes
meanwhile (it is the batch's own thread); a file of an uncommitted batch (a replay's own)
leaves the hour for later.

The new file goes to a new directory beside the old one (``hr=07.c<batch>``) and the
partition's location is moved in the metastore with one statement, so a reader sees the old
files or the new file, never both. The old directory is deleted once ``RETIRE_SECONDS`` have
passed, long after any query that listed it has read it. A replayed batch compacts again into
the same directory (same name), and a late event for a compacted hour is appended to the new
location and merged at its next compaction. Cost: one rewrite of each hour, once, after it ended
(at most one hour per batch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from spark.commits import (
    TableFiles,
    batch_prefix,
    parse_partition,
    partition_clause,
    partition_dir,
)

log = logging.getLogger(__name__)

RETIRE_SECONDS = 3600.0  # how long a replaced directory is kept for readers that listed it
SEED_SECONDS = 2 * 86400.0  # a started writer looks this far back for hours to compact
_PARQUET = ".parquet"


def hour_end(spec: dict[str, str]) -> float:
    """hour_end is when a (dt, hr) partition's hour ends, in seconds since the epoch (UTC)."""
    start = datetime.strptime(f"{spec['dt']} {spec['hr']}", "%Y-%m-%d %H").replace(tzinfo=UTC)
    return (start + timedelta(hours=1)).timestamp()


def _uncommitted(path: str, batch_id: int, lineage: str) -> bool:
    """_uncommitted is true for a file of this batch or a later one: not committed yet."""
    name = path.rsplit("/", 1)[-1]
    prefix = batch_prefix(0, lineage)  # b000000000000-<lineage>-
    digits = len(prefix) - len(lineage) - 3
    if not (name.startswith("b") and name[1 + digits :].startswith(f"-{lineage}-")):
        return False
    return int(name[1 : 1 + digits]) >= batch_id


def settled(spec: dict[str, str], last_write: float, now: float, after: float) -> bool:
    """settled is true once the hour is over and nothing wrote to it for after seconds."""
    return now >= max(hour_end(spec), last_write) + after


@dataclass
class Compaction:
    """Compaction rewrites the settled hours of one hour-partitioned table (see the module)."""

    files: TableFiles
    settle_seconds: float
    written: dict[tuple[str, ...], float] = field(default_factory=dict)
    retired: list[tuple[str, float]] = field(default_factory=list)
    seeded: bool = False

    def wrote(self, specs: list[dict[str, str]], now: float) -> None:
        """wrote notes the partitions a batch wrote to, and when."""
        for spec in specs:
            self.written[tuple(spec.values())] = now

    def run(self, batch_id: int, lineage: str, now: float) -> dict[str, str] | None:
        """run compacts at most one settled partition; returns the one it compacted.

        A rewrite is an optimisation: one that fails leaves the hour as it is, readable and
        complete, and never fails the batch.
        """
        try:
            if not self.seeded:
                self._seed(now)
            self._retire(now)
        except Exception:
            log.exception("could not look for hours to compact in %s", self.files.table)
            return None
        for key, last in sorted(self.written.items()):
            spec = dict(zip(self.files.columns, key, strict=True))
            if settled(spec, last, now, self.settle_seconds):
                del self.written[key]
                try:
                    if self._compact(spec, batch_id, lineage, now):
                        return spec
                except Exception:
                    log.exception("could not compact %s %s", self.files.table, spec)
        return None

    def _seed(self, now: float) -> None:
        """_seed takes the last two days' partitions as candidates (a restarted writer's)."""
        self.seeded = True
        for row in self.files.spark.sql(f"SHOW PARTITIONS {self.files.table}").collect():
            spec = parse_partition(str(row[0]), self.files.columns)
            if now - hour_end(spec) < SEED_SECONDS:
                self.written.setdefault(tuple(spec.values()), 0.0)

    def _visible(self, location: str) -> list[str]:
        """_visible lists the data files a reader of the location sees."""
        arrow_fs, path = pafs.FileSystem.from_uri(location)
        selector = pafs.FileSelector(path, allow_not_found=True)
        return [
            info.path
            for info in arrow_fs.get_file_info(selector)
            if info.type == pafs.FileType.File
            and info.base_name.endswith(_PARQUET)
            and not info.base_name.startswith(("_", "."))
        ]

    def _compact(self, spec: dict[str, str], batch_id: int, lineage: str, now: float) -> bool:
        old = self.files.location(spec)
        arrow_fs, _ = pafs.FileSystem.from_uri(old)
        paths = self._visible(old)
        if len(paths) <= 1 or any(_uncommitted(path, batch_id, lineage) for path in paths):
            return False
        table = pq.read_table(
            paths, filesystem=arrow_fs, partitioning=None, coerce_int96_timestamp_unit="us"
        )
        new = f"{self.files.root.rstrip('/')}/{partition_dir(spec)}.c{batch_id}-{lineage}"
        new_fs, new_path = pafs.FileSystem.from_uri(new)
        new_fs.create_dir(new_path)
        name = f"{batch_prefix(batch_id, lineage).replace('b', 'c', 1)}000.snappy{_PARQUET}"
        pq.write_table(
            table,
            f"{new_path}/{name}",
            filesystem=new_fs,
            compression="snappy",
            use_deprecated_int96_timestamps=True,
        )
        self.files.spark.sql(
            f"ALTER TABLE {self.files.table} {partition_clause(spec)} SET LOCATION '{new}'"
        )
        self.files.moved(spec, new)
        if old != new:
            self.retired.append((old, now))
        log.info(
            "compacted %s %s: %s files, %s rows", self.files.table, spec, len(paths), len(table)
        )
        return True

    def _retire(self, now: float) -> None:
        """_retire deletes the replaced directories no reader needs any more."""
        keep = []
        for location, since in self.retired:
            if now - since < RETIRE_SECONDS:
                keep.append((location, since))
                continue
            arrow_fs, path = pafs.FileSystem.from_uri(location)
            arrow_fs.delete_dir(path)
        self.retired = keep
