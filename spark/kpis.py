"""Campaign KPIs per minute: the formulas, in exact decimals, shared by the stream and tests.

For one campaign and one UTC minute of event time (FeedbackEvent.timestamp):

- impressions = the number of feedback events (every feedback is one displayed ad);
- clicks = Σ click, acquisitions = Σ acquisition, spend = Σ expenditure;
- CTR = clicks / impressions;
- conversion rate = acquisitions / clicks, and 0 when there were no clicks (an acquisition
  reported without a click is counted, but does not make a rate out of nothing);
- eCPM = spend / impressions x 1000, rounded down to 10 places like every derived price.

Ratios are rounded half-even to 8 places (DECIMAL(12,8) in MySQL and Hive).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from servers.money import MONEY_CONTEXT, ZERO, quantize_down

RATIO_QUANTUM = Decimal("0.00000001")
RATIO_ZERO = Decimal(0).quantize(RATIO_QUANTUM)


@dataclass(frozen=True, slots=True)
class CampaignMinute:
    """CampaignMinute is one campaign's KPIs over one minute of event time."""

    campaign_id: str
    minute: datetime  # naive UTC, the start of the minute
    impressions: int
    clicks: int
    acquisitions: int
    ctr: Decimal
    conversion_rate: Decimal
    spend: Decimal
    ecpm: Decimal


def ratio(numerator: int, denominator: int) -> Decimal:
    """ratio is numerator / denominator to 8 places, or 0 when the denominator is 0."""
    if denominator == 0:
        return RATIO_ZERO
    return MONEY_CONTEXT.divide(Decimal(numerator), Decimal(denominator)).quantize(
        RATIO_QUANTUM, rounding=ROUND_HALF_EVEN
    )


def ecpm(spend: Decimal, impressions: int) -> Decimal:
    """ecpm is the cost of a thousand impressions: spend / impressions x 1000, rounded down."""
    if impressions == 0:
        return ZERO
    return quantize_down(MONEY_CONTEXT.divide(spend * 1000, Decimal(impressions)))


def campaign_minute(
    campaign_id: str,
    minute: datetime,
    *,
    impressions: int,
    clicks: int,
    acquisitions: int,
    spend: Decimal,
) -> CampaignMinute:
    """campaign_minute derives the rates of one campaign-minute from its sums."""
    return CampaignMinute(
        campaign_id=campaign_id,
        minute=minute,
        impressions=impressions,
        clicks=clicks,
        acquisitions=acquisitions,
        ctr=ratio(clicks, impressions),
        conversion_rate=ratio(acquisitions, clicks),
        spend=quantize_down(spend),
        ecpm=ecpm(spend, impressions),
    )


@dataclass(frozen=True, slots=True)
class Charged:
    """Charged is the part of a FeedbackEvent the KPIs need."""

    request_id: str
    campaign_id: str
    timestamp: datetime  # naive UTC
    click: int
    acquisition: int
    expenditure: Decimal


@dataclass(slots=True)
class _Sums:
    """_Sums accumulates one campaign-minute."""

    impressions: int = 0
    clicks: int = 0
    acquisitions: int = 0
    spend: Decimal = ZERO


def from_events(events: Iterable[Charged]) -> dict[tuple[str, datetime], CampaignMinute]:
    """from_events computes the KPIs directly from events, each request id counted once."""
    sums: dict[tuple[str, datetime], _Sums] = {}
    seen: set[str] = set()
    for event in events:
        if event.request_id in seen:
            continue
        seen.add(event.request_id)
        key = (event.campaign_id, event.timestamp.replace(second=0, microsecond=0))
        total = sums.setdefault(key, _Sums())
        total.impressions += 1
        total.clicks += event.click
        total.acquisitions += event.acquisition
        total.spend += event.expenditure
    return {
        key: campaign_minute(
            key[0],
            key[1],
            impressions=total.impressions,
            clicks=total.clicks,
            acquisitions=total.acquisitions,
            spend=total.spend,
        )
        for key, total in sums.items()
    }
