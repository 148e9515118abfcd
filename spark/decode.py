"""Decoding user-feedback records: protobuf FeedbackEvent bytes to Arrow rows, in Python.

Why not Spark's ``from_protobuf``: it lives in ``org.apache.spark:spark-protobuf_2.13``, which
the Maven Central mirror this platform builds from does not serve (4.2.0, 4.1.x and 4.0.x are
all missing). So the writer decodes inside Spark with ``DataFrame.mapInArrow`` and the
generated ``adplatform.v1.events_pb2`` module: Kafka rows arrive as Arrow record batches, each
value is parsed with protobuf's C (upb) parser and the columns go back to the JVM as Arrow.

A record that cannot be archived (not a FeedbackEvent, no request id, a malformed amount, ...)
is not dropped and does not stop the stream: its row carries ``error`` (the reason, naming the
field: ``"request_id: must be a UUID ..."``) and ``raw`` (the original bytes), and the writer
sets it aside in the quarantine table. Whatever the bytes, one record never fails its batch.

A decoded row fits the archive's columns (spark/tables.py) by construction:

- ids are canonical per servers/identifiers.py (a request id lowercase, padding removed), so
  the sink's de-duplication by request id sees one id as one charge;
- amounts are exact Decimals with at most 10 places, below 10^14 (DECIMAL(24,10));
- targeting texts are at most as long as the served_ads columns they were copied from and
  hold no control characters; the age range is 0 ≤ start ≤ end ≤ 150;
- flags are 0 or 1, user_action is the one they imply, and expenditure is at most that
  action's auction price (docs/design.md rule 6);
- times are valid protobuf Timestamps between 1900-01-01 and 9999-12-31 (UTC): what Spark,
  Parquet and Hive all hold without calendar rebasing, so the dt/hr partitions are plain
  ``yyyy-MM-dd`` and ``HH`` strings. A Kafka timestamp outside that range is written as NULL
  (it is lineage only; the topic, partition and offset still name the record).

This module has no Spark import: tests call :func:`decode_batch` on plain Arrow batches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from adplatform.v1 import events_pb2
from google.protobuf.message import DecodeError

from servers import identifiers
from servers.ads.charging import UserAction, expenditure, user_action
from servers.campaigns.validation import MAX_AGE
from servers.errors import ValidationError
from servers.money import (
    MAX_INTEGER_DIGITS,
    MONEY_CONTEXT,
    MONEY_PLACES,
    MONEY_PRECISION,
    parse_money,
)
from servers.storage.schema import max_chars, served_ads
from servers.text import check_storable

MONEY = pa.decimal128(MONEY_PRECISION, MONEY_PLACES)
TIMESTAMP = pa.timestamp("us", tz="UTC")
MONEY_FIELDS = ("auction_cpm", "auction_cpc", "auction_cpa", "expenditure")
TimeField = Literal["timestamp", "campaign_start_time", "campaign_end_time"]
TIME_FIELDS: tuple[TimeField, ...] = (
    "timestamp",
    "campaign_start_time",
    "campaign_end_time",
)
# TARGETING_MAX_CHARS is the longest value of each targeting field: the served_ads column
# the FeedbackService copied it from (servers/storage/schema.py).
TARGETING_MAX_CHARS = {
    field: max_chars(served_ads, column)
    for field, column in (
        ("target_location", "target_location"),
        ("target_gender", "target_gender"),
        ("target_income_bucket", "target_income_bucket"),
        ("target_device_type", "target_device"),
    )
}
# EARLIEST and LATEST bound every archived time, in microseconds since the epoch (UTC).
EARLIEST = -2_208_988_800 * 1_000_000  # 1900-01-01T00:00:00Z
LATEST = 253_402_300_800 * 1_000_000 - 1  # 9999-12-31T23:59:59.999999Z
_NANOS_PER_SECOND = 1_000_000_000
_SHOWN_CHARS = 40  # how much of a bad value a reason quotes

_LINEAGE = ("kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp")

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
    MONEY: f"DECIMAL({MONEY_PRECISION},{MONEY_PLACES})",
    TIMESTAMP: "TIMESTAMP",
    pa.binary(): "BINARY",
}
DECODED_DDL = ", ".join(f"`{field.name}` {_SPARK_TYPES[field.type]}" for field in DECODED)


class MalformedEventError(Exception):
    """MalformedEventError says why a record cannot be archived ("field: why")."""


def age_range(start: int, end: int) -> str:
    """age_range writes a targeted age range as the archive stores it ("20-45"; "0-0" is any)."""
    return f"{start}-{end}"


def _shown(value: str) -> str:
    """_shown quotes a bad value for a reason, cut short: a reason is not a copy of the record."""
    return repr(value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "...")


def _micros(event: events_pb2.FeedbackEvent, name: TimeField) -> int:
    """_micros is a Timestamp field as microseconds since the epoch, checked against the range."""
    if not event.HasField(name):
        raise MalformedEventError(f"{name}: is missing")
    stamp = getattr(event, name)
    if not 0 <= stamp.nanos < _NANOS_PER_SECOND:
        raise MalformedEventError(f"{name}.nanos: must be 0 to 999999999, got {stamp.nanos}")
    micros = stamp.seconds * 1_000_000 + stamp.nanos // 1000
    if not EARLIEST <= micros <= LATEST:
        raise MalformedEventError(f"{name}: must lie between 1900-01-01 and 9999-12-31 (UTC)")
    return int(micros)


def _targeting(event: events_pb2.FeedbackEvent, name: str) -> str:
    """_targeting is a targeting text as the served ad held it: bounded, no control characters."""
    text: str = getattr(event, name)
    limit = TARGETING_MAX_CHARS[name]
    if len(text) > limit:
        raise MalformedEventError(f"{name}: must be at most {limit} characters")
    try:
        return check_storable(text, name)
    except ValidationError as error:
        raise MalformedEventError(str(error)) from None


def _ages(event: events_pb2.FeedbackEvent) -> str:
    start, end = event.target_age_range.start, event.target_age_range.end
    if not 0 <= start <= MAX_AGE:
        raise MalformedEventError(f"target_age_range.start: must be between 0 and {MAX_AGE}")
    if not start <= end <= MAX_AGE:
        raise MalformedEventError(f"target_age_range.end: must be between start and {MAX_AGE}")
    return age_range(start, end)


def event_row(value: bytes) -> dict[str, Any]:
    """event_row parses one record value into the archive's columns, or raises the reason."""
    event = events_pb2.FeedbackEvent()
    try:
        event.ParseFromString(value)
    except DecodeError as error:
        raise MalformedEventError(f"not a FeedbackEvent: {error}") from None
    try:
        row: dict[str, Any] = {
            "request_id": identifiers.request_id(event.request_id),
            "campaign_id": identifiers.campaign_id(event.campaign_id),
            "user_id": identifiers.user_id(event.user_id),
        }
        for name in MONEY_FIELDS:
            row[name] = parse_money(getattr(event, name), name)
        action = user_action(event.view, event.click, event.acquisition)
    except ValidationError as error:
        raise MalformedEventError(str(error)) from None
    if event.user_action != action:
        shown = _shown(event.user_action)
        raise MalformedEventError(f"user_action: is {shown}, but the flags say {action}")
    price = expenditure(action, row["auction_cpc"], row["auction_cpa"])
    if row["expenditure"] > price:
        raise MalformedEventError(f"expenditure: must not exceed the {action} price {price}")
    row |= {"user_action": event.user_action, "target_age_range": _ages(event)}
    row |= {name: int(getattr(event, name)) for name in ("click", "view", "acquisition")}
    row |= {name: _targeting(event, name) for name in TARGETING_MAX_CHARS}
    row |= {name: _micros(event, name) for name in TIME_FIELDS}
    return row


