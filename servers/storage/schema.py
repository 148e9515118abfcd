"""The platform's tables, as SQLAlchemy Core metadata for the servers' queries.

Migrations (servers/storage/migrations) create and change these tables; this module
describes the current shape. Money is DECIMAL(24,10), times are UTC DATETIME(6).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    DECIMAL,
    JSON,
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
)
from sqlalchemy.dialects.mysql import DATETIME

from servers.identifiers import CAMPAIGN_ID_MAX_CHARS, REQUEST_ID_CHARS, USER_ID_MAX_CHARS
from servers.money import MONEY_PLACES, MONEY_PRECISION

MONEY: DECIMAL[Decimal] = DECIMAL(MONEY_PRECISION, MONEY_PLACES)
DateTime = DATETIME(fsp=6)  # microseconds, UTC


def naive_utc(moment: datetime) -> datetime:
    """naive_utc converts an aware instant to the naive UTC the DateTime columns hold."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def aware_utc(stored: datetime) -> datetime:
    """aware_utc reads a DateTime column's naive UTC back as an aware instant."""
    return stored.replace(tzinfo=UTC)


def max_chars(table: Table, column: str) -> int:
    """max_chars is how many characters a VARCHAR column holds (utf8mb4 counts code points)."""
    length = getattr(table.c[column].type, "length", None)
    if not isinstance(length, int):
        raise TypeError(f"{table.name}.{column} has no length")
    return length


metadata = MetaData()

