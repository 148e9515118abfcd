"""The campaign KPIs: each micro-batch's counts, added to MySQL and Hive's change log once.

The billing archive's batch (spark/billing_sink.py) is the KPIs' input too: the events it
archives are counted per campaign and minute of event time (:func:`minute_counts`),
and the counts are set down in a small file named after the batch (:class:`PendingCounts`,
beside the checkpoint) before the batch returns. Adding them is a separate step
(:meth:`KpiSink.catch_up`, run by the writer between batches), so that a MySQL outage holds
back the KPIs, never the billing archive.

Exactly once: the stream's last added batch is kept in ``campaign_kpi_streams``, in the same
MySQL transaction as the additions (values read FOR UPDATE, the sums and rates of
spark/kpis.py, upserted). Pending counts up to that batch are never added again, whether the
batch was replayed after a crash (it writes the same file again) or the catch-up died after
the commit. Every event the archive holds is counted, however late it came.

Reach rides along: each batch's per-campaign HyperLogLog sketch of its users
(:func:`reach_sketches`) is set down beside its counts (``<batch>.reach``) and merged into
``campaign_reach`` in the same transaction. A union is idempotent, so the sketches of every
pending batch are merged, whether or not their counts were added before: a replayed batch
leaves reach as it was.

After the commit the new values of the touched campaign-minutes are appended to Hive's change
log (``campaign_kpi_updates``, the view ``campaign_kpis`` shows the latest), named after the
newest batch added (spark/commits.py), and only then are the pending files removed. A MySQL
that is out of reach for a moment (servers.storage.faults.is_transient) is retried with a
bounded backoff; past that, the writer notes the failure and tries again later
(spark/restarts.py).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import SparkSession
from sqlalchemy import Connection, Engine, MetaData, Table, select, tuple_
from sqlalchemy.dialects.mysql import insert

from servers.settings import Settings
from servers.storage.db import engine
from servers.storage.faults import is_transient
from servers.storage.schema import (
    aware_utc,
    campaign_kpi_streams,
    campaign_kpis,
    campaign_reach,
    naive_utc,
)
from spark.commits import TableFiles
from spark.decode import MONEY
from spark.kpis import (
    CampaignMinute,
    MinuteCounts,
    added,
    counts_towards_reach,
    merge_counts,
    merge_reach,
    merge_reach_by_campaign,
    reach_estimate,
    reach_sketch,
)
from spark.restarts import Backoff, retry
from spark.tables import Tables

log = logging.getLogger(__name__)

# The KPI upsert is small (campaigns x minutes of one batch): 30 s bounds a hung MySQL.
MYSQL_TIMEOUT_SECONDS = 30
UPSERT_ATTEMPTS = 5
UPSERT_BACKOFF = Backoff(first=0.5, cap=8.0)  # 0.5 + 1 + 2 + 4 s between the five attempts
UPDATED = ("impressions", "clicks", "acquisitions", "ctr", "conversion_rate", "spend", "ecpm")


@cache
def mysql_table(name: str) -> Table:
    """mysql_table is the campaign_kpis table shape under the configured name."""
    return campaign_kpis.to_metadata(MetaData(), name=name)


def minute_counts(events: pa.Table) -> pa.Table:
    """minute_counts counts archived events per campaign and minute of event time (Arrow)."""
    minute = pc.floor_temporal(events.column("timestamp"), unit="minute")
    return (
        pa.table(
            {
                "campaign_id": events.column("campaign_id"),
                "minute": pc.cast(minute, pa.int64()),
                "click": pc.cast(events.column("click"), pa.int64()),
                "acquisition": pc.cast(events.column("acquisition"), pa.int64()),
                "expenditure": events.column("expenditure"),
            }
        )
        .group_by(["campaign_id", "minute"])
        .aggregate(
            [
                ("campaign_id", "count"),
                ("click", "sum"),
                ("acquisition", "sum"),
                ("expenditure", "sum"),
            ]
        )
    )


def counts_of(table: pa.Table) -> list[MinuteCounts]:
    """counts_of reads minute_counts' table as MinuteCounts."""
    return [
        MinuteCounts(
            row["campaign_id"],
            naive_utc(datetime.fromtimestamp(row["minute"] / 1_000_000, UTC)),
            int(row["campaign_id_count"]),
            int(row["click_sum"] or 0),
            int(row["acquisition_sum"] or 0),
            Decimal(row["expenditure_sum"] or 0),
        )
        for row in table.to_pylist()
    ]


REACH_SCHEMA = pa.schema([("campaign_id", pa.string()), ("sketch", pa.binary())])


def reach_sketches(events: pa.Table) -> pa.Table:
    """reach_sketches is each campaign's sketch of the users of a batch's events (Arrow)."""
    pairs = (
        pa.table({"campaign_id": events.column("campaign_id"), "user_id": events.column("user_id")})
        .group_by(["campaign_id", "user_id"])
        .aggregate([])
    )
    users: dict[str, list[str]] = {}
    for campaign_id, user_id in zip(
        pairs.column("campaign_id").to_pylist(), pairs.column("user_id").to_pylist(), strict=True
    ):
        if user_id is not None and counts_towards_reach(user_id):
            users.setdefault(campaign_id, []).append(user_id)
    campaign_ids = sorted(users)
    return pa.table(
        {
            "campaign_id": pa.array(campaign_ids, pa.string()),
            "sketch": pa.array([reach_sketch(users[c]) for c in campaign_ids], pa.binary()),
        },
        schema=REACH_SCHEMA,
    )


