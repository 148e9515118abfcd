"""Wire forms of campaigns: protobuf messages and the feed's JSON to and from the domain.

Kafka records on campaign-instructions are CampaignInstruction protobufs from
CampaignService or the feed's JSON form (one message per campaign, with `action`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from adplatform.v1 import campaign_pb2, campaign_service_pb2, events_pb2
from google.protobuf.message import DecodeError

from servers import identifiers
from servers.campaigns import daily
from servers.campaigns.dayparts import DAYS, EVERY_DAY
from servers.campaigns.feed import NESTED_FIELDS, parse_nested
from servers.campaigns.kpis import KpiPoint, Totals
from servers.campaigns.model import Action, Daypart, FrequencyCap
from servers.campaigns.pacing import rolled_slot
from servers.campaigns.store import CampaignRecord
from servers.campaigns.validation import (
    format_clock,
    parse_action,
)
from servers.errors import ValidationError
from servers.money import format_money

ACTIONS = {
    Action.NEW: events_pb2.INSTRUCTION_ACTION_NEW,
    Action.UPDATE: events_pb2.INSTRUCTION_ACTION_UPDATE,
    Action.STOP: events_pb2.INSTRUCTION_ACTION_STOP,
}
_ACTION_OF = {value: key for key, value in ACTIONS.items()}
_SPEC_STRINGS = (
    "campaign_id",
    "text",
    "category",
    "target_gender",
    "target_city",
    "target_state",
    "target_country",
    "target_income_bucket",
    "target_device",
    "cpc",
    "cpa",
    "budget",
)


@dataclass(frozen=True, slots=True)
class Message:
    """Message is a decoded instruction record, before it is resolved against stored state."""

    action: Action
    fields: dict[str, object]
    mask: tuple[str, ...] | None  # None: every field is replaced
    reason: str
    from_feed: bool

    @property
    def campaign_id(self) -> str:
        """campaign_id is the campaign the message is about."""
        return str(self.fields.get("campaign_id") or "")


def campaign_fields(campaign: campaign_pb2.Campaign) -> dict[str, object]:
    """campaign_fields turns a Campaign message into API-named plain values (unset: absent)."""
    fields: dict[str, object] = {name: getattr(campaign, name) for name in _SPEC_STRINGS}
    fields["keywords"] = list(campaign.keywords)
    if campaign.HasField("target_age_range"):
        age = campaign.target_age_range
        fields["target_age_range"] = {"start": age.start, "end": age.end}
    for name in ("date_range", "time_range"):
        if campaign.HasField(name):
            span = getattr(campaign, name)
            fields[name] = {"start": span.start, "end": span.end}
    if campaign.HasField("frequency_cap"):
        cap = campaign.frequency_cap
        fields["frequency_cap"] = {"max_impressions": cap.max_impressions, "period": cap.period}
    fields["pacing"] = campaign.pacing
    fields["daily_budget"] = campaign.daily_budget
    fields["dayparts"] = [
        {"days": list(part.days), "start_hour": part.start_hour, "end_hour": part.end_hour}
        for part in campaign.dayparts
    ]
    return fields


# What the platform computes and shows: a request that sets one asks for what it cannot have.
READ_ONLY_FIELDS = frozenset(
    {
        "cpm",
        "status",
        "status_reason",
        "spent",
        "remaining_budget",
        "current_slot_budget",
        "created_at",
        "updated_at",
        "stats",
        "spent_today",
    }
)


def refuse_read_only(campaign: campaign_pb2.Campaign, prefix: str) -> None:
    """refuse_read_only raises ValidationError naming the first read-only field that is set."""
    for field, _ in campaign.ListFields():
        if field.name in READ_ONLY_FIELDS:
            raise ValidationError(f"{prefix}.{field.name}", "is read-only: the platform sets it")


def set_fields(campaign: campaign_pb2.Campaign) -> tuple[str, ...]:
    """set_fields names the fields a client actually set: the implicit mask of an Update."""
    return tuple(field.name for field, _ in campaign.ListFields() if field.name != "campaign_id")


def to_proto(record: CampaignRecord, now: datetime, tz: ZoneInfo) -> campaign_pb2.Campaign:
    """to_proto renders a stored campaign with its live money as of now."""
    state = record.state
    spec, targeting, schedule = state.spec, state.spec.targeting, state.spec.schedule
    slot = rolled_slot(state, now, tz)
    campaign = campaign_pb2.Campaign(
        campaign_id=spec.campaign_id,
        text=spec.text,
        category=spec.category,
        keywords=list(spec.keywords),
        target_gender=targeting.gender,
        target_age_range=campaign_pb2.AgeRange(
            start=targeting.age_range.start, end=targeting.age_range.end
        ),
        target_city=targeting.city,
        target_state=targeting.state,
        target_country=targeting.country,
        target_income_bucket=targeting.income_bucket,
        target_device=targeting.device,
        cpc=format_money(spec.cpc),
        cpa=format_money(spec.cpa),
        budget=format_money(spec.budget),
        date_range=campaign_pb2.DateRange(
            start=schedule.start_date.isoformat(), end=schedule.end_date.isoformat()
        ),
        time_range=campaign_pb2.TimeRange(
            start=format_clock(schedule.start_time), end=format_clock(schedule.end_time)
        ),
        cpm=format_money(record.cpm),
        status=str(state.status),
        status_reason=state.status_reason,
        spent=format_money(state.spent),
        remaining_budget=format_money(state.remaining),
        current_slot_budget=format_money(slot.amount),
        frequency_cap=_frequency_cap_proto(spec.frequency_cap),
        pacing=str(spec.pacing),
        daily_budget="" if spec.daily_budget is None else format_money(spec.daily_budget),
        dayparts=[_daypart_proto(part) for part in spec.dayparts],
        spent_today=format_money(daily.spent_today(state, now, tz)),
    )
    campaign.created_at.FromDatetime(record.created_at)
    campaign.updated_at.FromDatetime(record.updated_at)
    return campaign


def _frequency_cap_proto(cap: FrequencyCap | None) -> campaign_pb2.FrequencyCap | None:
    """_frequency_cap_proto renders a campaign's own cap; None leaves the field unset."""
    if cap is None:
        return None
    return campaign_pb2.FrequencyCap(max_impressions=cap.max_impressions, period=str(cap.period))


