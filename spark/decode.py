"""Decoding user-feedback records: protobuf FeedbackEvent bytes to Arrow rows, in Python.

Why not Spark's ``from_protobuf``: it lives in ``org.apache.spark:spark-protobuf_2.13``, which
the Maven Central mirror this platform builds from does not serve (4.2.0, 4.1.x and 4.0.x are
all missing). So the writer decodes inside Spark with ``DataFrame.mapInArrow`` and the
generated ``adplatform.v1.events_pb2`` module: Kafka rows arrive as Arrow record batches, each
value is parsed with protobuf's C (upb) parser and the columns go back to the JVM as Arrow.

A record that cannot be archived (not a FeedbackEvent, no request id, a malformed amount, ...)
is not dropped and does not stop the stream: its row carries ``error`` (the reason) and ``raw``
(the original bytes), and the writer sets it aside in the quarantine table.

This module has no Spark import: tests call :func:`decode_batch` on plain Arrow batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pyarrow as pa
from adplatform.v1 import events_pb2
from google.protobuf.message import DecodeError

from servers.errors import ValidationError
from servers.money import parse_money

MONEY = pa.decimal128(24, 10)
TIMESTAMP = pa.timestamp("us", tz="UTC")
ACTIONS = frozenset({"view", "click", "acquisition"})
MONEY_FIELDS = ("auction_cpm", "auction_cpc", "auction_cpa", "expenditure")
TIME_FIELDS: tuple[Literal["timestamp", "campaign_start_time", "campaign_end_time"], ...] = (
    "timestamp",
    "campaign_start_time",
    "campaign_end_time",
)
TEXT_FIELDS = (
    "campaign_id",
    "user_id",
    "request_id",
    "target_location",
    "target_gender",
    "target_income_bucket",
    "target_device_type",
    "user_action",
)

# DECODED is the Arrow schema decode_batch returns; DECODED_DDL is the same for Spark.
DECODED = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("user_id", pa.string()),
        ("request_id", pa.string()),
        ("click", pa.int32()),
        ("view", pa.int32()),
        ("acquisition", pa.int32()),
        ("auction_cpm", MONEY),
        ("auction_cpc", MONEY),
        ("auction_cpa", MONEY),
        ("target_age_range", pa.string()),
        ("target_location", pa.string()),
        ("target_gender", pa.string()),
        ("target_income_bucket", pa.string()),
        ("target_device_type", pa.string()),
        ("campaign_start_time", TIMESTAMP),
        ("campaign_end_time", TIMESTAMP),
        ("user_action", pa.string()),
        ("expenditure", MONEY),
        ("timestamp", TIMESTAMP),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("kafka_timestamp", TIMESTAMP),
        ("raw", pa.binary()),
        ("error", pa.string()),
    ]
)
_SPARK_TYPES = {
    pa.string(): "STRING",
    pa.int32(): "INT",
    pa.int64(): "BIGINT",
    MONEY: "DECIMAL(24,10)",
    TIMESTAMP: "TIMESTAMP",
    pa.binary(): "BINARY",
}
DECODED_DDL = ", ".join(f"`{field.name}` {_SPARK_TYPES[field.type]}" for field in DECODED)


class MalformedEventError(Exception):
    """MalformedEventError says why a record cannot be archived."""


def age_range(start: int, end: int) -> str:
    """age_range writes a targeted age range as the archive stores it ("20-45"; "0-0" is any)."""
    return f"{start}-{end}"


def _micros(stamp: Any) -> int:
    """_micros is a protobuf Timestamp as microseconds since the epoch (UTC)."""
    return int(stamp.seconds) * 1_000_000 + int(stamp.nanos) // 1000


def _flag(event: events_pb2.FeedbackEvent, name: str) -> int:
    value = int(getattr(event, name))
    if value not in (0, 1):
        raise MalformedEventError(f"{name} must be 0 or 1, got {value}")
    return value


def event_row(value: bytes) -> dict[str, Any]:
    """event_row parses one record value into the archive's columns, or raises the reason."""
    event = events_pb2.FeedbackEvent()
    try:
        event.ParseFromString(value)
    except DecodeError as error:
        raise MalformedEventError(f"not a FeedbackEvent: {error}") from None
    row: dict[str, Any] = {name: getattr(event, name) for name in TEXT_FIELDS}
    for name in ("request_id", "campaign_id"):
        if not row[name]:
            raise MalformedEventError(f"{name} is empty")
    if row["user_action"] not in ACTIONS:
        action = row["user_action"]
        raise MalformedEventError(f"user_action {action!r} is not view, click or acquisition")
    for name in MONEY_FIELDS:
        try:
            row[name] = parse_money(getattr(event, name), name)
        except ValidationError as error:
            raise MalformedEventError(str(error)) from None
    for name in ("click", "view", "acquisition"):
        row[name] = _flag(event, name)
    for name in TIME_FIELDS:
        if not event.HasField(name):
            raise MalformedEventError(f"{name} is missing")
        row[name] = _micros(getattr(event, name))
    row["target_age_range"] = age_range(event.target_age_range.start, event.target_age_range.end)
    return row


def decode_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """decode_batch turns Kafka rows (value, topic, partition, offset, timestamp) into DECODED."""
    columns: dict[str, list[Any]] = {field.name: [] for field in DECODED}
    values = batch.column("value").to_pylist()
    topics = batch.column("topic").to_pylist()
    partitions = batch.column("partition").to_pylist()
    offsets = batch.column("offset").to_pylist()
    stamps = batch.column("timestamp").cast(TIMESTAMP).to_pylist()
    for value, topic, partition, offset, stamp in zip(
        values, topics, partitions, offsets, stamps, strict=True
    ):
        try:
            row = event_row(value or b"")
            row["raw"] = None
            row["error"] = None
        except MalformedEventError as error:
            row = {"raw": value, "error": str(error)}
        row |= {
            "kafka_topic": topic,
            "kafka_partition": partition,
            "kafka_offset": offset,
            "kafka_timestamp": stamp,
        }
        for name, column in columns.items():
            column.append(row.get(name))
    arrays = [pa.array(columns[field.name], type=field.type) for field in DECODED]
    return pa.RecordBatch.from_arrays(arrays, schema=DECODED)


def decode_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """decode_batches is decode_batch over a partition's batches (the mapInArrow function)."""
    for batch in batches:
        yield decode_batch(batch)
