"""Hostile and careless instructions: each is applied as documented or refused by field.

The Ad Manager applies whatever reaches the campaign-instructions topic, so every decoder
and validator on that path is fuzzed here: for any input they either give a valid value
whose stored row fits the campaigns table, or raise ValidationError — never anything else.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from adplatform.v1 import campaign_pb2, events_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import DECIMAL, BigInteger, Integer, SmallInteger, String

from servers.campaigns import store
from servers.campaigns.feed import NESTED_FIELDS
from servers.campaigns.instructions import apply, resolve
from servers.campaigns.model import Action
from servers.campaigns.pricing import Weights
from servers.campaigns.validation import spec_fields, validate_spec
from servers.campaigns.wire import decode_instruction, encode_instruction
from servers.errors import ValidationError
from servers.storage.schema import campaigns
from tests.fixtures.campaigns import VALID_FIELDS

KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = datetime(2025, 9, 12, 4, 0, tzinfo=UTC)
WEIGHTS = Weights.parse("1000", "1000")


def feed_message(**overrides: object) -> dict[str, object]:
    """feed_message is a valid feed message (ranges as the feed's literal strings)."""
    literal = {name: str(VALID_FIELDS[name]) for name in NESTED_FIELDS}
    return {"action": "New Campaign", **VALID_FIELDS, **literal, **overrides}


def feed_json(**overrides: object) -> bytes:
    return json.dumps(feed_message(**overrides)).encode()


def assert_fits_columns(row: dict[str, Any]) -> None:
    """assert_fits_columns checks a campaigns row against the table's column types."""
    for column in campaigns.columns:
        value = row[column.name]
        kind = column.type
        if value is None:
            assert column.nullable, column.name
            continue
        if isinstance(kind, String) and kind.length is not None:
            assert isinstance(value, str)
            assert len(value) <= kind.length, column.name
            assert value.encode("utf-8")  # storable: no lone surrogates
            if column.name == "campaign_id":
                assert value.isascii() and value == value.strip()
        elif isinstance(kind, DECIMAL):
            assert isinstance(value, Decimal) and value.is_finite(), column.name
            assert abs(value) < Decimal(10) ** (kind.precision - kind.scale), column.name
            assert -value.as_tuple().exponent <= kind.scale, column.name  # type: ignore[operator]
        elif isinstance(kind, SmallInteger):
            assert -(2**15) <= value < 2**15, column.name
        elif isinstance(kind, (Integer, BigInteger)):
            assert -(2**63) <= value < 2**63, column.name
        elif isinstance(value, (date, datetime)):
            assert 1000 <= value.year <= 9999, column.name


def apply_record(value: bytes, key: bytes | None = None) -> dict[str, Any]:
    """apply_record decodes, resolves and applies a record to no stored state: its row."""
    message = decode_instruction(value, key)
    instruction = resolve(
        None,
        message.action,
        message.fields,
        sequence=1,
        mask=message.mask,
        reason=message.reason,
        allow_blank_text=message.from_feed,
    )
    state = apply(None, instruction, NOW, KOLKATA).state
    return store.to_row(state, WEIGHTS, KOLKATA, NOW)


# --- the findings, one test each ---------------------------------------------------------


@pytest.mark.parametrize("padded", [" abc", "abc ", "\tabc\n"])
def test_a_padded_campaign_id_names_the_same_campaign(padded: str) -> None:
    row = apply_record(feed_json(campaign_id=padded), key=b"abc")
    assert row["campaign_id"] == "abc"


def test_a_record_keyed_other_than_its_campaign_is_refused() -> None:
    # The key chose the partition; another spelling would order the campaign on two.
    for key in (b"ABC", b" abc", b"other"):
        with pytest.raises(ValidationError) as refused:
            decode_instruction(feed_json(campaign_id="abc"), key)
        assert refused.value.field == "key"


def test_campaign_ids_are_case_sensitive() -> None:
    assert apply_record(feed_json(campaign_id="ABC"))["campaign_id"] == "ABC"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"date_range": "{[1]: 2}"}, "date_range"),
        ({"date_range": {"start": "0001-01-01", "end": "2025-09-13"}}, "date_range.start"),
        ({"date_range": {"start": "2025-09-12", "end": "9999-12-31"}}, "date_range.end"),
        ({"budget": "\u0661\u0660\u0660"}, "budget"),
        ({"cpc": "NaN"}, "cpc"),
        ({"cpc": "1e999"}, "cpc"),
        ({"text": "ad\x00copy"}, "text"),
        ({"text": "ad\ud800"}, "text"),
        ({"target_city": "Pune\x1b[2J"}, "target_city"),
        ({"target_age_range": {"start": "\u0662\u0660", "end": "45"}}, "target_age_range.start"),
        ({"time_range": {"start": "\u0665:00:00", "end": "18:00:00"}}, "time_range.start"),
        ({"citty": "Pune"}, "citty"),
    ],
)
def test_instructions_the_api_or_feed_let_through_are_refused_by_field(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        apply_record(json.dumps(feed_message(**overrides)).encode())
    assert refused.value.field == field


def test_far_dates_at_the_edges_of_the_range_still_convert() -> None:
    edge = {"start": "2000-01-01", "end": "2999-12-31"}
    midnight = {"start": "0:00:00", "end": "0:00:00"}
    row = apply_record(feed_json(date_range=edge, time_range=midnight))
    assert row["window_end"] == datetime(2999, 12, 31, 18, 30)


def test_deeply_nested_json_is_refused_not_a_crash() -> None:
    with pytest.raises(ValidationError):
        decode_instruction(b"{" + b'"a":[' * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(ValidationError):
        decode_instruction(b'{"action": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")


def test_a_protobuf_instruction_with_a_padded_id_is_canonical() -> None:
    campaign = campaign_pb2.Campaign(campaign_id="  abc ")
    message = decode_instruction(encode_instruction(Action.STOP, campaign, reason="r"), b"abc")
    assert message.campaign_id == "abc"


# --- fuzzing ------------------------------------------------------------------------------

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=40),
    st.sampled_from(["0001-01-01", "9999-12-31", "0:00:00", "23:59:59", "NaN", "1e999", "-0"]),
)
json_value = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)
field_value = st.one_of(
    json_value,
    st.builds(lambda s, e: {"start": s, "end": e}, json_value, json_value),
    st.builds(lambda s, e: str({"start": s, "end": e}), json_leaf, json_leaf),
)


