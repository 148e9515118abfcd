"""Text: the one rule for which characters stored free text may hold.

Control characters (NUL, escapes, DEL, C1) corrupt what a reader of logs, reports and exports
sees, and MariaDB's collations ignore them when comparing, so two spellings could look alike;
lone surrogates (from JSON's "\\ud800") cannot be encoded for the database at all; line and
paragraph separators break a one-line value. Every other character, spaces of every kind
included, is kept as sent. Multi-line text (an ad's copy) may also hold newlines and tabs.
Pure: no I/O.
"""

from __future__ import annotations

import re

from servers.errors import ValidationError

# Categories Cc (C0, DEL, C1) and Cs (surrogates), and the line and paragraph separators.
_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
_MULTI_LINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")  # \t and \n allowed


def check_storable(text: str, field: str, *, multiline: bool = False) -> str:
    """check_storable is text if it holds only characters stored text may; else ValidationError."""
    refused = (_MULTI_LINE if multiline else _ONE_LINE).search(text)
    if refused:
        raise ValidationError(field, f"must not contain the character {refused[0]!r}")
    return text
