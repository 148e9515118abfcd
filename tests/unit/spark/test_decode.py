"""spark.decode: FeedbackEvent bytes to the archive's Arrow columns, or a quarantine reason."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from adplatform.v1 import events_pb2

from clients.synthetic_feedback import fresh_campaigns, synthetic_events
from spark.decode import (
    DECODED,
    DECODED_DDL,
    EARLIEST,
    LATEST,
    TARGETING_MAX_CHARS,
    MalformedEventError,
    decode_batch,
    event_row,
)

AT = datetime(2026, 1, 31, 7, 15, 42, 123456, tzinfo=UTC)


def _event(**changes: object) -> events_pb2.FeedbackEvent:
    (event,) = synthetic_events(1, fresh_campaigns(1), AT, seed=3)
    for name, value in changes.items():
        setattr(event, name, value)
    return event


def _kafka(values: list[bytes | None]) -> pa.RecordBatch:
    n = len(values)
    return pa.RecordBatch.from_pydict(
        {
            "value": pa.array(values, pa.binary()),
            "topic": ["user-feedback"] * n,
            "partition": pa.array([1] * n, pa.int32()),
            "offset": pa.array(range(100, 100 + n), pa.int64()),
            "timestamp": pa.array([AT] * n, pa.timestamp("us", tz="UTC")),
        }
    )


def test_event_row_reads_every_rule_9_field() -> None:
    event = _event(user_action="click", click=1, expenditure="0.00041", auction_cpc="0.00041")
    event.target_age_range.start, event.target_age_range.end = 20, 45
    row = event_row(event.SerializeToString())
    assert row["request_id"] == event.request_id
    assert row["campaign_id"] == event.campaign_id
    assert row["expenditure"] == Decimal("0.00041")
    assert row["expenditure"].as_tuple().exponent == -10
    assert row["target_age_range"] == "20-45"
    assert row["timestamp"] == int(AT.timestamp()) * 1_000_000 + 123456
    assert (row["view"], row["click"]) == (1, 1)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xff\xff", "not a FeedbackEvent"),
        (_event(request_id="").SerializeToString(), "request_id: is required"),
        (_event(request_id="not-a-uuid").SerializeToString(), "request_id: must be a UUID"),
        (_event(campaign_id="a\x00b").SerializeToString(), "campaign_id: must be ASCII"),
        (_event(campaign_id="c" * 65).SerializeToString(), "campaign_id: must be at most 64"),
        (_event(user_id="").SerializeToString(), "user_id: is required"),
        (_event(user_id="u\x1b[31m").SerializeToString(), "user_id: must not contain control"),
        (_event(expenditure="abc").SerializeToString(), "expenditure"),
        (_event(auction_cpm="1e-3").SerializeToString(), "auction_cpm"),
        (_event(auction_cpc="\u0661\u0660").SerializeToString(), "auction_cpc"),
        (_event(click=2).SerializeToString(), "click: must be 0 or 1"),
        (_event(user_action="buy").SerializeToString(), "user_action: is 'buy', but the flags"),
        (_event(user_action="view", click=1).SerializeToString(), "flags say click"),
        (_event(user_action="view", expenditure="0.01").SerializeToString(), "expenditure: must"),
        (_event(target_location="x" * 321).SerializeToString(), "target_location: must be at"),
        (_event(target_gender="M\x00").SerializeToString(), "target_gender: must not contain"),
        (b"", "request_id: is required"),
    ],
)
def test_malformed_records_say_why(value: bytes, reason: str) -> None:
    with pytest.raises(MalformedEventError, match=reason):
        event_row(value)


def test_missing_timestamp_is_malformed() -> None:
    event = _event()
    event.ClearField("timestamp")
    with pytest.raises(MalformedEventError, match="timestamp: is missing"):
        event_row(event.SerializeToString())


def test_ids_are_stored_canonical() -> None:
    request = "4F1C7D2E-0B7A-4C39-9A52-6F0E1D2C3B4A"
    event = _event(request_id=f" {request}\t", campaign_id=" Camp-1 ", user_id=" u 1 ")
    row = event_row(event.SerializeToString())
    assert (row["request_id"], row["campaign_id"], row["user_id"]) == (
        request.lower(),
        "Camp-1",
        "u 1",
    )


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        (-1, 45, "target_age_range.start: must be between 0 and 150"),
        (20, 151, "target_age_range.end"),
        (45, 20, "target_age_range.end"),
    ],
)
def test_age_range_must_be_a_range_of_ages(start: int, end: int, reason: str) -> None:
    event = _event()
    event.target_age_range.start, event.target_age_range.end = start, end
    with pytest.raises(MalformedEventError, match=reason):
        event_row(event.SerializeToString())


@pytest.mark.parametrize(
    ("seconds", "nanos", "fits"),
    [
        (EARLIEST // 1_000_000, 0, True),  # 1900-01-01T00:00:00Z
        (EARLIEST // 1_000_000 - 1, 999_999_999, False),
        (LATEST // 1_000_000, 999_999_999, True),  # 9999-12-31T23:59:59.999999999Z
        (LATEST // 1_000_000 + 1, 0, False),  # year 10000: beyond Timestamp, Spark and Hive
        (-62_135_596_800, 0, False),  # 0001-01-01, Timestamp's own minimum: Hive rebases it
        (2**63 - 1, 0, False),  # once overflowed the Arrow column and failed the batch
        (-(2**63), 0, False),
        (1_769_843_742, -1, False),  # nanos must be 0..999999999
        (1_769_843_742, 1_000_000_000, False),
    ],
)
def test_times_are_protobuf_timestamps_hive_holds(seconds: int, nanos: int, fits: bool) -> None:
    event = _event()
    event.campaign_end_time.seconds, event.campaign_end_time.nanos = seconds, nanos
    (row,) = decode_batch(_kafka([event.SerializeToString()])).to_pylist()
    if fits:
        assert row["error"] is None
        assert row["campaign_end_time"] == datetime.fromtimestamp(seconds, UTC).replace(
            microsecond=nanos // 1000
        )
    else:
        assert row["error"].startswith("campaign_end_time")
        assert row["campaign_end_time"] is None


def test_a_kafka_timestamp_hive_cannot_hold_is_null_not_a_failed_batch() -> None:
    good = _event().SerializeToString()
    batch = _kafka([good, good])
    stamps = pa.array([LATEST + 1, EARLIEST], pa.timestamp("us", tz="UTC"))
    batch = batch.set_column(4, "timestamp", stamps)
    rows = decode_batch(batch).to_pylist()
    assert [row["error"] for row in rows] == [None, None]
    assert rows[0]["kafka_timestamp"] is None
    assert rows[1]["kafka_timestamp"] == datetime(1900, 1, 1, tzinfo=UTC)


def test_decode_batch_keeps_good_rows_and_sets_bad_ones_aside() -> None:
    good = _event().SerializeToString()
    batch = decode_batch(_kafka([good, b"garbage\x00", None]))
    assert batch.schema == DECODED
    rows = batch.to_pylist()
    assert rows[0]["error"] is None and rows[0]["raw"] is None
    assert rows[0]["kafka_offset"] == 100 and rows[0]["kafka_partition"] == 1
    assert rows[1]["raw"] == b"garbage\x00" and rows[1]["error"].startswith("not a FeedbackEvent")
    assert rows[1]["campaign_id"] is None and rows[1]["kafka_offset"] == 101
    assert rows[2]["error"] == "request_id: is required" and rows[2]["raw"] is None


def test_spark_schema_matches_arrow_schema() -> None:
    assert DECODED_DDL.count("`") == 2 * len(DECODED)
    assert "`expenditure` DECIMAL(24,10)" in DECODED_DDL


def test_targeting_limits_are_the_served_ads_columns() -> None:
    from servers.storage.schema import served_ads

    column = {"target_device_type": "target_device"}
    for name, limit in TARGETING_MAX_CHARS.items():
        assert served_ads.c[column.get(name, name)].type.length == limit