def mutated_message(data: st.DataObject) -> dict[str, object]:
    message = feed_message()
    for name in data.draw(st.sets(st.sampled_from(sorted(message)), max_size=4)):
        message[name] = data.draw(field_value)
    if data.draw(st.booleans()):
        message.pop(data.draw(st.sampled_from(sorted(message))), None)
    return message


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.data())
def test_any_feed_json_record_is_applied_or_refused(data: st.DataObject) -> None:
    value = json.dumps(mutated_message(data)).encode()
    try:
        row = apply_record(value)
    except ValidationError:
        return
    assert_fits_columns(row)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_are_a_record_or_refused(value: bytes) -> None:
    try:
        row = apply_record(value)
    except ValidationError:
        return
    assert_fits_columns(row)


text = st.text(max_size=300)


@FUZZ
@given(
    st.builds(
        campaign_pb2.Campaign,
        campaign_id=text,
        text=text,
        category=text,
        keywords=st.lists(text, max_size=5),
        target_gender=text,
        target_city=text,
        target_country=text,
        target_device=text,
        cpc=text,
        cpa=text,
        budget=text,
        target_age_range=st.builds(
            campaign_pb2.AgeRange,
            start=st.integers(-(2**31), 2**31 - 1),
            end=st.integers(-(2**31), 2**31 - 1),
        ),
        date_range=st.builds(campaign_pb2.DateRange, start=text, end=text),
        time_range=st.builds(campaign_pb2.TimeRange, start=text, end=text),
    ),
    st.sampled_from(list(Action)),
    st.text(max_size=400),
)
def test_any_protobuf_instruction_is_applied_or_refused(
    campaign: campaign_pb2.Campaign, action: Action, reason: str
) -> None:
    try:
        row = apply_record(encode_instruction(action, campaign, reason=reason))
    except ValidationError:
        return
    assert_fits_columns(row)


@FUZZ
@given(st.data())
def test_a_valid_spec_round_trips_and_fits(data: st.DataObject) -> None:
    try:
        spec = validate_spec(mutated_message(data), allow_blank_text=True)
    except ValidationError:
        return
    assert validate_spec(spec_fields(spec), allow_blank_text=True) == spec


def test_the_stop_reason_lands_in_its_column_whole() -> None:
    instruction = events_pb2.CampaignInstruction(
        action=events_pb2.INSTRUCTION_ACTION_STOP,
        campaign=campaign_pb2.Campaign(campaign_id="abc"),
        reason="x" * 300,
    )
    with pytest.raises(ValidationError) as refused:
        apply_record(instruction.SerializeToString())
    assert refused.value.field == "reason"
