"""Tests for servers.adserving.serving: floors, frequency caps, the privacy id and sampling.

The flow runs over a real AdIndex; the profiles, the counts store and the recorder are
in-memory stand-ins with the same calls (their MySQL side is tested through the stack).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from servers.ads.served import ServedAd
from servers.adserving import auction
from servers.adserving.frequency import Counts, Impression
from servers.adserving.index import AdIndex, IndexedAd
from servers.adserving.sampling import DeliverySample
from servers.adserving.serving import AdServing, DeliveryRules, serve_budget
from servers.adserving.targeting import Request
from servers.batches import PATIENCE
from servers.campaigns import frequency
from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import CampaignSpec, FrequencyCap, Period, Status
from servers.campaigns.pacing import fresh_slot
from servers.campaigns.pricing import DEFAULT_WEIGHTS
from servers.errors import NotFoundError, UnavailableError
from servers.identifiers import PRIVACY_USER_ID

KOLKATA = ZoneInfo("Asia/Kolkata")
MakeSpec = Callable[..., CampaignSpec]
UNTARGETED = {
    "target_city": "All",
    "target_state": "All",
    "target_country": "India",
    "target_device": "All",
    "target_gender": "All",
    "target_age_range": {"start": "0", "end": "0"},
    "target_income_bucket": "All",
    # A window that holds today, whenever the test runs.
    "date_range": {
        "start": (datetime.now(UTC).date() - timedelta(days=2)).isoformat(),
        "end": (datetime.now(UTC).date() + timedelta(days=2)).isoformat(),
    },
}
TWO_A_DAY = FrequencyCap(2, Period.DAY)
BUDGET = serve_budget(2.0)  # Envoy's default device deadline


def request(user_id: str = "u1") -> Request:
    return Request(user_id, "iPhone", "Pune", "Maharashtra", "India")


class Campaigns:
    def __init__(self, index: AdIndex) -> None:
        self._index = index

    async def index(self) -> AdIndex:
        return self._index


class Profiles:
    delay = 0.0  # how long MySQL takes to answer

    async def find(self, user_id: str) -> None:
        await asyncio.sleep(self.delay)


class Recorder:
    """Recorder keeps served ads and adds impressions to a shared counts table, as MySQL does."""

    def __init__(self, table: dict[tuple[str, str], tuple[datetime, int]]) -> None:
        self.table = table
        self.ads: list[ServedAd] = []
        self.impressions: list[Impression] = []
        self.delay = 0.0

    async def record(self, ad: ServedAd, impression: Impression | None = None) -> None:
        await asyncio.sleep(self.delay)  # the commit takes a moment: others may read meanwhile
        self.ads.append(ad)
        if impression is not None:
            self.impressions.append(impression)
            key = (impression.user_id, impression.campaign_id)
            start, count = self.table.get(key, (impression.period_start, 0))
            if impression.period_start > start:
                start, count = impression.period_start, 0
            self.table[key] = (start, count + 1)

    async def find(self, request_id: str) -> ServedAd | None:
        return next((ad for ad in self.ads if ad.request_id == request_id), None)


class StoredCounts:
    def __init__(self, table: dict[tuple[str, str], tuple[datetime, int]]) -> None:
        self.table = table
        self.reads: list[str] = []
        self.down = False
        self.delay = 0.0

    async def of(self, user_id: str) -> Counts:
        self.reads.append(user_id)
        if self.down:
            raise UnavailableError("frequency counts are unavailable; retry")
        await asyncio.sleep(self.delay)
        return {c: value for (u, c), value in self.table.items() if u == user_id}


class Sink:
    def __init__(self) -> None:
        self.samples: list[DeliverySample] = []

    def observe(self, sample: DeliverySample) -> None:
        self.samples.append(sample)


def ad(
    make_spec: MakeSpec, campaign_id: str, cpc: str, cap: FrequencyCap | None = None
) -> IndexedAd:
    spec = dataclasses.replace(
        make_spec(campaign_id=campaign_id, cpc=cpc, **UNTARGETED), frequency_cap=cap
    )
    now = datetime.now(UTC)
    state = CampaignState(
        spec=spec,
        status=Status.ACTIVE,
        status_reason="test",
        spent=Decimal(0),
        slot=fresh_slot(spec.schedule, spec.budget, now, KOLKATA),
        last_sequence=1,
    )
    return IndexedAd.build(state, DEFAULT_WEIGHTS, KOLKATA)


@dataclasses.dataclass
class Setup:
    serving: AdServing
    recorder: Recorder
    counts: StoredCounts
    sink: Sink
    profiles: Profiles


def setup(
    ads: list[IndexedAd], sample_every: int = 1000, budget: float = BUDGET, **rules: Any
) -> Setup:
    table: dict[tuple[str, str], tuple[datetime, int]] = {}
    recorder, counts, sink, profiles = Recorder(table), StoredCounts(table), Sink(), Profiles()
    serving = AdServing(
        Campaigns(AdIndex(ads, KOLKATA, datetime.now(UTC))),  # type: ignore[arg-type]
        profiles,  # type: ignore[arg-type]
        recorder,  # type: ignore[arg-type]
        auction.PricingMode.SECOND_PRICE,
        rules=DeliveryRules(tz=KOLKATA, **rules),
        counts=counts,  # type: ignore[arg-type]
        sink=sink,
        sample_every=sample_every,
        rng=random.Random(1),
        budget=budget,
    )
    return Setup(serving, recorder, counts, sink, profiles)


def winners(run: Setup, count: int, user_id: str = "u1") -> list[str | None]:
    async def serve_all() -> list[str | None]:
        placements = [await run.serving.serve(request(user_id)) for _ in range(count)]
        return [None if p is None else p.served.campaign_id for p in placements]

    return asyncio.run(serve_all())


def test_a_capped_campaign_serves_n_times_then_the_next_one_serves(make_spec: MakeSpec) -> None:
    run = setup([ad(make_spec, "dear", "0.0009", TWO_A_DAY), ad(make_spec, "cheap", "0.0001")])
    assert winners(run, 4) == ["dear", "dear", "cheap", "cheap"]
    start = frequency.period_start(Period.DAY, datetime.now(UTC), KOLKATA)
    assert run.recorder.impressions == [Impression("u1", "dear", start)] * 2
    assert winners(run, 1, "u2") == ["dear"]  # another user has a count of their own


def test_the_platform_default_caps_campaigns_without_their_own(make_spec: MakeSpec) -> None:
    own = FrequencyCap(1, Period.LIFETIME)
    run = setup(
        [ad(make_spec, "dear", "0.0009"), ad(make_spec, "cheap", "0.0001", own)],
        default_cap=TWO_A_DAY,
    )
    assert winners(run, 4) == ["dear", "dear", "cheap", None]


def test_uncapped_campaigns_read_no_counts(make_spec: MakeSpec) -> None:
    run = setup([ad(make_spec, "dear", "0.0009"), ad(make_spec, "cheap", "0.0001")])
    assert winners(run, 3) == ["dear"] * 3
    assert run.counts.reads == []
    assert run.recorder.impressions == []


def test_the_privacy_id_never_gets_a_capped_campaign(make_spec: MakeSpec) -> None:
    run = setup([ad(make_spec, "dear", "0.0009", TWO_A_DAY), ad(make_spec, "cheap", "0.0001")])
    assert winners(run, 3, PRIVACY_USER_ID) == ["cheap"] * 3
    assert run.counts.reads == []  # it is never counted
    capped_everywhere = setup([ad(make_spec, "dear", "0.0009")], default_cap=TWO_A_DAY)
    assert winners(capped_everywhere, 1, PRIVACY_USER_ID) == [None]


def test_unknown_users_are_counted_by_their_id(make_spec: MakeSpec) -> None:
    run = setup([ad(make_spec, "dear", "0.0009", FrequencyCap(1, Period.HOUR))])
    assert winners(run, 2, "never-seen") == ["dear", None]


def test_counts_out_of_reach_fail_the_request(make_spec: MakeSpec) -> None:
    run = setup([ad(make_spec, "dear", "0.0009", TWO_A_DAY), ad(make_spec, "cheap", "0.0001")])
    run.counts.down = True
    with pytest.raises(UnavailableError):
        winners(run, 1)
    assert run.recorder.ads == []


def _slow_mysql(run: Setup, seconds: float) -> None:
    """_slow_mysql makes each of a capped request's three waits for MySQL take seconds."""
    run.profiles.delay = run.counts.delay = run.recorder.delay = seconds


