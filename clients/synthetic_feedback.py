"""Synthetic FeedbackEvents for the pipeline benchmark and the writer's tests.

Campaigns come from the real feed (deploy/data/campaign_feed.csv, its New Campaign rows);
users are drawn from a pool; actions follow a display funnel where views far outnumber
clicks, and clicks acquisitions. Prices follow the platform's rules: the winner pays a share
of its bid (auction_cpc = cpc x ratio, auction_cpa = cpa x ratio) and a click costs
auction_cpc, an acquisition auction_cpa, a view nothing. Seeded: same arguments, same events.
"""

from __future__ import annotations

import csv
import functools
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from adplatform.v1 import campaign_pb2, events_pb2

from deploy.paths import FEED_CSV
from servers.campaigns.feed import parse_nested
from servers.campaigns.pricing import cpm
from servers.money import format_money, parse_money, scale_down

ACTION_WEIGHTS = {"view": 0.90, "click": 0.09, "acquisition": 0.01}
FLAGS = {"view": (1, 0, 0), "click": (1, 1, 0), "acquisition": (1, 1, 1)}


@dataclass(frozen=True, slots=True)
class FeedCampaign:
    """FeedCampaign is what an event needs of a campaign: its id, prices and targeting."""

    campaign_id: str
    cpc: Decimal
    cpa: Decimal
    age_start: int
    age_end: int
    location: str
    gender: str
    income_bucket: str
    device: str


def feed_campaigns(path: Path = FEED_CSV, limit: int | None = None) -> list[FeedCampaign]:
    """feed_campaigns reads the feed's New Campaign rows (the first limit of them)."""
    campaigns: list[FeedCampaign] = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["action"] != "New Campaign":
                continue
            ages = parse_nested(row["target_age_range"], "target_age_range")
            assert isinstance(ages, dict)
            campaigns.append(
                FeedCampaign(
                    campaign_id=row["campaign_id"],
                    cpc=parse_money(row["cpc"], "cpc"),
                    cpa=parse_money(row["cpa"], "cpa"),
                    age_start=int(ages["start"]),
                    age_end=int(ages["end"]),
                    location=", ".join(
                        (row["target_city"], row["target_state"], row["target_country"])
                    ),
                    gender=row["target_gender"],
                    income_bucket=row["target_income_bucket"],
                    device=row["target_device"],
                )
            )
            if limit is not None and len(campaigns) >= limit:
                break
    return campaigns


def fresh_campaigns(count: int, prefix: str = "synthetic") -> list[FeedCampaign]:
    """fresh_campaigns are count untargeted campaigns with fresh ids (for isolated tests)."""
    return [
        FeedCampaign(
            campaign_id=f"{prefix}-{uuid.uuid4()}",
            cpc=Decimal("0.00041"),
            cpa=Decimal("0.0542"),
            age_start=20 + index % 3,
            age_end=45,
            location="All, All, India",
            gender=("F", "M", "All")[index % 3],
            income_bucket="All",
            device="All",
        )
        for index in range(count)
    ]


@functools.cache
def _auction_prices(campaign: FeedCampaign, ratio: Decimal) -> tuple[str, str, str]:
    """_auction_prices are the wire amounts (cpm, cpc, cpa) paid at ratio of the bid."""
    bid = cpm(campaign.cpc, campaign.cpa)
    return tuple(  # type: ignore[return-value]
        format_money(scale_down(amount, ratio, Decimal(1)))
        for amount in (bid, campaign.cpc, campaign.cpa)
    )


def event(
    campaign: FeedCampaign,
    *,
    request_id: str,
    user_id: str,
    action: str,
    ratio: Decimal,
    at: datetime,
) -> events_pb2.FeedbackEvent:
    """event is the FeedbackEvent of one charged feedback on campaign at time at (aware UTC)."""
    auction_cpm, auction_cpc, auction_cpa = _auction_prices(campaign, ratio)
    price = {"view": "0", "click": auction_cpc, "acquisition": auction_cpa}[action]
    view, click, acquisition = FLAGS[action]
    message = events_pb2.FeedbackEvent(
        campaign_id=campaign.campaign_id,
        user_id=user_id,
        request_id=request_id,
        click=click,
        view=view,
        acquisition=acquisition,
        auction_cpm=auction_cpm,
        auction_cpc=auction_cpc,
        auction_cpa=auction_cpa,
        target_age_range=campaign_pb2.AgeRange(start=campaign.age_start, end=campaign.age_end),
        target_location=campaign.location,
        target_gender=campaign.gender,
        target_income_bucket=campaign.income_bucket,
        target_device_type=campaign.device,
        user_action=action,
        expenditure=price,
    )
    message.campaign_start_time.FromDatetime(at - timedelta(days=1))
    message.campaign_end_time.FromDatetime(at + timedelta(days=1))
    message.timestamp.FromDatetime(at)
    return message


def synthetic_events(
    count: int,
    campaigns: Sequence[FeedCampaign],
    start: datetime,
    *,
    spread: timedelta = timedelta(0),
    seed: int = 7,
    users: int = 100_000,
) -> Iterator[events_pb2.FeedbackEvent]:
    """synthetic_events yields count events spread evenly over [start, start + spread)."""
    rng = random.Random(seed)
    actions = list(ACTION_WEIGHTS)
    weights = list(ACTION_WEIGHTS.values())
    step = spread / count if count else timedelta(0)
    for index in range(count):
        yield event(
            rng.choice(campaigns),
            request_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            user_id=f"user-{rng.randrange(users):06d}",
            action=rng.choices(actions, weights)[0],
            ratio=Decimal(rng.randrange(60, 101)) / 100,
            at=start + step * index,
        )