campaigns = Table(
    "campaigns",
    metadata,
    Column("campaign_id", String(CAMPAIGN_ID_MAX_CHARS), primary_key=True),
    Column("text", Text, nullable=False),
    Column("category", String(100), nullable=False),
    Column("keywords", JSON, nullable=False),
    Column("target_gender", String(8), nullable=False),
    Column("target_age_start", SmallInteger, nullable=False),
    Column("target_age_end", SmallInteger, nullable=False),
    Column("target_city", String(100), nullable=False),
    Column("target_state", String(100), nullable=False),
    Column("target_country", String(100), nullable=False),
    Column("target_income_bucket", String(8), nullable=False),
    Column("target_device", String(32), nullable=False),
    Column("cpc", MONEY, nullable=False),
    Column("cpa", MONEY, nullable=False),
    Column("cpm", MONEY, nullable=False),
    Column("budget", MONEY, nullable=False),
    Column("spent", MONEY, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("start_time", Time, nullable=False),
    Column("end_time", Time, nullable=False),
    Column("window_start", DateTime, nullable=False),
    Column("window_end", DateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(255), nullable=False),
    Column("slot_start", DateTime, nullable=False),
    Column("slot_budget", MONEY, nullable=False),
    Column("last_sequence", BigInteger, nullable=False),
    Column("last_partition", Integer, nullable=False),
    Column("last_record_ms", BigInteger, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("frequency_cap_impressions", Integer, nullable=True),
    Column("frequency_cap_period", String(8), nullable=True),
    Column("pacing", String(8), nullable=False),
    Column("daily_budget", MONEY, nullable=True),
    Column("dayparts", JSON, nullable=False),
    Column("spent_day", Date, nullable=True),
    Column("spent_today", MONEY, nullable=False),
    Index("ix_campaigns_updated_at", "updated_at"),
    Index("ix_campaigns_status", "status"),
)

users = Table(
    "users",
    metadata,
    Column("id", String(USER_ID_MAX_CHARS), primary_key=True),
    Column("age", SmallInteger, nullable=False),
    Column("gender", String(1), nullable=False),
    Column("income_bucket", String(1), nullable=False),
    Column("device_type", String(32), nullable=False),
    Column("city", String(100), nullable=False),
    Column("state", String(100), nullable=False),
)

served_ads = Table(
    "served_ads",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),  # insertion order
    Column("request_id", String(REQUEST_ID_CHARS), nullable=False, unique=True),
    Column("campaign_id", String(CAMPAIGN_ID_MAX_CHARS), nullable=False),
    Column("user_id", String(USER_ID_MAX_CHARS), nullable=False),
    Column("device_type", String(32), nullable=False),
    Column("city", String(100), nullable=False),
    Column("state", String(100), nullable=False),
    Column("country", String(100), nullable=False),
    Column("auction_cpm", MONEY, nullable=False),
    Column("auction_cpc", MONEY, nullable=False),
    Column("auction_cpa", MONEY, nullable=False),
    Column("bid_cpm", MONEY, nullable=False),
    Column("bidders", SmallInteger, nullable=False),
    Column("target_age_start", SmallInteger, nullable=False),
    Column("target_age_end", SmallInteger, nullable=False),
    Column("target_location", String(320), nullable=False),
    Column("target_gender", String(8), nullable=False),
    Column("target_income_bucket", String(8), nullable=False),
    Column("target_device", String(32), nullable=False),
    Column("campaign_start_time", DateTime, nullable=False),
    Column("campaign_end_time", DateTime, nullable=False),
    Column("served_at", DateTime, nullable=False),
    Column("floor_cpm", MONEY, nullable=False),
    Column("runner_up_cpm", MONEY, nullable=True),  # None: the winner was the only entrant
    Index("ix_served_ads_campaign", "campaign_id"),
    Index("ix_served_ads_served_at", "served_at"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),  # insertion order
    Column("request_id", String(REQUEST_ID_CHARS), nullable=False, unique=True),  # at most once
    Column("campaign_id", String(CAMPAIGN_ID_MAX_CHARS), nullable=False),
    Column("user_id", String(USER_ID_MAX_CHARS), nullable=False),
    Column("view", SmallInteger, nullable=False),
    Column("click", SmallInteger, nullable=False),
    Column("acquisition", SmallInteger, nullable=False),
    Column("user_action", String(16), nullable=False),
    Column("expenditure", MONEY, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Index("ix_feedback_campaign", "campaign_id"),
)

feedback_outbox = Table(
    "feedback_outbox",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("request_id", String(REQUEST_ID_CHARS), nullable=False, unique=True),
    Column("campaign_id", String(CAMPAIGN_ID_MAX_CHARS), nullable=False),
    Column("event", LargeBinary, nullable=False),  # the serialized FeedbackEvent
    Column("created_at", DateTime, nullable=False),
    Column("published_at", DateTime, nullable=True),
    Index("ix_feedback_outbox_pending", "published_at", "id"),
)

campaign_kpis = Table(
    "campaign_kpis",
    metadata,
    Column("campaign_id", String(CAMPAIGN_ID_MAX_CHARS), primary_key=True),
    Column("minute", DateTime, primary_key=True),
    Column("impressions", BigInteger, nullable=False),
    Column("clicks", BigInteger, nullable=False),
    Column("acquisitions", BigInteger, nullable=False),
    Column("ctr", DECIMAL(12, 8), nullable=False),
    Column("conversion_rate", DECIMAL(12, 8), nullable=False),
    Column("spend", MONEY, nullable=False),
    Column("ecpm", MONEY, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# The last micro-batch each KPI stream added to its KPI table (spark/kpi_sink.py).
campaign_kpi_streams = Table(
    "campaign_kpi_streams",
    metadata,
    Column("stream", String(64), primary_key=True),
    Column("batch_id", BigInteger, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# Ads served per user and capped campaign in the cap's current period (frequency caps).
frequency_counts = Table(
    "frequency_counts",
    metadata,
    Column("user_id", String(USER_ID_MAX_CHARS), primary_key=True),
    Column("campaign_id", String(CAMPAIGN_ID_MAX_CHARS), primary_key=True),
    Column("period_start", DateTime, nullable=False),
    Column("impressions", Integer, nullable=False),
    Index("ix_frequency_counts_campaign", "campaign_id", "period_start"),
)

# The AdServers' diagnostics counters per campaign and minute, over sampled requests.
delivery_stats = Table(
    "delivery_stats",
    metadata,
    Column("campaign_id", String(CAMPAIGN_ID_MAX_CHARS), primary_key=True),
    Column("minute", DATETIME(), primary_key=True),
    Column("matched", BigInteger, nullable=False),
    Column("frequency_capped", BigInteger, nullable=False),
    Column("below_floor", BigInteger, nullable=False),
    Column("entered", BigInteger, nullable=False),
    Column("won", BigInteger, nullable=False),
    Column("outbid_clearing_cpm", MONEY, nullable=False),  # a sum over the auctions lost
    Index("ix_delivery_stats_minute", "minute"),
)

# How many requests the AdServers sampled for diagnostics per minute.
delivery_samples = Table(
    "delivery_samples",
    metadata,
    Column("minute", DATETIME(), primary_key=True),
    Column("requests", BigInteger, nullable=False),
)

# Each campaign's HyperLogLog sketch of the users it reached, and its estimate.
campaign_reach = Table(
    "campaign_reach",
    metadata,
    Column("campaign_id", String(CAMPAIGN_ID_MAX_CHARS), primary_key=True),
    Column("sketch", LargeBinary, nullable=False),
    Column("unique_users", BigInteger, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
