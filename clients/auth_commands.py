"""`adplatform auth`: bearer tokens for the local stack's campaign-management routes.

curl -H "authorization: Bearer $(adplatform auth token)" "$ADPLATFORM_ENVOY_URL/v1/campaigns"
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from servers.settings import Settings


def _hours(text: str) -> float:
    """_hours parses --ttl-hours: a positive number of hours."""
    try:
        hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of hours: {text!r}") from None
    if not 0 < hours <= 24 * 366:
        raise argparse.ArgumentTypeError(f"ttl must be between 0 and a year, got {text}")
    return hours


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.stack import auth

    print(auth.mint_token(settings, subject=args.subject, ttl=timedelta(hours=args.ttl_hours)))
    return 0


def register(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds the auth commands."""
    from deploy.stack.auth import DEFAULT_SUBJECT, DEFAULT_TTL

    commands = areas.add_parser("auth", help="tokens for campaign management").add_subparsers(
        dest="command", required=True
    )
    token = commands.add_parser(
        "token", help="print a bearer token for the local stack (signed with its key)"
    )
    token.add_argument("--subject", default=DEFAULT_SUBJECT, help="the token's sub claim")
    token.add_argument(
        "--ttl-hours",
        type=_hours,
        default=DEFAULT_TTL.total_seconds() / 3600,
        help="hours until the token expires (default %(default)s)",
    )
    token.set_defaults(handler=_token)
