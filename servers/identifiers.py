"""Identifiers: the one definition of a valid campaign id, request id and user id.

Every door (the JSON and gRPC APIs, the feed loader, the Ad Manager's decode of protobuf
and feed JSON, the AdServer and the FeedbackService) reads ids through these functions, so
one id names exactly one thing everywhere: the Kafka key and so its partition, the MySQL
row, the Hive rows. The rules:

- Surrounding whitespace is not part of an id: it is removed (careless clients pad ids;
  " abc" and "abc" are the same campaign, never two).
- A campaign id is 1-64 ASCII letters, digits and - _ . : starting with a letter or digit,
  and it is case-sensitive ("ABC" and "abc" are two campaigns; the columns holding campaign
  ids use a binary collation so MySQL agrees with Kafka and Hive).
- A request id is a UUID, written canonically (lowercase, hyphenated, 36 characters).
- A user id is 1-64 printable characters with no control characters.
- The privacy id is one user id, compared in its canonical form: its user is never profiled
  (no profile is looked up, and none is used should the users table hold one).

Pure: no I/O.
"""

from __future__ import annotations

import re
import uuid

from servers.errors import ValidationError

CAMPAIGN_ID_MAX_CHARS = 64
USER_ID_MAX_CHARS = 64
REQUEST_ID_CHARS = 36
PRIVACY_USER_ID = "1111-1111-1111-1111"  # a user who must not be profiled

_CAMPAIGN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*", re.ASCII)
_REQUEST_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I | re.A
)


def campaign_id(value: object, field: str = "campaign_id") -> str:
    """campaign_id is the canonical campaign id in value, or ValidationError naming field."""
    text = _stripped(value, field)
    if len(text) > CAMPAIGN_ID_MAX_CHARS:
        raise ValidationError(field, f"must be at most {CAMPAIGN_ID_MAX_CHARS} characters")
    if not _CAMPAIGN_ID.fullmatch(text):
        raise ValidationError(field, "must be ASCII letters, digits and - _ . : only")
    return text


def request_id(value: object, field: str = "request_id") -> str:
    """request_id is the canonical (lowercase, hyphenated) UUID in value."""
    text = _stripped(value, field)
    if not _REQUEST_ID.fullmatch(text):
        raise ValidationError(field, "must be a UUID like 4f1c7d2e-0b7a-4c39-9a52-6f0e1d2c3b4a")
    return str(uuid.UUID(text))


def user_id(value: object, field: str = "user_id") -> str:
    """user_id is value without surrounding whitespace: 1-64 printable characters."""
    text = _stripped(value, field)
    if len(text) > USER_ID_MAX_CHARS:
        raise ValidationError(field, f"must be at most {USER_ID_MAX_CHARS} characters")
    if not text.isprintable():  # no control, format or separator characters but " "
        raise ValidationError(field, "must not contain control or separator characters")
    return text


def is_privacy_id(user_id: str) -> bool:
    """is_privacy_id is true for the privacy id; user_id is canonical (read by user_id)."""
    return user_id == PRIVACY_USER_ID


def _stripped(value: object, field: str) -> str:
    if value is None:
        raise ValidationError(field, "is required")
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    text = value.strip()
    if not text:
        raise ValidationError(field, "is required")
    return text