def _record_row(value: bytes | None) -> dict[str, Any]:
    """_record_row is one record's decoded row, or its quarantine row (raw bytes and reason)."""
    try:
        return event_row(value or b"") | {"raw": None, "error": None}
    except MalformedEventError as error:
        return {"raw": value, "error": str(error)}
    except Exception as error:
        # A bug in the checks above must cost its one record, set aside, never the batch.
        return {"raw": value, "error": f"cannot decode: {type(error).__name__}"}


# The fast path's shapes: each accepts only values event_row accepts, and reads them the way
# event_row would (a canonical id is its own canonical form; a plain amount with at most 14
# integer digits and 10 places is exact). Anything else takes event_row's path for its reason.
_CANONICAL_REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PLAIN_AMOUNT = re.compile(rf"[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,{MONEY_PLACES}}})?")
_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
_ROW_FIELDS = [
    field.name for field in DECODED if field.name not in _LINEAGE and field.name != "raw"
]


def _amount(text: str) -> Decimal | None:
    if _PLAIN_AMOUNT.fullmatch(text) is None:
        return None
    return Decimal(text).quantize(_QUANTUM, context=MONEY_CONTEXT)


def _fast_row(value: bytes) -> tuple[Any, ...] | None:
    """_fast_row decodes an ordinary record in _ROW_FIELDS order, or None to take event_row."""
    event = events_pb2.FeedbackEvent()
    try:
        event.ParseFromString(value)
    except DecodeError:
        return None
    flags = (event.view, event.click, event.acquisition)
    try:
        kind: UserAction | None = user_action(*flags)
    except ValidationError:
        kind = None
    money = [_amount(event.auction_cpm), _amount(event.auction_cpc), _amount(event.auction_cpa)]
    spent = _amount(event.expenditure)
    request, campaign, user = event.request_id, event.campaign_id, event.user_id
    ages = event.target_age_range
    texts = [getattr(event, name) for name in TARGETING_MAX_CHARS]
    if (
        kind is None
        or event.user_action != kind.value
        or None in money
        or spent is None
        or _CANONICAL_REQUEST_ID.fullmatch(request) is None
        or not 0 <= ages.start <= ages.end <= MAX_AGE
        or not all(event.HasField(name) for name in TIME_FIELDS)
    ):
        return None
    action = kind.value
    price = expenditure(kind, money[1], money[2])  # type: ignore[arg-type]
    if spent > price:
        return None
    try:
        campaign = identifiers.campaign_id(campaign)
        user = identifiers.user_id(user)
        texts = [_targeting(event, name) for name in TARGETING_MAX_CHARS]
        times = [_micros(event, name) for name in TIME_FIELDS]
    except (ValidationError, MalformedEventError):
        return None
    row = {
        "campaign_id": campaign,
        "user_id": user,
        "request_id": request,
        "click": flags[1],
        "view": flags[0],
        "acquisition": flags[2],
        "auction_cpm": money[0],
        "auction_cpc": money[1],
        "auction_cpa": money[2],
        "target_age_range": age_range(ages.start, ages.end),
        "user_action": action,
        "expenditure": spent,
        "error": None,
    }
    row |= dict(zip(TARGETING_MAX_CHARS, texts, strict=True))
    row |= dict(zip(TIME_FIELDS, times, strict=True))
    return tuple(row[name] for name in _ROW_FIELDS)