def test_three_waits_for_mysql_that_overrun_the_budget_together_refuse_the_request(
    make_spec: MakeSpec,
) -> None:
    run = setup([ad(make_spec, "dear", "0.0009", TWO_A_DAY)], budget=0.25)
    _slow_mysql(run, 0.1)  # each wait well inside a batcher's patience, the three not
    with pytest.raises(UnavailableError, match="in time"):
        winners(run, 1)
    assert run.recorder.ads == []  # never answered, and here never recorded either
    assert run.counts.reads == ["u1"]  # it got as far as its counts


def test_waits_for_mysql_inside_the_budget_serve(make_spec: MakeSpec) -> None:
    run = setup([ad(make_spec, "dear", "0.0009", TWO_A_DAY)], budget=1.0)
    _slow_mysql(run, 0.1)
    assert winners(run, 1) == ["dear"]


def test_the_budget_fits_in_envoys_deadline_where_three_patiences_would_not() -> None:
    assert serve_budget(2.0) == 1.5
    assert serve_budget(2.0) < 2.0 < 3 * PATIENCE


def test_a_count_of_yesterday_starts_over(make_spec: MakeSpec) -> None:
    run = setup([ad(make_spec, "dear", "0.0009", TWO_A_DAY)])
    today = frequency.period_start(Period.DAY, datetime.now(UTC), KOLKATA)
    run.recorder.table[("u1", "dear")] = (today - timedelta(days=1), 2)
    assert winners(run, 3) == ["dear", "dear", None]


