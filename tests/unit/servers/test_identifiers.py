"""Tests for servers.identifiers: one canonical form per campaign, request and user id."""

from __future__ import annotations

import string
import uuid
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servers import identifiers
from servers.errors import ValidationError

_ANY = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=80),
    st.text(alphabet=string.ascii_letters + string.digits + "-_.: \t\x00", max_size=80),
    st.text(max_size=3000),
    st.sampled_from(["", " ", "İ" * 64, "a" * 64, "a" * 65, "1111-1111-1111-1111"]),
)
_PADDING = st.text(alphabet=" \t\n\r\x0b\x0c\u00a0\u2003\u3000", max_size=3)


@settings(max_examples=400)
@given(value=_ANY)
def test_a_campaign_id_is_short_ascii_or_refused(value: str) -> None:
    try:
        canonical = identifiers.campaign_id(value)
    except ValidationError as error:
        assert error.field == "campaign_id"
        return
    assert 1 <= len(canonical) <= identifiers.CAMPAIGN_ID_MAX_CHARS  # campaigns VARCHAR(64)
    assert canonical.isascii() and canonical.isprintable() and " " not in canonical
    assert canonical == value.strip()
    assert identifiers.campaign_id(canonical) == canonical


@settings(max_examples=400)
@given(value=_ANY)
def test_a_user_id_is_printable_and_fits_or_refused(value: str) -> None:
    try:
        canonical = identifiers.user_id(value)
    except ValidationError as error:
        assert error.field == "user_id"
        return
    assert 1 <= len(canonical) <= identifiers.USER_ID_MAX_CHARS  # served_ads VARCHAR(64)
    assert canonical.isprintable() and canonical == canonical.strip()
    assert identifiers.user_id(canonical) == canonical


@settings(max_examples=400)
@given(value=st.one_of(_ANY, st.uuids().map(str), st.uuids().map(lambda u: str(u).upper())))
def test_a_request_id_is_a_canonical_uuid_or_refused(value: str) -> None:
    try:
        canonical = identifiers.request_id(value)
    except ValidationError as error:
        assert error.field == "request_id"
        return
    assert len(canonical) == identifiers.REQUEST_ID_CHARS  # served_ads VARCHAR(36)
    assert canonical == str(uuid.UUID(canonical)) == canonical.lower()
    assert identifiers.request_id(canonical) == canonical


@given(value=st.uuids(), upper=st.booleans(), left=_PADDING, right=_PADDING)
def test_every_spelling_of_a_request_id_is_one_id(
    value: uuid.UUID, upper: bool, left: str, right: str
) -> None:
    spelling = str(value).upper() if upper else str(value)
    assert identifiers.request_id(left + spelling + right) == str(value)


@given(
    reader=st.sampled_from([identifiers.campaign_id, identifiers.user_id]),
    value=st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=64),
    left=_PADDING,
    right=_PADDING,
)
def test_surrounding_whitespace_is_not_part_of_an_id(
    reader: Callable[[object], str], value: str, left: str, right: str
) -> None:
    assert reader(left + value + right) == value


@pytest.mark.parametrize(
    "reader", [identifiers.campaign_id, identifiers.request_id, identifiers.user_id]
)
@pytest.mark.parametrize("value", [None, 7, b"abc", "", "  \t"])
def test_missing_or_non_text_ids_are_refused(
    reader: Callable[[object], str], value: object
) -> None:
    with pytest.raises(ValidationError):
        reader(value)


def test_ids_are_case_sensitive_but_request_ids_are_not() -> None:
    assert identifiers.campaign_id("ABC") != identifiers.campaign_id("abc")
    assert identifiers.user_id("U1") == "U1"
    assert identifiers.request_id("4F1C7D2E-0B7A-4C39-9A52-6F0E1D2C3B4A") == (
        "4f1c7d2e-0b7a-4c39-9a52-6f0e1d2c3b4a"
    )


@pytest.mark.parametrize("value", ["u\x001", "u\t1", "u\u200b1", "u\u00a01", "u\ud8001", "u\n1"])
def test_a_user_id_with_invisible_or_control_characters_is_refused(value: str) -> None:
    # MySQL's collation ignores such characters when comparing: "u\x001" would find "u1".
    with pytest.raises(ValidationError, match="user_id"):
        identifiers.user_id(value)


@given(padding=_PADDING, other=_ANY)
def test_the_privacy_id_is_its_canonical_spelling_only(padding: str, other: str) -> None:
    padded = f"{padding}{identifiers.PRIVACY_USER_ID}{padding}"
    assert identifiers.is_privacy_id(identifiers.user_id(padded))
    assert identifiers.is_privacy_id(identifiers.PRIVACY_USER_ID)
    assert not identifiers.is_privacy_id(identifiers.PRIVACY_USER_ID.replace("1", "\u0661"))
    assert not identifiers.is_privacy_id(f"{identifiers.PRIVACY_USER_ID}0")
    assert identifiers.is_privacy_id(other) == (other == identifiers.PRIVACY_USER_ID)
