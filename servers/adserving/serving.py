"""Serving one ad request: the user's profile, the auction over live campaigns, a durable record.

The flow only; the rules live in targeting.py (who may see what), index.py (which campaigns
enter), auction.py (who wins and what it pays) and served.py (what is recorded).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from servers.ads.served import ServedAd
from servers.adserving import auction, metrics
from servers.adserving.profiles import Profiles
from servers.adserving.recorder import Recorder
from servers.adserving.refresher import IndexRefresher
from servers.adserving.targeting import Request, viewer

MAX_BIDDERS = 32767  # served_ads.bidders is a SMALLINT
FILLED = metrics.AUCTIONS.labels("filled")
NO_FILL = metrics.AUCTIONS.labels("no_fill")


@dataclass(frozen=True, slots=True)
class Placement:
    """Placement is the ad put in front of a user: its copy and its served-ad record."""

    text: str
    category: str
    served: ServedAd


class AdServing:
    """AdServing answers ad requests: at most one ad each, recorded before it is returned."""

    def __init__(
        self,
        campaigns: IndexRefresher,
        profiles: Profiles,
        recorder: Recorder,
        mode: auction.PricingMode,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.campaigns = campaigns
        self.profiles = profiles
        self.recorder = recorder
        self.mode = mode
        self.rng = rng or random.Random()

    async def serve(self, request: Request) -> Placement | None:
        """serve runs the auction for request; None is no fill (no eligible campaign)."""
        profile = await self.profiles.find(request.user_id)
        index = await self.campaigns.index()
        now = datetime.now(UTC)
        contest = index.contest(viewer(request, profile), now)
        result = None if contest is None else auction.run(contest.bids, self.rng, self.mode)
        if contest is None or result is None:
            NO_FILL.inc()
            return None
        ad = index.get(result.winner.campaign_id)
        if ad is None:  # the index never hands out a bid it does not hold
            raise LookupError(f"auction winner {result.winner.campaign_id} is not indexed")
        targeting = ad.state.spec.targeting
        served = ServedAd(
            request_id=str(uuid.uuid4()),
            campaign_id=ad.campaign_id,
            user_id=request.user_id,
            device_type=request.device_type,
            city=request.city,
            state=request.state,
            country=request.country,
            auction_cpm=result.auction_cpm,
            auction_cpc=result.auction_cpc,
            auction_cpa=result.auction_cpa,
            bid_cpm=ad.bid.cpm,
            bidders=min(contest.eligible, MAX_BIDDERS),
            target_age_start=targeting.age_range.start,
            target_age_end=targeting.age_range.end,
            target_location=ad.location,
            target_gender=targeting.gender,
            target_income_bucket=targeting.income_bucket,
            target_device=targeting.device,
            campaign_start_time=ad.live.starts_at,
            campaign_end_time=ad.live.ends_at,
            served_at=now,
        )
        await self.recorder.record(served)
        FILLED.inc()
        metrics.BIDDERS.observe(contest.eligible)
        return Placement(text=ad.state.spec.text, category=ad.state.spec.category, served=served)
