"""Idempotent appends to Hive tables, keyed by the micro-batch id: no reading of the archive.

Structured Streaming commits a batch in its checkpoint only after ``foreachBatch`` returned,
and replays an uncommitted batch with the same offsets (so the same rows) after a crash. An
append therefore only needs to make its own earlier attempt disappear, which a batch's files
make easy when they are named after it:

1. the rows are written to a hidden staging directory of the table (``_staging/b<batch>``;
   readers never list names starting with ``_``), one file per partition;
2. the partitions the batch touches are registered in the metastore;
3. in each partition's directory, files an earlier attempt of the same batch left
   (``b<batch>-<lineage>-*``) are deleted, then the staged files are renamed in as
   ``b<batch>-<lineage>-<n>``; the lineage names the checkpoint (spark/status.py), whose
   batch ids start from 0 again if it is ever replaced.

The cost is the batch's own rows and files, however large the table has grown. Renames are
the file system's own (local, HDFS: atomic per file), done through Hadoop's FileSystem API
so that the warehouse may live on any storage Spark reaches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyspark.sql import SparkSession

STAGING = "_staging"
_PARQUET = ".parquet"


def batch_prefix(batch_id: int, lineage: str) -> str:
    """batch_prefix starts the name of every file a batch writes ("b000000000042-1f2e3d4c-").

    lineage names the checkpoint the batch ids count in: a new checkpoint counts from 0 again,
    and its batches must never take an older checkpoint's files for their own.
    """
    return f"b{batch_id:012d}-{lineage}-"


def batch_file(batch_id: int, lineage: str, number: int) -> str:
    """batch_file is the name of a batch's number-th file in a partition."""
    return f"{batch_prefix(batch_id, lineage)}{number:03d}.snappy{_PARQUET}"


def _split(rows: pa.Table, columns: Sequence[str]) -> list[tuple[tuple[str, ...], pa.Table]]:
    """_split groups rows by the values of the partition columns."""
    if not columns:
        return [((), rows)]
    keys = rows.select(list(columns)).group_by(list(columns)).aggregate([]).to_pylist()
    parts = []
    for key in keys:
        mask = None
        for name in columns:
            test = pc.equal(rows.column(name), key[name])
            mask = test if mask is None else pc.and_(mask, test)
        parts.append((tuple(str(key[name]) for name in columns), rows.filter(mask)))
    return parts


def partition_dir(spec: Mapping[str, str]) -> str:
    """partition_dir is a partition's directory below its table ("dt=2026-01-31/hr=07")."""
    return "/".join(f"{name}={value}" for name, value in spec.items())


def partition_clause(spec: Mapping[str, str]) -> str:
    """partition_clause names a partition in SQL: PARTITION (dt='2026-01-31', hr='07')."""
    return "PARTITION (" + ", ".join(f"{name}='{value}'" for name, value in spec.items()) + ")"


def parse_partition(path: str, columns: Sequence[str]) -> dict[str, str]:
    """parse_partition reads "dt=2026-01-31/hr=07" (the end of a path) back into a spec."""
    parts = path.rstrip("/").split("/")[-len(columns) :] if columns else []
    spec = dict(part.split("=", 1) for part in parts)
    if list(spec) != list(columns):
        raise ValueError(f"{path!r} is not a partition directory of {', '.join(columns)}")
    return spec