def test_floors_the_higher_of_platform_and_request(make_spec: MakeSpec) -> None:
    dear, middle = ad(make_spec, "dear", "0.0009"), ad(make_spec, "middle", "0.0005")
    run = setup([dear, middle], floor_cpm=middle.bid.cpm - Decimal("0.0000001"))

    async def serve(floor: Decimal) -> ServedAd | None:
        placement = await run.serving.serve(request(), floor)
        return None if placement is None else placement.served

    low = asyncio.run(serve(Decimal(0)))
    assert low is not None
    assert low.auction_cpm == middle.bid.cpm and low.runner_up_cpm == middle.bid.cpm
    assert low.floor_cpm == middle.bid.cpm - Decimal("0.0000001")
    between = (dear.bid.cpm + middle.bid.cpm) / 2
    floored = asyncio.run(serve(between))
    assert floored is not None
    assert (floored.auction_cpm, floored.floor_cpm) == (between, between)
    assert floored.runner_up_cpm is None and floored.bidders == 1
    assert asyncio.run(serve(dear.bid.cpm + Decimal("0.0000001"))) is None


def test_a_served_ad_is_found_by_its_request_id(make_spec: MakeSpec) -> None:
    run = setup([ad(make_spec, "dear", "0.0009")])
    winners(run, 1)
    found = asyncio.run(run.serving.find(run.recorder.ads[0].request_id))
    assert found is run.recorder.ads[0]
    with pytest.raises(NotFoundError):
        asyncio.run(run.serving.find("4f1c7d2e-0b7a-4c39-9a52-6f0e1d2c3b4a"))


def test_one_request_in_n_is_sampled(make_spec: MakeSpec) -> None:
    dear = ad(make_spec, "dear", "0.0009", FrequencyCap(1, Period.DAY))
    middle, cheap = ad(make_spec, "middle", "0.0005"), ad(make_spec, "cheap", "0.0001")
    stopped = dataclasses.replace(
        ad(make_spec, "stopped", "0.0003"),
        state=dataclasses.replace(ad(make_spec, "stopped", "0.0003").state, status=Status.INACTIVE),
    )
    floor = (cheap.bid.cpm + middle.bid.cpm) / 2
    run = setup([dear, middle, cheap, stopped], sample_every=2, floor_cpm=floor)
    assert winners(run, 4) == ["dear", "middle", "middle", "middle"]
    assert len(run.sink.samples) == 2  # the 2nd and the 4th request
    sample = run.sink.samples[0]
    assert set(sample.matched) == {"dear", "middle", "cheap", "stopped"}
    assert list(sample.frequency_capped) == ["dear"]  # served once already
    assert list(sample.below_floor) == ["cheap"]
    assert list(sample.entered) == ["middle"]
    assert sample.winner == "middle"
    assert sample.clearing_cpm == floor  # alone: the floor


def test_a_failing_sink_fails_no_request(make_spec: MakeSpec) -> None:
    run = setup([ad(make_spec, "dear", "0.0009")], sample_every=1)

    def broken(sample: DeliverySample) -> None:
        raise RuntimeError("boom")

    run.serving.sink.observe = broken  # type: ignore[method-assign]
    assert winners(run, 1) == ["dear"]


@hypothesis_settings(max_examples=40, deadline=None)
@given(cap=st.integers(1, 5), waves=st.lists(st.integers(1, 6), min_size=1, max_size=8))
def test_concurrent_requests_of_one_user_overshoot_by_at_most_the_bound(
    make_spec: MakeSpec, cap: int, waves: list[int]
) -> None:
    limit = FrequencyCap(cap, Period.DAY)
    run = setup([ad(make_spec, "capped", "0.0009", limit), ad(make_spec, "other", "0.0001")])

    async def in_waves() -> None:
        for concurrent in waves:
            await asyncio.gather(*(run.serving.serve(request()) for _ in range(concurrent)))

    asyncio.run(in_waves())
    served = sum(1 for a in run.recorder.ads if a.campaign_id == "capped")
    assert served <= cap + frequency.overshoot_bound(max(waves))
    assert served == frequency.admitted(limit, waves)  # the flow is the model
