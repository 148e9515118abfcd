"""spark.decode is total: any record value either becomes a row that fits the archive or is
set aside with a reason, and never fails the batch it arrived in.

"Fits" is checked on the values decode_batch returns, against the Hive columns of
spark/tables.py: canonical ids, DECIMAL(24,10) amounts, strings Parquet can hold, timestamps
in range with plain dt/hr partition values, 0/1 flags.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from adplatform.v1 import events_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.synthetic_feedback import fresh_campaigns, synthetic_events
from servers import identifiers
from spark.billing_sink import hour_partitions
from spark.decode import (
    _ROW_FIELDS,
    DECODED,
    MONEY_FIELDS,
    TIME_FIELDS,
    TIMESTAMP,
    _fast_row,
    _record_row,
    decode_batch,
)
from spark.tables import EVENT_COLUMNS

AT = datetime(2026, 1, 31, 7, 15, 42, 123456, tzinfo=UTC)
GOOD = [event.SerializeToString() for event in synthetic_events(8, fresh_campaigns(3), AT)]
EVENT_NAMES = [name for name, _ in EVENT_COLUMNS]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)  # protobuf: valid UTF-8
_HOSTILE_TEXT = st.one_of(
    _TEXT,
    st.sampled_from(["", " ", "\x00", "\n", "\u202e", "\ufeff", "\u0661\u0660", "NaN", "-1"]),
    st.builds(
        lambda char, n: char * n, st.sampled_from("a0 \x00\u00e9\u4e2d"), st.integers(0, 70_000)
    ),
)
_MONEY_TEXTS = (
    *("0", "0.00041", "NaN", "nan", "Infinity", "-inf", "1e999", "1E-3", "-1", "-0", "+1"),
    *("\u0661\u0660", "\uff11", " 1 ", "1_000", "0x10", "1.", ".5", "0.00000000001"),
    *("99999999999999.9999999999", "100000000000000", "0" * 5000 + "1", "1" + "0" * 5000),
)
_MONEY = st.one_of(
    st.sampled_from(_MONEY_TEXTS),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(min_value=0, max_value=10**15, places=12).map(lambda d: format(d, "f")),
    _HOSTILE_TEXT,
)
_UUIDS = st.uuids().map(str)
_REQUEST_ID = st.one_of(
    _UUIDS,
    _UUIDS.map(str.upper),
    _UUIDS.map(lambda u: f" {u}\t"),
    _UUIDS.map(lambda u: "{" + u + "}"),
    _UUIDS.map(lambda u: u.replace("-", "")),
    _UUIDS.map(lambda u: "urn:uuid:" + u),
    _HOSTILE_TEXT,
)
_CAMPAIGN_ID = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,70}", fullmatch=True),
    st.from_regex(r"\s*[A-Za-z0-9][A-Za-z0-9_.:-]{0,10}\s*", fullmatch=True),
    _HOSTILE_TEXT,
)
_INT32 = st.one_of(st.sampled_from([0, 1, 2, -1]), st.integers(-(2**31), 2**31 - 1))
_SECONDS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-62_135_596_800 - 10, 253_402_300_799 + 10),  # protobuf Timestamp's range
    st.integers(-2_208_988_800 - 10, -2_208_988_800 + 10),  # 1900-01-01, the archive's floor
    st.integers(1_700_000_000, 1_900_000_000),
)
_NANOS = st.one_of(st.integers(0, 999_999_999), _INT32)
_ACTION = st.one_of(st.sampled_from(["view", "click", "acquisition", "View", " click"]), _TEXT)


@st.composite
def hostile_events(draw: st.DrawFn) -> bytes:
    """hostile_events is a well-formed FeedbackEvent whose fields may hold anything."""
    event = events_pb2.FeedbackEvent()
    event.ParseFromString(draw(st.sampled_from(GOOD)))
    changes: dict[str, Any] = {
        "request_id": _REQUEST_ID,
        "campaign_id": _CAMPAIGN_ID,
        "user_id": st.one_of(_TEXT, _HOSTILE_TEXT),
        "user_action": _ACTION,
        "click": _INT32,
        "view": _INT32,
        "acquisition": _INT32,
        "target_location": _HOSTILE_TEXT,
        "target_gender": _HOSTILE_TEXT,
        "target_income_bucket": _HOSTILE_TEXT,
        "target_device_type": _HOSTILE_TEXT,
    } | dict.fromkeys(MONEY_FIELDS, _MONEY)
    for name in draw(st.sets(st.sampled_from(sorted(changes)))):
        setattr(event, name, draw(changes[name]))
    if draw(st.booleans()):
        event.target_age_range.start = draw(_INT32)
        event.target_age_range.end = draw(_INT32)
    for name in draw(st.sets(st.sampled_from(TIME_FIELDS))):
        stamp = getattr(event, name)
        if draw(st.booleans()):
            event.ClearField(name)
        else:
            stamp.seconds, stamp.nanos = draw(_SECONDS), draw(_NANOS)
    return event.SerializeToString()


@st.composite
def truncated_events(draw: st.DrawFn) -> bytes:
    """truncated_events is a valid FeedbackEvent cut short or with a few bytes changed."""
    value = bytearray(draw(st.sampled_from(GOOD)))
    for _ in range(draw(st.integers(0, 3))):
        value[draw(st.integers(0, len(value) - 1))] = draw(st.integers(0, 255))
    return bytes(value[: draw(st.integers(0, len(value)))])


RECORDS = st.one_of(
    st.binary(max_size=200), truncated_events(), hostile_events(), st.sampled_from(GOOD)
)


def _kafka(values: list[bytes | None]) -> pa.RecordBatch:
    n = len(values)
    return pa.RecordBatch.from_pydict(
        {
            "value": pa.array(values, pa.binary()),
            "topic": ["user-feedback"] * n,
            "partition": pa.array([0] * n, pa.int32()),
            "offset": pa.array(range(n), pa.int64()),
            "timestamp": pa.array([AT] * n, pa.timestamp("us", tz="UTC")),
        }
    )


def _assert_fits_the_archive(row: dict[str, Any]) -> None:
    """_assert_fits_the_archive checks one decoded row against the billing table's columns."""
    assert row["raw"] is None
    assert row["request_id"] == identifiers.request_id(row["request_id"])
    assert row["request_id"] == row["request_id"].lower()
    assert row["campaign_id"] == identifiers.campaign_id(row["campaign_id"])
    assert row["user_id"] == identifiers.user_id(row["user_id"])
    for name in MONEY_FIELDS:  # DECIMAL(24,10): exact, 10 places, at most 14 integer digits
        amount = row[name]
        assert isinstance(amount, Decimal) and amount.is_finite() and amount >= 0
        assert amount.as_tuple().exponent == -10 and len(amount.as_tuple().digits) <= 24
    assert row["expenditure"] <= max(row["auction_cpc"], row["auction_cpa"])
    assert {row["view"], row["click"], row["acquisition"]} <= {0, 1}
    assert row["user_action"] in ("view", "click", "acquisition")
    start, end = (int(age) for age in row["target_age_range"].split("-"))
    assert 0 <= start <= end <= 150
    for name in EVENT_NAMES:
        if isinstance(row[name], str):
            row[name].encode()  # Parquet strings are UTF-8: no lone surrogates
            assert not re.search(r"[\x00-\x1f\x7f-\x9f]", row[name])
    for name in TIME_FIELDS:
        moment = row[name]
        assert datetime(1900, 1, 1, tzinfo=UTC) <= moment <= datetime.max.replace(tzinfo=UTC)
    # The sink's partitions, as billing_sink.hour_partitions computes them: plain values.
    stamps = pa.table({"timestamp": pa.array([row["timestamp"]], TIMESTAMP)})
    (partition,) = hour_partitions(stamps).select(["dt", "hr"]).to_pylist()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", partition["dt"])
    assert partition["dt"] == row["timestamp"].strftime("%Y-%m-%d")
    assert re.fullmatch(r"[01]\d|2[0-3]", partition["hr"])


