"""Tests for servers/text.py: stored text holds no control characters, surrogates or breaks."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.errors import ValidationError
from servers.text import check_storable

LINE_BREAKS = "\u2028\u2029"


def _allowed(char: str, multiline: bool) -> bool:
    if multiline and char in "\n\t":
        return True
    return unicodedata.category(char) not in ("Cc", "Cs") and char not in LINE_BREAKS


@given(st.text(), st.booleans())
def test_text_is_kept_whole_exactly_when_every_character_may_be_stored(
    text: str, multiline: bool
) -> None:
    expected = all(_allowed(char, multiline) for char in text)
    try:
        assert check_storable(text, "city", multiline=multiline) == text
    except ValidationError as error:
        assert error.field == "city"
        assert not expected
    else:
        assert expected


@pytest.mark.parametrize("kept", ["Pune", "São Paulo", "a\u00a0b", "👩‍💻", "e\u200d"])
def test_spaces_of_every_kind_and_joiners_are_kept(kept: str) -> None:
    assert check_storable(kept, "city") == kept


def test_an_ads_copy_may_span_lines_and_a_name_may_not() -> None:
    assert check_storable("line one\n\tline two", "text", multiline=True)
    with pytest.raises(ValidationError):
        check_storable("line one\nline two", "category")
