"""Campaign storage: CampaignState to and from the `campaigns` table.

Times in the table are naive UTC; the domain works with aware datetimes.
"""

from __future__ import annotations

import shlex
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, RowMapping, and_, func, or_, select
from sqlalchemy.dialects.mysql import insert

from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import (
    AgeRange,
    CampaignSpec,
    FrequencyCap,
    Pacing,
    Period,
    Schedule,
    Status,
    Targeting,
)
from servers.campaigns.ordering import Cursor, Order, SortValue
from servers.campaigns.pacing import SlotBudget
from servers.campaigns.pricing import Weights, cpm
from servers.campaigns.schedule import utc_window
from servers.campaigns.validation import dayparts_json, parse_dayparts
from servers.errors import ValidationError
from servers.storage.schema import aware_utc, campaigns, naive_utc

BY_ID = Order()  # ListCampaigns' default order

# Filters ListCampaigns accepts ("status=ACTIVE category=Electronics"), by column.
FILTERABLE = ("status", "category", "target_city", "target_state", "target_device")


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """CampaignRecord is a stored campaign: its state and when it was created and changed."""

    state: CampaignState
    cpm: Any
    created_at: datetime
    updated_at: datetime


def to_row(state: CampaignState, weights: Weights, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """to_row is the table row for a campaign state as of now."""
    spec, targeting = state.spec, state.spec.targeting
    window_start, window_end = utc_window(spec.schedule, tz)
    cap = spec.frequency_cap
    return {
        "campaign_id": spec.campaign_id,
        "text": spec.text,
        "category": spec.category,
        "keywords": list(spec.keywords),
        "target_gender": targeting.gender,
        "target_age_start": targeting.age_range.start,
        "target_age_end": targeting.age_range.end,
        "target_city": targeting.city,
        "target_state": targeting.state,
        "target_country": targeting.country,
        "target_income_bucket": targeting.income_bucket,
        "target_device": targeting.device,
        "cpc": spec.cpc,
        "cpa": spec.cpa,
        "cpm": cpm(spec.cpc, spec.cpa, weights),
        "budget": spec.budget,
        "spent": state.spent,
        "start_date": spec.schedule.start_date,
        "end_date": spec.schedule.end_date,
        "start_time": spec.schedule.start_time,
        "end_time": spec.schedule.end_time,
        "window_start": naive_utc(window_start),
        "window_end": naive_utc(window_end),
        "status": str(state.status),
        "status_reason": state.status_reason,
        "slot_start": naive_utc(state.slot.slot_start),
        "slot_budget": state.slot.amount,
        "last_sequence": state.last_sequence,
        "last_partition": state.last_partition,
        "last_record_ms": state.last_record_ms,
        "created_at": naive_utc(now),
        "updated_at": naive_utc(now),
        "frequency_cap_impressions": cap.max_impressions if cap else None,
        "frequency_cap_period": str(cap.period) if cap else None,
        "pacing": str(spec.pacing),
        "daily_budget": spec.daily_budget,
        "dayparts": dayparts_json(spec.dayparts),
        "spent_day": state.spent_day,
        "spent_today": state.spent_today,
    }


def _time(value: Any) -> Any:
    """_time turns MySQL TIME (a timedelta in PyMySQL) into a time of day."""
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    return value


def _frequency_cap(impressions: int | None, period: str | None) -> FrequencyCap | None:
    """_frequency_cap reads the two cap columns; NULL impressions is no cap of its own."""
    if not impressions or period is None:
        return None
    return FrequencyCap(impressions, Period(period))


def from_row(row: Mapping[str, Any] | RowMapping) -> CampaignRecord:
    """from_row reads a table row back into a campaign record."""
    spec = CampaignSpec(
        campaign_id=row["campaign_id"],
        text=row["text"],
        category=row["category"],
        keywords=tuple(row["keywords"]),
        targeting=Targeting(
            gender=row["target_gender"],
            age_range=AgeRange(row["target_age_start"], row["target_age_end"]),
            city=row["target_city"],
            state=row["target_state"],
            country=row["target_country"],
            income_bucket=row["target_income_bucket"],
            device=row["target_device"],
        ),
        cpc=row["cpc"],
        cpa=row["cpa"],
        budget=row["budget"],
        schedule=Schedule(
            start_date=row["start_date"],
            end_date=row["end_date"],
            start_time=_time(row["start_time"]),
            end_time=_time(row["end_time"]),
        ),
        frequency_cap=_frequency_cap(row["frequency_cap_impressions"], row["frequency_cap_period"]),
        pacing=Pacing(row["pacing"]),
        daily_budget=row["daily_budget"],
        dayparts=parse_dayparts(row["dayparts"]),
    )
    state = CampaignState(
        spec=spec,
        status=Status(row["status"]),
        status_reason=row["status_reason"],
        spent=row["spent"],
        slot=SlotBudget(aware_utc(row["slot_start"]), row["slot_budget"]),
        last_sequence=row["last_sequence"],
        last_partition=row["last_partition"],
        last_record_ms=row["last_record_ms"],
        spent_today=row["spent_today"],
        spent_day=row["spent_day"],
    )
    return CampaignRecord(
        state=state,
        cpm=row["cpm"],
        created_at=aware_utc(row["created_at"]),
        updated_at=aware_utc(row["updated_at"]),
    )


def load_for_update(connection: Connection, campaign_id: str) -> CampaignState | None:
    """load_for_update reads a campaign and locks its row until the transaction ends."""
    row = (
        connection.execute(
            select(campaigns).where(campaigns.c.campaign_id == campaign_id).with_for_update()
        )
        .mappings()
        .first()
    )
    return None if row is None else from_row(row).state


def load_rows_for_update(
    connection: Connection, campaign_ids: Collection[str]
) -> dict[str, RowMapping]:
    """load_rows_for_update reads campaigns' rows and locks them, in campaign id order.

    One statement for a whole batch of charges. The rows are locked in one fixed order
    (the primary key's), so two transactions locking overlapping sets never wait on each
    other in a cycle: no deadlock. Rows are returned unparsed (from_row parses one), so a
    row that does not parse fails only the charges to its own campaign.
    """
    if not campaign_ids:
        return {}
    rows = (
        connection.execute(
            select(campaigns)
            .where(campaigns.c.campaign_id.in_(sorted(campaign_ids)))
            .order_by(campaigns.c.campaign_id)
            .with_for_update()
        )
        .mappings()
        .all()
    )
    return {row["campaign_id"]: row for row in rows}


def _upsert() -> Any:
    """_upsert is INSERT ... ON DUPLICATE KEY UPDATE of every column but the key and created_at."""
    statement = insert(campaigns)
    kept = ("campaign_id", "created_at")
    return statement.on_duplicate_key_update(
        {c.name: statement.inserted[c.name] for c in campaigns.columns if c.name not in kept}
    )


_UPSERT = _upsert()  # built once so SQLAlchemy compiles it once


def save(connection: Connection, row: Mapping[str, Any]) -> None:
    """save inserts or replaces a campaign row, keeping its created_at."""
    connection.execute(_UPSERT, dict(row))


def get(connection: Connection, campaign_id: str) -> CampaignRecord | None:
    """get reads one campaign, or None."""
    row = (
        connection.execute(select(campaigns).where(campaigns.c.campaign_id == campaign_id))
        .mappings()
        .first()
    )
    return None if row is None else from_row(row)


def parse_filter(text: str) -> dict[str, str]:
    """parse_filter reads 'key=value key2="two words"' terms over the FILTERABLE columns.

    A filter is short: every term at its column's length fits in well under max_chars, and
    shlex takes quadratic time over one long word, which would stall the server's loop.
    """
    max_chars = 2048
    if len(text) > max_chars:
        raise ValidationError("filter", f"must be at most {max_chars} characters")
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise ValidationError("filter", str(error)) from None
    terms: dict[str, str] = {}
    for term in words:
        key, sep, value = term.partition("=")
        if not sep or not value:
            raise ValidationError("filter", f"term {term[:40]!r} is not key=value")
        if key not in FILTERABLE:
            raise ValidationError("filter", f"unknown key {key[:40]!r}; use one of {FILTERABLE}")
        if key in terms:
            raise ValidationError("filter", f"{key} is given twice")
        length = getattr(campaigns.c[key].type, "length", None)
        if length is not None and len(value) > length:
            raise ValidationError("filter", f"{key} must be at most {length} characters")
        terms[key] = value
    return terms


def _sort_key(field: str) -> Any:
    """_sort_key is the SQL a field sorts by; remaining_budget as CampaignState.remaining has it."""
    if field == "remaining_budget":
        return func.greatest(campaigns.c.budget - campaigns.c.spent, 0)
    return campaigns.c[field]


def cursor(record: CampaignRecord, order: Order) -> Cursor:
    """cursor is a record's sort key in order, as _sort_key computes it in SQL."""
    state, spec = record.state, record.state.spec
    values: dict[str, SortValue] = {
        "campaign_id": spec.campaign_id,
        "text": spec.text,
        "category": spec.category,
        "status": str(state.status),
        "target_city": spec.targeting.city,
        "cpc": spec.cpc,
        "cpa": spec.cpa,
        "cpm": record.cpm,
        "budget": spec.budget,
        "spent": state.spent,
        "remaining_budget": state.remaining,
        "created_at": naive_utc(record.created_at),
        "updated_at": naive_utc(record.updated_at),
    }
    return Cursor(values[order.field], spec.campaign_id)


def list_page(
    connection: Connection,
    filters: Mapping[str, str],
    page_size: int,
    order: Order = BY_ID,
    after: Cursor | None = None,
) -> tuple[Sequence[CampaignRecord], int]:
    """list_page reads one page in order (ties by campaign_id), and how many match in all."""
    conditions = [campaigns.c[key] == value for key, value in filters.items()]
    total = connection.execute(
        select(func.count()).select_from(campaigns).where(*conditions)
    ).scalar_one()
    key, campaign_id = _sort_key(order.field), campaigns.c.campaign_id
    query = select(campaigns).where(*conditions)
    if after is not None:
        beyond = key < after.value if order.descending else key > after.value
        query = query.where(or_(beyond, and_(key == after.value, campaign_id > after.campaign_id)))
    query = query.order_by(key.desc() if order.descending else key.asc(), campaign_id.asc())
    rows = connection.execute(query.limit(page_size)).mappings().all()
    return [from_row(row) for row in rows], int(total)


def record_charge(connection: Connection, state: CampaignState, now: datetime) -> None:
    """record_charge writes what a charge changes: spent, spent today, slot budget and status."""
    connection.execute(
        campaigns.update()
        .where(campaigns.c.campaign_id == state.spec.campaign_id)
        .values(
            spent=state.spent,
            slot_start=naive_utc(state.slot.slot_start),
            slot_budget=state.slot.amount,
            spent_today=state.spent_today,
            spent_day=state.spent_day,
            status=str(state.status),
            status_reason=state.status_reason,
            updated_at=naive_utc(now),
        )
    )
