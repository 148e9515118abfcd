"""spark.decode: FeedbackEvent bytes to the archive's Arrow columns, or a quarantine reason."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from adplatform.v1 import events_pb2

from clients.synthetic_feedback import fresh_campaigns, synthetic_events
from spark.decode import DECODED, DECODED_DDL, MalformedEventError, decode_batch, event_row

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
        (_event(request_id="").SerializeToString(), "request_id is empty"),
        (_event(expenditure="abc").SerializeToString(), "expenditure"),
        (_event(auction_cpm="1e-3").SerializeToString(), "auction_cpm"),
        (_event(click=2).SerializeToString(), "click must be 0 or 1"),
        (_event(user_action="buy").SerializeToString(), "user_action"),
        (b"", "request_id is empty"),
    ],
)
def test_malformed_records_say_why(value: bytes, reason: str) -> None:
    with pytest.raises(MalformedEventError, match=reason):
        event_row(value)


def test_missing_timestamp_is_malformed() -> None:
    event = _event()
    event.ClearField("timestamp")
    with pytest.raises(MalformedEventError, match="timestamp is missing"):
        event_row(event.SerializeToString())


def test_decode_batch_keeps_good_rows_and_sets_bad_ones_aside() -> None:
    good = _event().SerializeToString()
    batch = decode_batch(_kafka([good, b"garbage\x00", None]))
    assert batch.schema == DECODED
    rows = batch.to_pylist()
    assert rows[0]["error"] is None and rows[0]["raw"] is None
    assert rows[0]["kafka_offset"] == 100 and rows[0]["kafka_partition"] == 1
    assert rows[1]["raw"] == b"garbage\x00" and rows[1]["error"].startswith("not a FeedbackEvent")
    assert rows[1]["campaign_id"] is None and rows[1]["kafka_offset"] == 101
    assert rows[2]["error"] == "request_id is empty"


def test_spark_schema_matches_arrow_schema() -> None:
    assert DECODED_DDL.count("`") == 2 * len(DECODED)
    assert "`expenditure` DECIMAL(24,10)" in DECODED_DDL
