"""The billing archive's micro-batch sink: decoded feedback into Hive, each request id once.

Structured Streaming calls :func:`write_batch` from ``foreachBatch`` and commits the batch in
its checkpoint only after the function returns. Two things could archive an event twice, and
neither needs the archive to be read:

- **a replay**: a crash before the checkpoint commit replays the same batch (same Kafka
  offsets, the same rows). The batch's files are named after its id (spark/commits.py), so the
  replay replaces its earlier attempt's files instead of adding to them.
- **a republish**: the outbox relay may publish one event twice (byte-identical, same request
  id). The index of ids archived within the dedup window (spark/seen_ids.py) names the copies,
  at the cost of the batch's own keys; within a batch the lowest Kafka position wins.

A copy of an event archived before the index's window began can only arrive in a record that
waited in Kafka, or was published after its event, more than half the window: the relay
republishing after a long outage, or the writer catching up after one. Those few records (and
only those) are also checked against their own hour partitions, as every record once was.

The batch is read once, as Arrow on the driver: the index, the partitions, the files (one per
(dt, hr) partition it touches, registered in the metastore so Hive-protocol readers see them)
and the KPI counts are all computed from that one read, with no further Spark job. Records
that did not decode go to the quarantine table the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as sf

from spark import status
from spark.commits import TableFiles
from spark.compaction import Compaction
from spark.seen_ids import Seen, SeenIds
from spark.tables import BILLING_COLUMNS, QUARANTINE_COLUMNS, Tables, names

# A record is checked against the archive too when it waited in Kafka, or was published after
# its event, more than this share of the dedup window: its first copy may be older than the
# index's window (see the module docstring).
LATE_SHARE = 0.5
_POSITION_BITS = 48  # a Kafka position as one integer: partition << 48 | offset


@dataclass(frozen=True)
class BatchOutcome:
    """BatchOutcome counts what one micro-batch did to the archive."""

    batch_id: int
    input_rows: int
    inserted: int
    duplicates: int
    quarantined: int
    seconds: dict[str, float] = field(default_factory=dict)  # where the batch's time went


class Steps:
    """Steps times the steps of a batch: ``with steps("archive"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        begun = time.monotonic()
        try:
            yield
        finally:
            spent = time.monotonic() - begun
            self.seconds[name] = round(self.seconds.get(name, 0.0) + spent, 3)


@dataclass
class Archive:
    """Archive is the writer's handle on the billing and quarantine tables."""

    spark: SparkSession
    tables: Tables
    seen: SeenIds
    checkpoint: Path
    compact_after: float
    _lineage: str | None = None

    def __post_init__(self) -> None:
        self.billing = TableFiles(self.spark, self.tables.billing, ("dt", "hr"))
        self.quarantine = TableFiles(self.spark, self.tables.quarantine)
        self.compaction = Compaction(self.billing, self.compact_after)

    @property
    def lineage(self) -> str:
        """lineage names the query's checkpoint (spark/status.py), known once it started."""
        if self._lineage is None:
            self._lineage = status.lineage(self.checkpoint)
            if self._lineage is None:
                raise RuntimeError(f"the checkpoint {self.checkpoint} has no query id yet")
        return self._lineage


def positions(rows: pa.Table) -> pa.Array:
    """positions is each row's Kafka partition and offset as one int64."""
    partition = pc.cast(rows.column("kafka_partition"), pa.int64())
    return pc.bit_wise_or(
        pc.shift_left(partition, _POSITION_BITS), pc.cast(rows.column("kafka_offset"), pa.int64())
    )


def _position(partition: int, offset: int) -> int:
    return (partition << _POSITION_BITS) | offset


def late(rows: pa.Table, now: float, window_seconds: float) -> pa.Array:
    """late marks the records that may copy one archived before the index's window began.

    Those that waited in Kafka, or were published after their event, more than LATE_SHARE of
    the window (a NULL Kafka time counts as late).
    """
    share = int(window_seconds * LATE_SHARE * 1_000_000)
    published = pc.cast(rows.column("kafka_timestamp"), pa.int64())
    happened = pc.cast(rows.column("timestamp"), pa.int64())
    waited = pc.greater(pc.subtract(pa.scalar(int(now * 1_000_000)), published), share)
    delayed = pc.greater(pc.subtract(published, happened), share)
    return pc.fill_null(pc.or_(waited, delayed), True)


def _in_partitions(touched: list[tuple[str, str]]) -> Column:
    """_in_partitions is a filter selecting the given (dt, hr) partitions."""
    tests = [(sf.col("dt") == dt) & (sf.col("hr") == hr) for dt, hr in touched]
    return reduce(lambda left, right: left | right, tests)


def _not_archived(
    spark: SparkSession, archive: Archive, late_rows: pa.Table, batch_id: int
) -> pa.Table:
    """_not_archived drops the late rows whose request id another batch archived already.

    Its own batch's rows are not "already archived": they are the files a replay replaces.
    """
    touched = sorted({(r["dt"], r["hr"]) for r in late_rows.select(["dt", "hr"]).to_pylist()})
    archive.billing.register([{"dt": dt, "hr": hr} for dt, hr in touched])
    spark.catalog.refreshTable(archive.tables.billing)
    archived = (
        spark.table(archive.tables.billing)
        .where(_in_partitions(touched) & (sf.col("writer_batch") != batch_id))
        .select("request_id", "dt", "hr")
    )
    asked = spark.createDataFrame(
        late_rows.select(["request_id", "dt", "hr"]).append_column("position", positions(late_rows))
    )
    kept = asked.join(archived, ["request_id", "dt", "hr"], "left_anti").select("position")
    keep = kept.toArrow().column("position")
    return late_rows.filter(pc.is_in(positions(late_rows), value_set=keep))


def _stamped(rows: pa.Table, name: str, batch_id: int, now: float) -> pa.Table:
    """_stamped adds the writer's batch id and the moment it wrote the rows."""
    moment = pa.scalar(datetime.fromtimestamp(now, UTC), pa.timestamp("us", tz="UTC"))
    count = rows.num_rows
    return rows.append_column(
        "writer_batch", pa.repeat(pa.scalar(batch_id, pa.int64()), count)
    ).append_column(name, pa.repeat(moment, count))


def hour_partitions(rows: pa.Table) -> pa.Table:
    """hour_partitions adds dt ('2026-01-31') and hr ('07') from the event's UTC timestamp."""
    stamp = rows.column("timestamp")
    return rows.append_column("dt", pc.strftime(stamp, "%Y-%m-%d")).append_column(
        "hr", pc.strftime(stamp, "%H")
    )


def quarantine_rows(rejected: pa.Table, batch_id: int, now: float) -> pa.Table:
    """quarantine_rows are the quarantine table's rows for records that did not decode."""
    rows = rejected.rename_columns(
        ["reason" if name == "error" else name for name in rejected.column_names]
    )
    return _stamped(rows, "quarantined_at", batch_id, now).select(names(QUARANTINE_COLUMNS))


def write_batch(
    spark: SparkSession,
    archive: Archive,
    batch: DataFrame,
    batch_id: int,
    *,
    on_archived: Callable[[str, pa.Table], None],
) -> BatchOutcome:
    """write_batch archives one decoded micro-batch (see the module docstring).

    on_archived hears the checkpoint's lineage and the rows archived, before the batch returns.
    """
    steps = Steps()
    now = time.time()
    with steps("compact"):  # every earlier batch is committed, and none writes meanwhile
        archive.compaction.run(batch_id, archive.lineage, now)
    with steps("read"):
        rows = batch.toArrow()
    failed = pc.is_valid(rows.column("error"))
    rejected, decoded = rows.filter(failed), rows.filter(pc.invert(failed))
    if rejected.num_rows:
        with steps("quarantine"):
            archive.quarantine.append_arrow(
                quarantine_rows(rejected, batch_id, now), batch_id, archive.lineage
            )
    fresh = hour_partitions(decoded)
    if fresh.num_rows:
        with steps("seen"):
            records = [
                Seen(*record)
                for record in zip(
                    fresh.column("request_id").to_pylist(),
                    fresh.column("kafka_partition").to_pylist(),
                    fresh.column("kafka_offset").to_pylist(),
                    strict=True,
                )
            ]
            repeated = archive.seen.duplicates(batch_id, records, now)
            if repeated:
                copies = pa.array([_position(r.partition, r.offset) for r in repeated], pa.int64())
                fresh = fresh.filter(pc.invert(pc.is_in(positions(fresh), value_set=copies)))
        lateness = late(fresh, now, archive.seen.window)
        if pc.any(lateness).as_py():
            with steps("late"):
                checked = _not_archived(spark, archive, fresh.filter(lateness), batch_id)
            fresh = pa.concat_tables([fresh.filter(pc.invert(lateness)), checked])
    if fresh.num_rows:
        billed = _stamped(fresh, "archived_at", batch_id, now).select(names(BILLING_COLUMNS))
        with steps("archive"):
            touched = archive.billing.append_arrow(billed, batch_id, archive.lineage)
        archive.compaction.wrote(touched, now)
        with steps("kpis"):
            on_archived(archive.lineage, billed)
    return BatchOutcome(
        batch_id=batch_id,
        input_rows=rows.num_rows,
        inserted=fresh.num_rows,
        duplicates=decoded.num_rows - fresh.num_rows,
        quarantined=rejected.num_rows,
        seconds=steps.seconds,
    )
