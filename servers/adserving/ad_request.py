"""Ad requests as devices send them: checked and normalised into a targeting.Request.

Pure. Every field must fit its served_ads column, so one odd request can never fail the
batch of served ads it would share a transaction with. Only user_id is required; an empty
device, city or state matches untargeted campaigns only, and an empty country is the
platform's home country.
"""

from __future__ import annotations

from servers.adserving.targeting import Request
from servers.campaigns.model import canonical_device
from servers.errors import ValidationError

# LIMITS are the longest values the served_ads columns hold, in characters.
LIMITS = {"user_id": 64, "device_type": 32, "city": 100, "state": 100, "country": 100}


def parse(
    user_id: str, device_type: str, city: str, state: str, country: str, *, home_country: str
) -> Request:
    """parse checks an ad request's fields and fills in the home country when none is given."""
    fields = {
        "user_id": user_id.strip(),
        "device_type": device_type.strip(),
        "city": city.strip(),
        "state": state.strip(),
        "country": country.strip() or home_country,
    }
    if not fields["user_id"]:
        raise ValidationError("user_id", "is required")
    for name, limit in LIMITS.items():
        if len(fields[name]) > limit:
            raise ValidationError(name, f"must be at most {limit} characters")
    device = fields["device_type"]
    return Request(
        user_id=fields["user_id"],
        device_type=canonical_device(device) if device else "",
        city=fields["city"],
        state=fields["state"],
        country=fields["country"],
    )
