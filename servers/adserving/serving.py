"""Serving one ad request: the user's profile, the auction over live campaigns, a durable record.

The flow only; the rules live in targeting.py (who may see what), index.py (which campaigns
enter), auction.py (who wins and what it pays), servers/campaigns/frequency.py (caps) and
served.py (what is recorded).

Per request: the profile, then the campaigns the viewer is eligible for (index.eligible).
When some of them have an effective frequency cap, the user's counts are read
(frequency.FrequencyCounts) and the campaigns the user is at the cap of are taken away;
campaigns bidding under the floor (the higher of the platform's and the request's) do not
enter either. The privacy id is shared by many people and cannot be counted per person, so a
campaign with an effective cap never serves to it. An unknown user (no profile) is counted
by its id like anyone. The winner's impression is counted in the transaction that records
its served ad (recorder.py).

One request in sample_every is described to the diagnostics sink (sampling.DeliverySample).

A request waits for MySQL up to three times (its profile, its user's counts, its served ad),
each wait bounded by the batcher's patience. The three together are bounded by the serving
budget: a request that has not been served within it is refused UNAVAILABLE, so a device
behind Envoy hears a 503 with a retry hint, not the 504 of Envoy's own deadline.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from servers import identifiers
from servers.ads.served import ServedAd
from servers.adserving import auction, metrics
from servers.adserving.frequency import Counts, FrequencyCounts, Impression
from servers.adserving.index import AdIndex
from servers.adserving.profiles import Profiles
from servers.adserving.recorder import Recorder
from servers.adserving.refresher import IndexRefresher
from servers.adserving.sampling import DeliverySample, SampleSink
from servers.adserving.targeting import Request, Viewer, viewer
from servers.campaigns import frequency
from servers.campaigns.model import FrequencyCap
from servers.errors import NotFoundError, UnavailableError

log = logging.getLogger(__name__)

MAX_BIDDERS = 32767  # served_ads.bidders is a SMALLINT
FILLED = metrics.AUCTIONS.labels("filled")
NO_FILL = metrics.AUCTIONS.labels("no_fill")
NO_FLOOR = Decimal(0)
# BUDGET_SHARE: the share of Envoy's device deadline that serving one request may take, its
# waits for MySQL included; the rest is room for the answer on a busy machine.
BUDGET_SHARE = 0.75
_UTC = ZoneInfo("UTC")


def serve_budget(device_deadline_seconds: float) -> float:
    """serve_budget is how long a request may take to serve, inside Envoy's device deadline."""
    return device_deadline_seconds * BUDGET_SHARE


@dataclass(frozen=True, slots=True)
class Placement:
    """Placement is the ad put in front of a user: its copy and its served-ad record."""

    text: str
    category: str
    served: ServedAd


class _NoSink:
    """_NoSink drops samples: diagnostics are not counted in this process."""

    def observe(self, sample: DeliverySample) -> None:
        """observe drops the sample."""


@dataclass(frozen=True, slots=True)
class DeliveryRules:
    """DeliveryRules are the platform's floor and default frequency cap, and its time zone."""

    floor_cpm: Decimal = NO_FLOOR
    default_cap: FrequencyCap | None = None
    tz: ZoneInfo = _UTC