def _lineage_time(stamps: pa.Array) -> pa.Array:
    """_lineage_time is the Kafka timestamps as TIMESTAMP, NULL where Hive could not hold one."""
    stamps = stamps.cast(TIMESTAMP)
    micros = stamps.cast(pa.int64())
    fits = pc.and_(pc.greater_equal(micros, EARLIEST), pc.less_equal(micros, LATEST))
    return pc.if_else(fits, stamps, pa.scalar(None, TIMESTAMP))


def decode_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """decode_batch turns Kafka rows (value, topic, partition, offset, timestamp) into DECODED."""
    values = batch.column("value").to_pylist()
    rows: list[tuple[Any, ...]] = []
    raws: list[bytes | None] = []
    for value in values:
        fast = _fast_row(value) if value else None
        if fast is None:
            slow = _record_row(value)
            fast = tuple(slow.get(name) for name in _ROW_FIELDS)
            raws.append(slow["raw"])
        else:
            raws.append(None)
        rows.append(fast)
    columns = dict(zip(_ROW_FIELDS, zip(*rows, strict=True), strict=True)) if rows else {}
    lineage = {
        "kafka_topic": batch.column("topic").cast(pa.string()),
        "kafka_partition": batch.column("partition").cast(pa.int32()),
        "kafka_offset": batch.column("offset").cast(pa.int64()),
        "kafka_timestamp": _lineage_time(batch.column("timestamp")),
    }
    arrays = [
        lineage[field.name]
        if field.name in lineage
        else pa.array(raws if field.name == "raw" else columns.get(field.name, []), type=field.type)
        for field in DECODED
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=DECODED)


def decode_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """decode_batches is decode_batch over a partition's batches (the mapInArrow function)."""
    for batch in batches:
        yield decode_batch(batch)
