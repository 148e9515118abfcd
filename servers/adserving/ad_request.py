"""Ad requests as devices send them: checked and normalised into a targeting.Request.

Pure. Every field is checked as it will be stored, after canonicalisation, against its
served_ads column, so one odd request can never fail the batch of served ads it would share
a transaction with: "İ" is one character but lower-cases to two, "ß" title-cases to "Ss".
MariaDB's utf8mb4 columns count characters (code points), as len does.

The user id is read by servers.identifiers (the one canonical form, the one thing compared
with the privacy id and looked up in users). The device, city, state and country are free
text without surrounding whitespace, control characters (NUL, tabs, newlines, DEL, C1) or
line and paragraph separators: a stored place stays one printable line in logs, reports and
exports, and a control character (which MariaDB's collation ignores when comparing) cannot
make two spellings of a place look alike. Lone surrogates cannot arrive through protobuf
(it checks UTF-8) and are refused here too: the driver could not encode them.

Only user_id is required; an empty device, city or state matches untargeted campaigns only,
and an empty country is the platform's home country. bid_floor (OpenRTB imp.bidfloor, CPM) is
an amount as money is everywhere (servers/money.py: plain non-negative decimal, at most 10
places, below 10^14); empty is no floor of the request's own.
"""

from __future__ import annotations

from decimal import Decimal

from servers import identifiers
from servers.adserving.targeting import Request
from servers.campaigns.model import canonical_device
from servers.errors import ValidationError
from servers.money import parse_money
from servers.storage.schema import max_chars, served_ads
from servers.text import check_storable

# LIMITS are the longest values the served_ads columns hold, in characters.
LIMITS = {
    name: max_chars(served_ads, name)
    for name in ("user_id", "device_type", "city", "state", "country")
}


def parse(
    user_id: str, device_type: str, city: str, state: str, country: str, *, home_country: str
) -> Request:
    """parse checks an ad request's fields and fills in the home country when none is given."""
    user = identifiers.user_id(user_id)
    device = _text(device_type, "device_type")
    return Request(
        user_id=user,
        device_type=_fitting(canonical_device(device) if device else "", "device_type"),
        city=_fitting(_text(city, "city"), "city"),
        state=_fitting(_text(state, "state"), "state"),
        country=_fitting(_text(country, "country") or _text(home_country, "country"), "country"),
    )


def bid_floor(value: object) -> Decimal:
    """bid_floor is the request's floor price per thousand impressions; empty is 0 (none)."""
    if not isinstance(value, str):
        raise ValidationError("bid_floor", "must be a decimal string")
    if not value.strip():
        return Decimal(0)
    return parse_money(value, "bid_floor")


def _text(value: object, field: str) -> str:
    """_text is value without surrounding whitespace, refused if it holds control characters."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    return check_storable(value.strip(), field)


def _fitting(value: str, field: str) -> str:
    """_fitting is value if its column holds it, as it will be stored."""
    limit = LIMITS[field]
    if len(value) > limit:
        raise ValidationError(field, f"must be at most {limit} characters")
    return value