@dataclass
class TableFiles:
    """TableFiles appends batches to one table (partitioned by columns, maybe none)."""

    spark: SparkSession
    table: str
    columns: tuple[str, ...] = ()
    locations: dict[tuple[str, ...], str] = field(default_factory=dict)
    registered: set[tuple[str, ...]] = field(default_factory=set)
    _root: str | None = None

    def _jvm(self) -> Any:
        return self.spark.sparkContext._jvm

    def _fs(self, path: str) -> Any:
        conf = self.spark.sparkContext._jsc.hadoopConfiguration()
        return self._jvm().org.apache.hadoop.fs.Path(path).getFileSystem(conf)

    def _path(self, *parts: str) -> Any:
        return self._jvm().org.apache.hadoop.fs.Path("/".join(p.rstrip("/") for p in parts))

    @staticmethod
    def _described_location(rows: list[Any]) -> str:
        for row in rows:
            if row.col_name == "Location":
                return str(row.data_type)
        raise RuntimeError("the metastore gave no location")

    @property
    def root(self) -> str:
        """root is the table's location."""
        if self._root is None:
            rows = self.spark.sql(f"DESCRIBE FORMATTED {self.table}").collect()
            self._root = self._described_location(rows)
        return self._root

    def location(self, spec: Mapping[str, str]) -> str:
        """location is where a registered partition's files live (asked once, then kept)."""
        key = tuple(spec.values())
        if key not in self.locations:
            rows = self.spark.sql(
                f"DESCRIBE FORMATTED {self.table} {partition_clause(spec)}"
            ).collect()
            self.locations[key] = self._described_location(rows)
        return self.locations[key]

    def moved(self, spec: Mapping[str, str], location: str) -> None:
        """moved records that a partition now lives elsewhere (after a compaction)."""
        self.locations[tuple(spec.values())] = location

    def register(self, specs: Sequence[Mapping[str, str]]) -> None:
        """register adds the partitions to the metastore if they are missing (once each)."""
        missing = [spec for spec in specs if tuple(spec.values()) not in self.registered]
        if missing:
            clauses = " ".join(partition_clause(spec) for spec in missing)
            self.spark.sql(f"ALTER TABLE {self.table} ADD IF NOT EXISTS {clauses}")
            self.registered.update(tuple(spec.values()) for spec in missing)

    def append_arrow(self, rows: pa.Table, batch_id: int, lineage: str) -> list[dict[str, str]]:
        """append_arrow is append for rows already on the driver: written with Arrow, no job.

        rows holds the table's columns, partition columns last. Files are Parquet as Spark
        writes them (snappy, INT96 times), so every reader of the table reads them alike.
        """
        staging = f"{self.root.rstrip('/')}/{STAGING}/{batch_prefix(batch_id, lineage).rstrip('-')}"
        fs = self._fs(staging)
        fs.delete(self._path(staging), True)
        arrow_fs, base = pafs.FileSystem.from_uri(staging)
        data = [name for name in rows.column_names if name not in self.columns]
        staged: dict[tuple[str, ...], list[Any]] = {}
        for key, part in _split(rows, self.columns):
            spec = dict(zip(self.columns, key, strict=True))
            directory = f"{base}/{partition_dir(spec)}" if self.columns else base
            arrow_fs.create_dir(directory)
            pq.write_table(
                part.select(data),
                f"{directory}/part-00000{_PARQUET}",
                filesystem=arrow_fs,
                compression="snappy",
                use_deprecated_int96_timestamps=True,
            )
            suffix = f"/{partition_dir(spec)}" if self.columns else ""
            staged[key] = [self._path(f"{staging}{suffix}/part-00000{_PARQUET}")]
        return self._place(staging, staged, batch_id, lineage)

    def _place(
        self, staging: str, staged: dict[tuple[str, ...], list[Any]], batch_id: int, lineage: str
    ) -> list[dict[str, str]]:
        """_place moves a batch's staged files into their partitions (see the module)."""
        fs = self._fs(staging)
        specs = [dict(zip(self.columns, key, strict=True)) for key in staged]
        if self.columns:
            self.register(specs)
        for key, paths in staged.items():
            spec = dict(zip(self.columns, key, strict=True))
            target = self.location(spec) if self.columns else self.root
            self.forget(target, batch_id, lineage)
            for number, path in enumerate(sorted(paths, key=lambda p: p.getName())):
                if not fs.rename(path, self._path(target, batch_file(batch_id, lineage, number))):
                    raise RuntimeError(f"could not move {path.toString()} into {target}")
        fs.delete(self._path(staging), True)
        return specs

    def forget(self, directory: str, batch_id: int, lineage: str) -> None:
        """forget deletes the files a batch wrote into a directory (an earlier attempt's)."""
        fs = self._fs(directory)
        found = fs.globStatus(self._path(directory, batch_prefix(batch_id, lineage) + "*"))
        for status in found or []:
            fs.delete(status.getPath(), False)