def _assert_set_aside(row: dict[str, Any], value: bytes | None) -> None:
    """_assert_set_aside checks a quarantine row: the bytes kept, a reason, no event values."""
    assert row["raw"] == value
    assert isinstance(row["error"], str) and 0 < len(row["error"]) < 300
    assert not row["error"].startswith("cannot decode"), row["error"]  # that is a decoder bug
    assert all(row[name] is None for name in EVENT_NAMES)


@FUZZ
@given(value=RECORDS)
def test_any_record_is_archived_fit_or_set_aside_with_a_reason(value: bytes) -> None:
    batch = decode_batch(_kafka([value]))
    assert batch.schema == DECODED
    (row,) = batch.to_pylist()
    if row["error"] is None:
        _assert_fits_the_archive(row)
    else:
        _assert_set_aside(row, value)


@FUZZ
@given(values=st.lists(st.one_of(RECORDS, st.none()), max_size=12))
def test_a_bad_record_never_harms_its_batch(values: list[bytes | None]) -> None:
    batch = decode_batch(_kafka([*values, GOOD[0]]))  # the mapInArrow path: one Arrow batch
    assert batch.num_rows == len(values) + 1
    rows = batch.to_pylist()
    assert rows[-1]["error"] is None and rows[-1]["kafka_offset"] == len(values)
    for offset, (value, row) in enumerate(zip(values, rows, strict=False)):
        (alone,) = decode_batch(_kafka([value])).to_pylist()
        assert row | {"kafka_offset": 0} == alone  # the same row as when decoded on its own
        assert row["kafka_offset"] == offset


def test_every_synthetic_event_is_archived() -> None:
    rows = decode_batch(_kafka(list(GOOD))).to_pylist()
    for row in rows:
        assert row["error"] is None, row["error"]
        _assert_fits_the_archive(row)


@FUZZ
@given(value=RECORDS)
def test_the_fast_path_reads_a_record_exactly_as_the_full_checks_do(value: bytes) -> None:
    fast = _fast_row(value)
    if fast is None:
        return  # the full checks take it, and give the reason if it is refused
    full = _record_row(value)
    assert full["error"] is None, f"the fast path took a record the checks refuse: {full}"
    assert fast == tuple(full.get(name) for name in _ROW_FIELDS)
