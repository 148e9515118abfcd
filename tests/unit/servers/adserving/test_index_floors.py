"""Tests for floors and caps in servers.adserving.index: a CPM prefix and a bitset taken away."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from servers.adserving.index import AdIndex, IndexedAd
from servers.adserving.targeting import Request, viewer
from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import CampaignSpec, FrequencyCap, Period, Status
from servers.campaigns.pacing import fresh_slot
from servers.campaigns.pricing import DEFAULT_WEIGHTS

KOLKATA = ZoneInfo("Asia/Kolkata")
MakeSpec = Callable[..., CampaignSpec]
NOW = datetime(2025, 9, 12, 5, tzinfo=KOLKATA).astimezone(UTC) + timedelta(hours=1)
UNTARGETED = {
    "target_city": "All",
    "target_state": "All",
    "target_country": "India",
    "target_device": "All",
    "target_gender": "All",
    "target_age_range": {"start": "0", "end": "0"},
    "target_income_bucket": "All",
}
ANYONE = viewer(Request("u1", "iPhone", "Pune", "Maharashtra", "India"), None)
ONE_A_DAY = FrequencyCap(1, Period.DAY)


def ad(spec: CampaignSpec, status: Status = Status.ACTIVE) -> IndexedAd:
    slot = fresh_slot(spec.schedule, spec.budget, NOW, KOLKATA)
    state = CampaignState(
        spec=spec, status=status, status_reason="test", spent=Decimal(0), slot=slot, last_sequence=1
    )
    return IndexedAd.build(state, DEFAULT_WEIGHTS, KOLKATA)


def three(make_spec: MakeSpec) -> AdIndex:
    ads = [
        ad(make_spec(campaign_id=name, cpc=cpc, **UNTARGETED))
        for name, cpc in (("cheap", "0.0001"), ("middle", "0.0005"), ("dear", "0.0009"))
    ]
    return AdIndex(ads, KOLKATA, NOW)


def test_a_floor_keeps_the_campaigns_bidding_at_least_it(make_spec: MakeSpec) -> None:
    index = three(make_spec)
    middle = index.get("middle")
    assert middle is not None
    assert index.campaign_ids(index.at_least(Decimal(0))) == ["dear", "middle", "cheap"]
    assert index.campaign_ids(index.at_least(middle.bid.cpm)) == ["dear", "middle"]
    assert index.campaign_ids(index.at_least(middle.bid.cpm + Decimal("1e-10"))) == ["dear"]
    assert index.at_least(Decimal(1)) == 0
    contest = index.contest(ANYONE, NOW, floor=middle.bid.cpm)
    assert contest is not None
    assert [bid.campaign_id for bid in contest.bids] == ["dear", "middle"]
    assert contest.eligible == 2
    assert index.contest(ANYONE, NOW, floor=Decimal(1)) is None


def test_excluded_campaigns_do_not_enter(make_spec: MakeSpec) -> None:
    index = three(make_spec)
    dear = index.position("dear")
    assert dear is not None
    contest = index.contest(ANYONE, NOW, excluded=1 << dear)
    assert contest is not None
    assert [bid.campaign_id for bid in contest.bids] == ["middle", "cheap"]
    assert contest.eligible == 2


def test_matching_ignores_servability_and_eligible_does_not(make_spec: MakeSpec) -> None:
    spec = make_spec(campaign_id="stopped", **UNTARGETED)
    index = AdIndex([ad(spec, Status.INACTIVE)], KOLKATA, NOW)
    assert index.campaign_ids(index.matching(ANYONE)) == ["stopped"]
    assert index.eligible(ANYONE, NOW) == 0
    assert index.servable(NOW) == 0


def test_capped_is_own_caps_or_everyone_under_a_default(make_spec: MakeSpec) -> None:
    own = ad(make_spec(campaign_id="own", **UNTARGETED))
    own = dataclasses.replace(
        own,
        state=dataclasses.replace(
            own.state, spec=dataclasses.replace(own.state.spec, frequency_cap=ONE_A_DAY)
        ),
    )
    other = ad(make_spec(campaign_id="other", cpc="0.0009", **UNTARGETED))
    index = AdIndex([own, other], KOLKATA, NOW)
    assert index.campaign_ids(index.capped(None)) == ["own"]
    assert index.campaign_ids(index.capped(ONE_A_DAY)) == ["other", "own"]


def test_a_new_cap_does_not_fit_in_place(make_spec: MakeSpec) -> None:
    plain = ad(make_spec(campaign_id="c", **UNTARGETED))
    index = AdIndex([plain], KOLKATA, NOW)
    spec = dataclasses.replace(plain.state.spec, frequency_cap=ONE_A_DAY)
    capped = dataclasses.replace(plain, state=dataclasses.replace(plain.state, spec=spec))
    assert not index.fits(capped)


@settings(max_examples=200, deadline=None)
@given(
    cpcs=st.lists(st.sampled_from(["0.0001", "0.0005", "0.0009", "0.0012"]), max_size=12),
    floor=st.sampled_from(["0", "0.00000075", "0.000003", "0.00000375", "0.0000068", "1"]),
    excluded=st.integers(0, 2**12 - 1),
)
def test_floor_and_exclusion_agree_with_filtering_each_campaign(
    make_spec: MakeSpec, cpcs: list[str], floor: str, excluded: int
) -> None:
    ads = [ad(make_spec(campaign_id=f"c{n:02}", cpc=c, **UNTARGETED)) for n, c in enumerate(cpcs)]
    index = AdIndex(ads, KOLKATA, NOW)
    out = {ads[n].campaign_id for n in range(len(ads)) if excluded >> n & 1}
    mask = 0
    for campaign_id in out:
        position = index.position(campaign_id)
        assert position is not None
        mask |= 1 << position
    entering = sorted(
        (a for a in ads if a.bid.cpm >= Decimal(floor) and a.campaign_id not in out),
        key=lambda a: (-a.bid.cpm, a.campaign_id),
    )
    contest = index.contest(ANYONE, NOW, floor=Decimal(floor), excluded=mask)
    if not entering:
        assert contest is None
        return
    assert contest is not None
    assert contest.eligible == len(entering)
    top = [a.bid for a in entering if a.bid.cpm == entering[0].bid.cpm]
    below = [a.bid for a in entering if a.bid.cpm < entering[0].bid.cpm]
    assert contest.bids == top + below[:1]
