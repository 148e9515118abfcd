"""Tests for servers.feedback.feedback_request: what a device may send to SubmitFeedback."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servers.ads.charging import UserAction
from servers.errors import ValidationError
from servers.feedback.feedback_request import FeedbackRequest, parse

REQUEST_ID = "4f1c7d2e-0b7a-4c39-9a52-6f0e1d2c3b4a"


def test_a_request_id_in_any_spelling_is_the_canonical_one() -> None:
    for spelling in (
        REQUEST_ID,
        REQUEST_ID.upper(),
        f"  {REQUEST_ID.upper()}\n",
        f"\t{REQUEST_ID}",
    ):
        assert parse(spelling, 1, 1, 0) == FeedbackRequest(REQUEST_ID, 1, 1, 0, UserAction.CLICK)


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "not-a-uuid", REQUEST_ID[:-1], REQUEST_ID + "0", REQUEST_ID.replace("-", ""),
     "{" + REQUEST_ID + "}", f"urn:uuid:{REQUEST_ID}", REQUEST_ID.replace("4", "\u0664"),
     REQUEST_ID + "\x00", "\x00" + REQUEST_ID[1:]],
)  # fmt: skip
def test_anything_but_a_uuid_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="request_id"):
        parse(bad, 1, 0, 0)


@pytest.mark.parametrize(
    ("flags", "field"), [((2, 0, 0), "view"), ((1, -1, 0), "click"), ((1, 2, 0), "click")]
)
def test_flags_must_be_0_or_1(flags: tuple[int, int, int], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        parse(REQUEST_ID, *flags)


def test_the_action_is_the_most_valuable_flag() -> None:
    assert parse(REQUEST_ID, 0, 1, 1).action is UserAction.ACQUISITION
    assert parse(REQUEST_ID, True, False, False).flags == (1, 0, 0)


# Property: whatever a device sends, parse answers with a storable request or a ValidationError.

_SPELLINGS = st.builds(
    lambda value, upper, left, right: left + (str(value).upper() if upper else str(value)) + right,
    st.uuids(),
    st.booleans(),
    st.sampled_from(["", " ", "\t", "\n ", "\u3000"]),
    st.sampled_from(["", " ", "\r\n", "\x0b"]),
)
_ANY_ID = st.one_of(
    _SPELLINGS,
    st.text(alphabet=st.characters(exclude_categories=()), max_size=60),
    st.text(alphabet="0123456789abcdefABCDEF-{}\x00 \u0660\uff10", min_size=30, max_size=40),
    st.text(max_size=5000),
)
_ANY_FLAG = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1]), st.booleans())


@settings(max_examples=500)
@given(request_id=_ANY_ID, view=_ANY_FLAG, click=_ANY_FLAG, acquisition=_ANY_FLAG)
def test_any_feedback_is_storable_or_refused(
    request_id: str, view: int, click: int, acquisition: int
) -> None:
    try:
        request = parse(request_id, view, click, acquisition)
    except ValidationError as error:
        assert error.field in {"request_id", "view", "click", "acquisition"}
        return
    # feedback.request_id is VARCHAR(36) ASCII; the flags are 0/1 SMALLINTs.
    assert len(request.request_id) == 36 and request.request_id.isascii()
    assert request.request_id == str(uuid.UUID(request_id.strip()))
    assert parse(request.request_id, *request.flags) == request  # canonical is a fixed point
    assert set(request.flags) <= {0, 1}
    assert len(str(request.action)) <= 16  # feedback.user_action


@given(value=st.uuids(), upper=st.booleans())
def test_every_spelling_of_one_uuid_is_one_request(value: uuid.UUID, upper: bool) -> None:
    spelling = str(value).upper() if upper else str(value)
    assert parse(f" {spelling} ", 1, 0, 0).request_id == str(value)