def _write_atomically(path: Path, table: pa.Table) -> None:
    """_write_atomically writes an Arrow file so a reader sees all of it or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with pa.OSFile(str(temporary), "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
        out.write_table(table)
    os.replace(temporary, path)


class PendingCounts:
    """PendingCounts keeps each batch's counts in a file until they are added everywhere.

    One Arrow file per batch (``<batch>.arrow``, replaced whole), so a replayed batch writes
    the same file again, and counts are never lost between the archive's commit and the
    addition. Its reach sketches are in ``<batch>.reach``, written first (a batch is pending
    once its counts file exists; one pending from before reach was kept has no sketches).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _file(self, batch_id: int) -> Path:
        return self.directory / f"{batch_id:012d}.arrow"

    def _reach_file(self, batch_id: int) -> Path:
        return self.directory / f"{batch_id:012d}.reach"

    def put(self, batch_id: int, counts: pa.Table, reach: pa.Table | None = None) -> None:
        """put sets down a batch's counts and reach sketches (each file atomically)."""
        if reach is not None:
            _write_atomically(self._reach_file(batch_id), reach)
        _write_atomically(self._file(batch_id), counts)

    def batches(self) -> list[int]:
        """batches are the ids of the batches whose counts are pending, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(int(path.stem) for path in self.directory.glob("[0-9]*.arrow"))

    def read(self, batch_id: int) -> list[MinuteCounts]:
        """read is a pending batch's counts."""
        with pa.memory_map(str(self._file(batch_id))) as source:
            return counts_of(pa.ipc.open_file(source).read_all())

    def read_reach(self, batch_id: int) -> dict[str, bytes]:
        """read_reach is a pending batch's sketch per campaign (none if it has no file)."""
        path = self._reach_file(batch_id)
        if not path.exists():
            return {}
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_file(source).read_all()
        return dict(
            zip(
                table.column("campaign_id").to_pylist(),
                table.column("sketch").to_pylist(),
                strict=True,
            )
        )

    def drop(self, up_to: int) -> None:
        """drop removes the files of the batches up to and including up_to."""
        for batch_id in self.batches():
            if batch_id <= up_to:
                self._reach_file(batch_id).unlink(missing_ok=True)
                self._file(batch_id).unlink(missing_ok=True)


def merge_stored_reach(connection: Connection, reach: Mapping[str, bytes], now: datetime) -> None:
    """merge_stored_reach unions sketches into campaign_reach (rows locked; idempotent)."""
    if not reach:
        return
    table = campaign_reach
    stored = {
        str(campaign_id): bytes(sketch)
        for campaign_id, sketch in connection.execute(
            select(table.c.campaign_id, table.c.sketch)
            .where(table.c.campaign_id.in_(sorted(reach)))
            .with_for_update()
        )
    }
    rows = []
    for campaign_id in sorted(reach):
        sketch = reach[campaign_id]
        merged = merge_reach([stored.get(campaign_id, sketch), sketch])
        rows.append(
            {
                "campaign_id": campaign_id,
                "sketch": merged,
                "unique_users": reach_estimate(merged),
                "updated_at": now,
            }
        )
    statement = insert(table)
    statement = statement.on_duplicate_key_update(
        {column: statement.inserted[column] for column in ("sketch", "unique_users", "updated_at")}
    )
    connection.execute(statement, rows)