class AdServing:
    """AdServing answers ad requests: at most one ad each, recorded before it is returned."""

    def __init__(
        self,
        campaigns: IndexRefresher,
        profiles: Profiles,
        recorder: Recorder,
        mode: auction.PricingMode,
        *,
        rules: DeliveryRules | None = None,
        counts: FrequencyCounts | None = None,
        sink: SampleSink | None = None,
        sample_every: int = 16,
        rng: random.Random | None = None,
        budget: float,
    ) -> None:
        self.campaigns = campaigns
        self.profiles = profiles
        self.recorder = recorder
        self.mode = mode
        self.rules = rules or DeliveryRules()
        self.counts = counts
        self.sink: SampleSink = sink or _NoSink()
        self.sample_every = max(sample_every, 1)
        self.rng = rng or random.Random()
        self.budget = budget
        self._requests = 0

    async def serve(self, request: Request, bid_floor: Decimal = NO_FLOOR) -> Placement | None:
        """serve runs the auction for request; None is no fill (no campaign entered).

        Raises UnavailableError when the request was not served within the budget: an ad
        recorded after that is an orphan row, never an answer.
        """
        try:
            async with asyncio.timeout(self.budget):
                return await self._serve(request, bid_floor)
        except TimeoutError:
            raise UnavailableError("the ad could not be served in time; retry") from None

    async def _serve(self, request: Request, bid_floor: Decimal) -> Placement | None:
        """_serve is serve without its budget."""
        profile = await self.profiles.find(request.user_id)
        index = await self.campaigns.index()
        now = datetime.now(UTC)
        who = viewer(request, profile)
        eligible = index.eligible(who, now)
        capped = index.capped(self.rules.default_cap) & eligible
        excluded = await self._at_cap(index, request.user_id, capped, now) if capped else 0
        floor = max(self.rules.floor_cpm, bid_floor)
        entering = eligible & ~excluded & index.at_least(floor)
        contest = index.entrants(entering)
        result = None if contest is None else auction.run(contest.bids, self.rng, self.mode, floor)
        self._requests += 1
        if self._requests % self.sample_every == 0:
            self._sample(
                index,
                who,
                now,
                eligible=eligible,
                excluded=excluded,
                floor=floor,
                entering=entering,
                result=result,
            )
        if contest is None or result is None:
            NO_FILL.inc()
            return None
        ad = index.get(result.winner.campaign_id)
        position = index.position(result.winner.campaign_id)
        if ad is None or position is None:  # the index never hands out a bid it does not hold
            raise LookupError(f"auction winner {result.winner.campaign_id} is not indexed")
        impression = None
        if capped >> position & 1:
            cap = self._cap(ad.frequency_cap)
            impression = Impression(
                request.user_id, ad.campaign_id, frequency.period_start(cap.period, now, self.tz)
            )
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
            floor_cpm=result.floor_cpm,
            runner_up_cpm=result.runner_up_cpm,
        )
        await self.recorder.record(served, impression)
        FILLED.inc()
        metrics.BIDDERS.observe(contest.eligible)
        return Placement(text=ad.state.spec.text, category=ad.state.spec.category, served=served)

    async def find(self, request_id: str) -> ServedAd:
        """find is the served ad with this request id; NotFoundError when there is none."""
        ad = await self.recorder.find(request_id)
        if ad is None:
            raise NotFoundError("served ad", request_id)
        return ad

    @property
    def tz(self) -> ZoneInfo:
        """tz is the platform's time zone: caps count calendar periods in it."""
        return self.rules.tz

    def _cap(self, own: FrequencyCap | None) -> FrequencyCap:
        """_cap is a capped campaign's effective cap."""
        cap = frequency.effective_cap(own, self.rules.default_cap)
        if cap is None:  # index.capped said it has one
            raise LookupError("a capped campaign has no cap")
        return cap

    async def _at_cap(self, index: AdIndex, user_id: str, capped: int, now: datetime) -> int:
        """_at_cap is the campaigns of capped that this user may not see any more now."""
        if identifiers.is_privacy_id(user_id):
            return capped  # many people share it: it cannot be counted, so never capped ads
        if self.counts is None:
            raise LookupError("campaigns are capped but no frequency counts are configured")
        metrics.FREQUENCY_READS.inc()
        return self._over(index, await self.counts.of(user_id), capped, now)

    def _over(self, index: AdIndex, counts: Counts, capped: int, now: datetime) -> int:
        """_over is the campaigns of capped whose stored count reached their cap."""
        over = 0
        for campaign_id, (stored_start, stored) in counts.items():
            position = index.position(campaign_id)
            if position is None or not capped >> position & 1:
                continue
            ad = index.get(campaign_id)
            if ad is None:
                continue
            cap = self._cap(ad.frequency_cap)
            start = frequency.period_start(cap.period, now, self.tz)
            if frequency.is_capped(cap, frequency.current_count(stored_start, stored, start)):
                over |= 1 << position
        return over

    def _sample(
        self,
        index: AdIndex,
        who: Viewer,
        now: datetime,
        *,
        eligible: int,
        excluded: int,
        floor: Decimal,
        entering: int,
        result: auction.AuctionResult | None,
    ) -> None:
        """_sample describes this request's auction to the diagnostics sink."""
        sample = DeliverySample(
            at=now,
            matched=index.campaign_ids(index.matching(who)),
            frequency_capped=index.campaign_ids(eligible & excluded),
            below_floor=index.campaign_ids(eligible & ~index.at_least(floor)),
            entered=index.campaign_ids(entering),
            winner=None if result is None else result.winner.campaign_id,
            clearing_cpm=None if result is None else result.auction_cpm,
        )
        try:
            self.sink.observe(sample)
        except Exception:  # diagnostics never fail a request
            log.exception("delivery sample dropped")
