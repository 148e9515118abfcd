"""`adplatform campaigns`: create, update, stop, get and list campaigns; load a feed.

create/update/stop/get/list talk gRPC to CampaignService (ADPLATFORM_CAMPAIGN_ADDR);
load-feed publishes a feed CSV straight to campaign-instructions, as the feed's producer does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import grpc
from adplatform.v1 import campaign_pb2, campaign_service_pb2
from google.protobuf import json_format
from google.protobuf.message import Message

from clients import channels
from deploy.paths import FEED_CSV
from servers.settings import Settings

T = TypeVar("T")
TEXT_FIELDS = {
    "text": "text",
    "category": "category",
    "gender": "target_gender",
    "city": "target_city",
    "state": "target_state",
    "country": "target_country",
    "income": "target_income_bucket",
    "device": "target_device",
    "cpc": "cpc",
    "cpa": "cpa",
    "budget": "budget",
    "pacing": "pacing",
    "daily_budget": "daily_budget",
}
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def _campaign(args: argparse.Namespace) -> campaign_pb2.Campaign:
    """_campaign builds a Campaign from the flags that were given."""
    campaign = campaign_pb2.Campaign(campaign_id=args.campaign_id or "")
    for flag, field in TEXT_FIELDS.items():
        value = getattr(args, flag)
        if value is not None:
            setattr(campaign, field, value)
    if args.keywords is not None:
        campaign.keywords.extend(k.strip() for k in args.keywords.split(",") if k.strip())
    if args.age is not None:
        start, end = _pair(args.age, "--age")
        campaign.target_age_range.start, campaign.target_age_range.end = int(start), int(end)
    if args.dates is not None:
        campaign.date_range.start, campaign.date_range.end = _pair(args.dates, "--dates")
    if args.times is not None:
        campaign.time_range.start, campaign.time_range.end = _pair(args.times, "--times", "/")
    if args.frequency_cap is not None:
        impressions, period = _pair(args.frequency_cap, "--frequency-cap", "/")
        if not impressions.isdigit():
            raise SystemExit("--frequency-cap must be N/PERIOD, e.g. 3/day")
        campaign.frequency_cap.max_impressions = int(impressions)
        campaign.frequency_cap.period = period.upper()
    for daypart in args.daypart or ():
        campaign.dayparts.append(_daypart(daypart))
    return campaign


def _daypart(value: str) -> campaign_pb2.Daypart:
    """_daypart reads "[DAYS ]START-END": "MON-FRI 9-17", "SAT,SUN 10-24" or "0-6"."""
    days_text, _, hours = value.strip().rpartition(" ")
    start, sep, end = hours.partition("-")
    if not sep or not start.isdigit() or not end.isdigit():
        raise SystemExit(f"--daypart {value!r}: hours must be START-END, e.g. 9-17")
    part = campaign_pb2.Daypart(start_hour=int(start), end_hour=int(end))
    for item in filter(None, days_text.replace(" ", "").upper().split(",")):
        first, _, last = item.partition("-")
        lo, hi = _day(first, value), _day(last or first, value)
        part.days.extend(DAYS[lo : hi + 1] if lo <= hi else (*DAYS[lo:], *DAYS[: hi + 1]))
    return part


def _day(prefix: str, value: str) -> int:
    """_day is the weekday (0 Monday) a name or its first three letters names."""
    for number, day in enumerate(DAYS):
        if len(prefix) >= 3 and day.startswith(prefix):
            return number
    raise SystemExit(f"--daypart {value!r}: {prefix!r} is not a day (MON … SUN)")


def _pair(value: str, flag: str, separator: str = ":") -> tuple[str, str]:
    """_pair splits "start<sep>end"; time ranges use "/" since times contain ":"."""
    start, sep, end = value.partition(separator if separator != ":" or "/" not in value else "/")
    if not sep:
        raise SystemExit(f"{flag} must be START{separator}END")
    return start, end


def _print(message: Message) -> None:
    # Zeros are printed too: "targeting_matched: 0" is the answer a diagnosis exists to give.
    shown = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    print(json.dumps(shown, indent=2))


def _call(method: Callable[..., T], request: object) -> T:
    """_call invokes a unary RPC, turning a gRPC error into exit status 1 with its message."""
    try:
        return method(request, timeout=15)
    except grpc.RpcError as error:
        print(f"adplatform: {error.code().name}: {error.details()}", file=sys.stderr)
        raise SystemExit(1) from None


def _create(args: argparse.Namespace, settings: Settings) -> int:
    request = campaign_service_pb2.CreateCampaignRequest(campaign=_campaign(args))
    _print(_call(channels.campaigns(settings).CreateCampaign, request).campaign)
    return 0


def _update(args: argparse.Namespace, settings: Settings) -> int:
    campaign = _campaign(args)
    request = campaign_service_pb2.UpdateCampaignRequest(
        campaign_id=args.campaign_id, campaign=campaign
    )
    _print(_call(channels.campaigns(settings).UpdateCampaign, request).campaign)
    return 0


def _stop(args: argparse.Namespace, settings: Settings) -> int:
    request = campaign_service_pb2.StopCampaignRequest(
        campaign_id=args.campaign_id, reason=args.reason or ""
    )
    _print(_call(channels.campaigns(settings).StopCampaign, request).campaign)
    return 0


def _get(args: argparse.Namespace, settings: Settings) -> int:
    request = campaign_service_pb2.GetCampaignRequest(campaign_id=args.campaign_id)
    _print(_call(channels.campaigns(settings).GetCampaign, request).campaign)
    return 0


def _diagnose(args: argparse.Namespace, settings: Settings) -> int:
    request = campaign_service_pb2.DiagnoseCampaignRequest(
        campaign_id=args.campaign_id, minutes=args.minutes
    )
    _print(_call(channels.campaigns(settings).DiagnoseCampaign, request))
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.table import Table

    request = campaign_service_pb2.ListCampaignsRequest(
        page_size=args.page_size, page_token=args.page_token or "", filter=args.filter or ""
    )
    reply = _call(channels.campaigns(settings).ListCampaigns, request)
    table = Table(
        "campaign",
        "status",
        "category",
        "cpm",
        "budget",
        "spent",
        "remaining",
        "slot budget",
        title=f"{len(reply.campaigns)} of {reply.total_size} campaigns",
    )
    for c in reply.campaigns:
        table.add_row(
            c.campaign_id,
            c.status,
            c.category,
            c.cpm,
            c.budget,
            c.spent,
            c.remaining_budget,
            c.current_slot_budget,
        )
    Console().print(table)
    if reply.next_page_token:
        print(f"next page: --page-token {reply.next_page_token}")
    return 0


def _load_feed(args: argparse.Namespace, settings: Settings) -> int:
    from rich.progress import Progress

    from clients import feed_loader

    path = Path(args.file)
    # "Today" in the platform's time zone, where campaign windows are read.
    today = datetime.now(ZoneInfo(settings.timezone)).date() if args.shift_dates_to_now else None
    messages = feed_loader.read_messages(path, shift_to=today)
    with Progress() as bar:
        task = bar.add_task(f"publishing {path.name}", total=len(messages))
        result = feed_loader.publish(
            settings, messages, rate=args.rate, progress=lambda n: bar.advance(task, n)
        )
    print(
        f"published {result.messages} messages in {result.seconds:.2f}s "
        f"({result.messages / max(result.seconds, 1e-9):,.0f}/s)"
    )
    if args.wait:
        import time

        started = time.monotonic() - result.seconds
        applied_at = feed_loader.wait_applied(settings, result.end_offsets, timeout=args.wait)
        elapsed = applied_at - started
        print(
            f"applied by the Ad Manager after {elapsed:.2f}s "
            f"({result.messages / elapsed:,.0f} messages/s end to end)"
        )
    return 0


def _add_fields(parser: argparse.ArgumentParser) -> None:
    """_add_fields adds one flag per campaign field."""
    parser.add_argument("--text")
    parser.add_argument("--category")
    parser.add_argument("--keywords", help="comma-separated")
    parser.add_argument("--gender", help="M, F or All")
    parser.add_argument("--age", help="START:END, 0:0 for any age")
    parser.add_argument("--city")
    parser.add_argument("--state")
    parser.add_argument("--country")
    parser.add_argument("--income", help="H, M, L or All")
    parser.add_argument("--device", help="e.g. 'Android Mobile' or All")
    parser.add_argument("--cpc", help="bid per click, e.g. 0.00041")
    parser.add_argument("--cpa", help="bid per acquisition, e.g. 0.0542")
    parser.add_argument("--budget", help="lifetime budget")
    parser.add_argument("--dates", help="START:END as YYYY-MM-DD:YYYY-MM-DD")
    parser.add_argument("--times", help="START/END as H:MM:SS/H:MM:SS")
    parser.add_argument("--frequency-cap", help="N/PERIOD: at most N ads per user, e.g. 3/day")
    parser.add_argument("--pacing", help="EVEN (the default) or ASAP")
    parser.add_argument("--daily-budget", help="the most spent per day in the platform's zone")
    parser.add_argument(
        "--daypart",
        action="append",
        help='"[DAYS ]START-END" hours served, e.g. "MON-FRI 9-17"; repeat for more',
    )


def register(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds the campaigns commands."""
    commands = areas.add_parser("campaigns", help="manage campaigns").add_subparsers(
        dest="command", required=True
    )
    create = commands.add_parser("create", help="create a campaign (publishes New Campaign)")
    create.add_argument("--campaign-id", help="supply an id for idempotent retries")
    _add_fields(create)
    create.set_defaults(handler=_create)

    update = commands.add_parser("update", help="change fields (publishes Update Campaign)")
    update.add_argument("campaign_id")
    _add_fields(update)
    update.set_defaults(handler=_update)

    stop = commands.add_parser("stop", help="stop a campaign (publishes Stop Campaign)")
    stop.add_argument("campaign_id")
    stop.add_argument("--reason")
    stop.set_defaults(handler=_stop)

    get = commands.add_parser("get", help="show one campaign")
    get.add_argument("campaign_id")
    get.set_defaults(handler=_get)

    diagnose = commands.add_parser("diagnose", help="why a campaign is or is not serving now")
    diagnose.add_argument("campaign_id")
    diagnose.add_argument("--minutes", type=int, default=15, help="recent counters' window")
    diagnose.set_defaults(handler=_diagnose)

    listing = commands.add_parser("list", help="list campaigns")
    listing.add_argument("--filter", help='e.g. "status=ACTIVE category=Electronics"')
    listing.add_argument("--page-size", type=int, default=50)
    listing.add_argument("--page-token")
    listing.set_defaults(handler=_list)

    load = commands.add_parser("load-feed", help="publish a campaign feed CSV in order")
    load.add_argument("file", nargs="?", default=str(FEED_CSV))
    load.add_argument(
        "--shift-dates-to-now",
        action="store_true",
        help="move every date so the feed's first date is today",
    )
    load.add_argument(
        "--rate", type=float, help="messages per second (default: as fast as possible)"
    )
    load.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="wait up to SECONDS until the Ad Manager has applied every message",
    )
    load.set_defaults(handler=_load_feed)