def add_counts(
    engine: Engine,
    table_name: str,
    stream: str,
    pending: dict[int, list[MinuteCounts]],
    *,
    reach: Mapping[str, bytes] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[CampaignMinute]:
    """add_counts adds the batches newer than the stream's last one; returns the new values.

    The values returned are those of every campaign-minute the pending batches touch, added
    now or earlier, so the caller can write them to Hive even after a crash. reach (the
    pending batches' sketches, merged per campaign) is merged into campaign_reach in the same
    transaction, whatever the stream's last batch: a union cannot count a user twice.
    """
    if not pending:
        return []
    table = mysql_table(table_name)
    keys = sorted({c.key for counts in pending.values() for c in counts})
    newest = max(pending)
    streams = campaign_kpi_streams

    def attempt() -> list[CampaignMinute]:
        now = naive_utc(datetime.now(UTC))
        with engine.begin() as connection:
            last = connection.execute(
                select(streams.c.batch_id).where(streams.c.stream == stream).with_for_update()
            ).scalar()
            fresh = [
                c
                for batch_id, counts in pending.items()
                if last is None or batch_id > last
                for c in counts
            ]
            current = (
                {
                    (row.campaign_id, row.minute): CampaignMinute(*row)
                    for row in connection.execute(
                        select(table.c.campaign_id, table.c.minute, *(table.c[n] for n in UPDATED))
                        .where(tuple_(table.c.campaign_id, table.c.minute).in_(keys))
                        .with_for_update()
                    )
                }
                if keys
                else {}
            )
            if fresh:
                for key, counts in merge_counts(fresh).items():
                    current[key] = added(current.get(key), counts)
                statement = insert(table)
                statement = statement.on_duplicate_key_update(
                    {column: statement.inserted[column] for column in (*UPDATED, "updated_at")}
                )
                changed = {c.key for c in fresh}
                connection.execute(
                    statement,
                    [asdict(current[key]) | {"updated_at": now} for key in sorted(changed)],
                )
            merge_stored_reach(connection, reach or {}, now)
            if last is None or newest > last:
                upsert = insert(streams).values(stream=stream, batch_id=newest, updated_at=now)
                connection.execute(upsert.on_duplicate_key_update(batch_id=newest, updated_at=now))
        return [current[key] for key in keys if key in current]

    def retrying(number: int, error: BaseException, delay: float) -> None:
        log.warning(
            "KPI addition attempt %s of %s failed, retrying in %.1f s: %s",
            number,
            UPSERT_ATTEMPTS,
            delay,
            error,
        )

    return retry(
        attempt,
        retryable=is_transient,
        attempts=UPSERT_ATTEMPTS,
        backoff=UPSERT_BACKOFF,
        sleep=sleep,
        on_retry=retrying,
    )


# The change log's columns as Arrow types (spark/tables.py KPI_COLUMNS, in the same order).
_UTC = pa.timestamp("us", tz="UTC")
KPI_SCHEMA = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("minute", _UTC),
        ("impressions", pa.int64()),
        ("clicks", pa.int64()),
        ("acquisitions", pa.int64()),
        ("ctr", pa.decimal128(12, 8)),
        ("conversion_rate", pa.decimal128(12, 8)),
        ("spend", MONEY),
        ("ecpm", MONEY),
        ("writer_batch", pa.int64()),
        ("updated_at", _UTC),
        ("dt", pa.string()),
    ]
)


def append_hive(
    files: TableFiles,
    minutes: Sequence[CampaignMinute],
    batch_id: int,
    lineage: str,
) -> None:
    """append_hive adds the values to the Hive change log as batch batch_id (replaceable)."""
    if not minutes:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "campaign_id": m.campaign_id,
            "minute": aware_utc(m.minute),
            "impressions": m.impressions,
            "clicks": m.clicks,
            "acquisitions": m.acquisitions,
            "ctr": m.ctr,
            "conversion_rate": m.conversion_rate,
            "spend": m.spend,
            "ecpm": m.ecpm,
            "writer_batch": batch_id,
            "updated_at": now,
            "dt": f"{m.minute:%Y-%m-%d}",
        }
        for m in minutes
    ]
    files.append_arrow(pa.Table.from_pylist(rows, schema=KPI_SCHEMA), batch_id, lineage)


class KpiSink:
    """KpiSink takes each archived batch's counts and adds them (see the module docstring).

    Pending counts are kept per lineage of the archive's checkpoint (spark/status.py): batch
    ids count from 0 in each, and MySQL remembers the last batch added per lineage.
    """

    def __init__(
        self,
        spark: SparkSession,
        tables: Tables,
        engine: Engine,
        *,
        table_name: str,
        directory: Path,
    ) -> None:
        self.spark = spark
        self.engine = engine
        self.table_name = table_name
        self.directory = directory / "pending"
        self.files = TableFiles(spark, tables.kpi_updates, ("dt",))

    def _stream(self, lineage: str) -> str:
        """_stream names a lineage's KPI stream in MySQL: the table and the lineage."""
        return f"{self.table_name[: 63 - len(lineage)]}:{lineage}"

    def record(self, lineage: str, batch_id: int, events: pa.Table) -> None:
        """record sets down the counts of a batch's archived events (called inside the batch)."""
        PendingCounts(self.directory / lineage).put(
            batch_id, minute_counts(events), reach_sketches(events)
        )

    def catch_up(self) -> int:
        """catch_up adds every pending batch; returns how many campaign-minutes it wrote."""
        if not self.directory.is_dir():
            return 0
        written = 0
        for folder in sorted(self.directory.iterdir(), key=lambda path: path.stat().st_mtime):
            pending = PendingCounts(folder)
            batches = pending.batches()
            if not batches:
                continue
            counts = {batch_id: pending.read(batch_id) for batch_id in batches}
            reach = merge_reach_by_campaign(pending.read_reach(b) for b in batches)
            minutes = add_counts(
                self.engine, self.table_name, self._stream(folder.name), counts, reach=reach
            )
            append_hive(self.files, minutes, max(batches), folder.name)
            pending.drop(max(batches))
            written += len(minutes)
        return written


def kpi_database(settings: Settings) -> Engine:
    """kpi_database is the KPI sink's MySQL engine: one connection, bounded by timeouts."""
    return engine(settings.database_url, pool_size=1, timeout_seconds=MYSQL_TIMEOUT_SECONDS)