def _daypart_proto(part: Daypart) -> campaign_pb2.Daypart:
    """_daypart_proto renders a daypart as validation.dayparts_json writes it ([] every day)."""
    return campaign_pb2.Daypart(
        days=[] if part.days == EVERY_DAY else [DAYS[day] for day in sorted(part.days)],
        start_hour=part.start_hour,
        end_hour=part.end_hour,
    )


def stats_to_proto(totals: Totals) -> campaign_pb2.CampaignStats:
    """stats_to_proto renders a campaign's delivery totals."""
    return campaign_pb2.CampaignStats(
        impressions=totals.impressions,
        clicks=totals.clicks,
        acquisitions=totals.acquisitions,
        ctr=float(totals.ctr),  # a ratio for display and charts, not money
        unique_users=totals.unique_users,
    )


def kpi_point_to_proto(point: KpiPoint) -> campaign_service_pb2.CampaignKpiPoint:
    """kpi_point_to_proto renders one minute of KPIs; money stays an exact decimal string."""
    message = campaign_service_pb2.CampaignKpiPoint(
        impressions=point.impressions,
        clicks=point.clicks,
        acquisitions=point.acquisitions,
        ctr=float(point.ctr),
        conversion_rate=float(point.conversion_rate),
        spend=format_money(point.spend),
        ecpm=format_money(point.ecpm),
    )
    message.minute.FromDatetime(point.minute)
    return message


def encode_instruction(
    action: Action,
    campaign: campaign_pb2.Campaign,
    *,
    mask: tuple[str, ...] = (),
    reason: str = "",
    instruction_id: str = "",
    issued_at: datetime | None = None,
) -> bytes:
    """encode_instruction is the protobuf record CampaignService publishes."""
    instruction = events_pb2.CampaignInstruction(
        instruction_id=instruction_id, action=ACTIONS[action], campaign=campaign, reason=reason
    )
    instruction.update_mask.paths.extend(mask)
    if issued_at is not None:
        instruction.issue_time.FromDatetime(issued_at)
    return instruction.SerializeToString()


def decode_instruction(value: bytes | None, key: bytes | None = None) -> Message:
    """decode_instruction reads a protobuf or feed-JSON record; ValidationError if malformed.

    The campaign id is made canonical, and when key is given it must be that id: the key
    chose the partition, and a campaign's instructions keep their order only on one.
    """
    if not value:
        raise ValidationError("value", "empty record")
    is_json = value.lstrip()[:1] == b"{"
    message = _decode_feed_json(value) if is_json else _decode_protobuf(value)
    campaign_id = identifiers.campaign_id(message.fields.get("campaign_id"))
    if key is not None and key != campaign_id.encode():
        raise ValidationError("key", f"must be the canonical campaign id {campaign_id!r}")
    message.fields["campaign_id"] = campaign_id
    return message


def _decode_protobuf(value: bytes) -> Message:
    try:
        instruction = events_pb2.CampaignInstruction.FromString(value)
    except DecodeError:
        raise ValidationError("value", "neither a CampaignInstruction nor feed JSON") from None
    action = _ACTION_OF.get(instruction.action)
    if action is None:
        raise ValidationError("action", "must be NEW, UPDATE or STOP")
    mask = tuple(instruction.update_mask.paths) if action is Action.UPDATE else None
    return Message(
        action=action,
        fields=campaign_fields(instruction.campaign),
        mask=mask or None,
        reason=instruction.reason,
        from_feed=False,
    )


# A feed message carries the campaign's fields and its action, nothing else.
# The delivery controls are optional there, with the API's names and shapes.
FEED_FIELDS = frozenset(
    {
        "action",
        *_SPEC_STRINGS,
        "keywords",
        *NESTED_FIELDS,
        "frequency_cap",
        "pacing",
        "daily_budget",
        "dayparts",
    }
)


def _decode_feed_json(value: bytes) -> Message:
    """_decode_feed_json reads one feed message; amounts stay exact (floats are refused)."""
    try:
        document = json.loads(value, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("value", "malformed JSON") from None
    except RecursionError:
        raise ValidationError("value", "JSON nested too deeply") from None
    if not isinstance(document, dict):
        raise ValidationError("value", "JSON must be an object")
    for name in document:
        if name not in FEED_FIELDS:
            raise ValidationError(str(name)[:64], "is not a field of a feed message")
    fields = {key: val for key, val in document.items() if key != "action"}
    for field in NESTED_FIELDS:
        if field in fields:
            fields[field] = parse_nested(fields[field], field)
    return Message(
        action=parse_action(document.get("action")),
        fields=fields,
        mask=None,
        reason="",
        from_feed=True,
    )
