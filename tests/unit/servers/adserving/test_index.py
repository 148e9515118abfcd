"""Tests for servers.adserving.index: the bitset index agrees with targeting's rules, over time."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servers.adserving import auction
from servers.adserving.index import AdIndex, IndexedAd, servable_at
from servers.adserving.targeting import (
    LiveCampaign,
    Request,
    UserProfile,
    Viewer,
    is_eligible,
    viewer,
)
from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import CampaignSpec, Status
from servers.campaigns.pacing import SlotBudget, fresh_slot, roll_over
from servers.campaigns.pricing import DEFAULT_WEIGHTS
from servers.campaigns.schedule import SLOT, utc_window
from servers.identifiers import PRIVACY_USER_ID

KOLKATA = ZoneInfo("Asia/Kolkata")
MakeSpec = Callable[..., CampaignSpec]
# VALID_FIELDS' window: 2025-09-12 05:00 to 2025-09-13 18:00 in Kolkata.
OPENS = datetime(2025, 9, 12, 5, tzinfo=KOLKATA).astimezone(UTC)
CLOSES = datetime(2025, 9, 13, 18, tzinfo=KOLKATA).astimezone(UTC)
UNTARGETED = {
    "target_gender": "All",
    "target_age_range": {"start": "0", "end": "0"},
    "target_income_bucket": "All",
}
ANYONE = viewer(Request("u1", "iPhone", "Pune", "Maharashtra", "India"), None)


def state(
    spec: CampaignSpec,
    now: datetime,
    *,
    status: Status = Status.ACTIVE,
    spent: Decimal = Decimal(0),
    slot: SlotBudget | None = None,
) -> CampaignState:
    """state is a stored campaign whose slot budget was paced at now unless slot is given."""
    remaining = max(spec.budget - spent, Decimal(0))
    return CampaignState(
        spec=spec,
        status=status,
        status_reason="test",
        spent=spent,
        slot=slot or fresh_slot(spec.schedule, remaining, now, KOLKATA),
        last_sequence=1,
    )


def indexed(campaign: CampaignState) -> IndexedAd:
    return IndexedAd.build(campaign, DEFAULT_WEIGHTS, KOLKATA)


def expected_live(ad: IndexedAd, now: datetime) -> LiveCampaign:
    """expected_live is rule 3's view at now: the stored slot budget rolled over, read literally."""
    campaign = ad.state
    slot = roll_over(campaign.slot, campaign.spec.schedule, campaign.remaining, now, KOLKATA)
    return LiveCampaign.build(
        campaign.spec, campaign.status, campaign.remaining, slot.amount, KOLKATA
    )


def expected_entrants(ads: list[IndexedAd], who: Viewer, now: datetime) -> list[auction.Bid]:
    """expected_entrants: every eligible bid, highest CPM first (ties by campaign id)."""
    eligible = [ad for ad in ads if is_eligible(expected_live(ad, now), who, now)]
    return [ad.bid for ad in sorted(eligible, key=lambda ad: (-ad.bid.cpm, ad.campaign_id))]


def top_and_next(bids: list[auction.Bid]) -> list[auction.Bid]:
    """top_and_next keeps the bids tied at the top and the first bid below them."""
    if not bids:
        return []
    top = [bid for bid in bids if bid.cpm == bids[0].cpm]
    below = [bid for bid in bids if bid.cpm < bids[0].cpm]
    return top + below[:1]


# Examples -----------------------------------------------------------------------------


def test_an_empty_index_has_no_contest() -> None:
    index = AdIndex([], KOLKATA, OPENS)
    assert len(index) == 0
    assert index.contest(ANYONE, OPENS) is None


def test_the_highest_cpm_enters_with_the_best_bid_below(make_spec: MakeSpec) -> None:
    now = OPENS + timedelta(hours=1)
    cheap = indexed(state(make_spec(campaign_id="cheap", cpc="0.0001", **UNTARGETED), now))
    middle = indexed(state(make_spec(campaign_id="middle", cpc="0.0005", **UNTARGETED), now))
    dear = indexed(state(make_spec(campaign_id="dear", cpc="0.0009", **UNTARGETED), now))
    index = AdIndex([cheap, dear, middle], KOLKATA, now)
    contest = index.contest(ANYONE, now)
    assert contest is not None
    assert [bid.campaign_id for bid in contest.bids] == ["dear", "middle"]
    assert contest.eligible == 3
    assert index.get("middle") is middle
    assert [ad.campaign_id for ad in index.ads()] == ["dear", "middle", "cheap"]


def test_ties_all_enter_and_the_next_price_follows(make_spec: MakeSpec) -> None:
    now = OPENS + timedelta(hours=1)
    ads = [indexed(state(make_spec(campaign_id=f"tie-{n}", **UNTARGETED), now)) for n in range(3)]
    lower = indexed(state(make_spec(campaign_id="lower", cpa="0.001", **UNTARGETED), now))
    contest = AdIndex([*ads, lower], KOLKATA, now).contest(ANYONE, now)
    assert contest is not None
    assert [bid.campaign_id for bid in contest.bids] == ["tie-0", "tie-1", "tie-2", "lower"]


def test_a_single_eligible_ad_enters_alone(make_spec: MakeSpec) -> None:
    now = OPENS + timedelta(hours=1)
    alone = indexed(state(make_spec(campaign_id="alone", **UNTARGETED), now))
    targeted = indexed(state(make_spec(campaign_id="women"), now))  # F 20-45, income M
    contest = AdIndex([alone, targeted], KOLKATA, now).contest(ANYONE, now)
    assert contest is not None
    assert [bid.campaign_id for bid in contest.bids] == ["alone"]
    assert contest.eligible == 1


def test_the_window_opens_and_closes_exactly(make_spec: MakeSpec) -> None:
    ad = indexed(state(make_spec(**UNTARGETED), OPENS - timedelta(hours=1)))
    tick = timedelta(microseconds=1)
    index = AdIndex([ad], KOLKATA, OPENS - timedelta(hours=1))
    assert index.contest(ANYONE, OPENS - tick) is None
    assert index.contest(ANYONE, OPENS) is not None
    assert index.contest(ANYONE, CLOSES - tick) is not None
    assert index.contest(ANYONE, CLOSES) is None


def test_a_midnight_end_serves_until_the_end_date_is_over(make_spec: MakeSpec) -> None:
    spec = make_spec(time_range={"start": "22:00:00", "end": "0:00:00"}, **UNTARGETED)
    start = datetime(2025, 9, 12, 22, tzinfo=KOLKATA)
    index = AdIndex([indexed(state(spec, start))], KOLKATA, start)
    assert index.contest(ANYONE, datetime(2025, 9, 13, 23, 59, 59, tzinfo=KOLKATA)) is not None
    assert index.contest(ANYONE, datetime(2025, 9, 14, 0, 0, tzinfo=KOLKATA)) is None


def test_an_empty_slot_waits_for_the_next_slot(make_spec: MakeSpec) -> None:
    now = OPENS + 3 * SLOT + timedelta(minutes=4)
    spent_slot = SlotBudget(OPENS + 3 * SLOT, Decimal(0))  # charged down to nothing
    ad = indexed(state(make_spec(**UNTARGETED), now, slot=spent_slot))
    index = AdIndex([ad], KOLKATA, now)
    assert index.contest(ANYONE, now) is None
    assert index.contest(ANYONE, OPENS + 4 * SLOT - timedelta(microseconds=1)) is None
    assert index.contest(ANYONE, OPENS + 4 * SLOT) is not None  # a fresh slot's budget


def test_a_stale_stored_slot_uses_a_fresh_slot_budget(make_spec: MakeSpec) -> None:
    now = OPENS + 5 * SLOT
    stale = SlotBudget(OPENS + SLOT, Decimal(0))  # the pacer has not rolled it over yet
    ad = indexed(state(make_spec(**UNTARGETED), now, slot=stale))
    assert servable_at(ad, now, KOLKATA) == (True, now + SLOT)
    assert AdIndex([ad], KOLKATA, now).contest(ANYONE, now) is not None


@pytest.mark.parametrize(
    "changes",
    [
        {"status": Status.INACTIVE},
        {"spent": Decimal(500)},  # the whole budget
        {"slot": SlotBudget(OPENS, Decimal(0))},
    ],
)
def test_stopped_exhausted_or_zero_slot_budget_is_not_served(
    make_spec: MakeSpec, changes: dict[str, Any]
) -> None:
    now = OPENS + timedelta(minutes=1)
    ad = indexed(state(make_spec(**UNTARGETED), now, **changes))
    assert AdIndex([ad], KOLKATA, now).contest(ANYONE, now) is None


def test_a_change_of_status_or_money_applies_in_place(make_spec: MakeSpec) -> None:
    now = OPENS + timedelta(hours=1)
    spec = make_spec(campaign_id="c", **UNTARGETED)
    index = AdIndex([indexed(state(spec, now))], KOLKATA, now)
    stopped = indexed(state(spec, now, status=Status.INACTIVE))
    assert index.fits(stopped)
    index.replace(stopped, now)
    assert index.contest(ANYONE, now) is None
    index.replace(indexed(state(spec, now)), now)
    assert index.contest(ANYONE, now) is not None


def test_a_new_bid_or_campaign_does_not_fit(make_spec: MakeSpec) -> None:
    now = OPENS + timedelta(hours=1)
    spec = make_spec(campaign_id="c", **UNTARGETED)
    index = AdIndex([indexed(state(spec, now))], KOLKATA, now)
    rebid = indexed(state(dataclasses.replace(spec, cpc=Decimal("0.9")), now))
    assert not index.fits(rebid)
    assert not index.fits(indexed(state(make_spec(campaign_id="new"), now)))
    with pytest.raises(ValueError, match="rebuild"):
        index.replace(rebid, now)


@pytest.mark.parametrize(("age", "expected"), [(19, False), (20, True), (45, True), (46, False)])
def test_age_ranges_hold_both_ends(make_spec: MakeSpec, age: int, expected: bool) -> None:
    now = OPENS + timedelta(hours=1)
    index = AdIndex([indexed(state(make_spec(), now))], KOLKATA, now)  # F, 20-45, income M
    request = Request("u1", "iPhone", "Pune", "Maharashtra", "India")
    who = viewer(request, UserProfile(age=age, gender="F", income_bucket="M"))
    assert (index.contest(who, now) is not None) is expected


def test_a_viewer_without_profile_sees_only_untargeted_people_dimensions(
    make_spec: MakeSpec,
) -> None:
    now = OPENS + timedelta(hours=1)
    women = indexed(state(make_spec(campaign_id="women"), now))  # F, 20-45, income M
    index = AdIndex([women], KOLKATA, now)
    request = Request("u1", "iPhone", "Pune", "Maharashtra", "India")
    profile = UserProfile(age=30, gender="F", income_bucket="M")
    assert index.contest(viewer(request, profile), now) is not None
    assert index.contest(viewer(request, None), now) is None
    privacy = dataclasses.replace(request, user_id=PRIVACY_USER_ID)
    assert index.contest(viewer(privacy, profile), now) is None


# Property: the index agrees with the rules read literally, at any later instant --------

_cities = st.sampled_from(["All", "Mumbai", "Delhi", "mumbai"])
_devices = st.sampled_from(["All", "Android Mobile", "iPhone", "android-mobile"])
_ages = st.sampled_from([(0, 0), (20, 30), (25, 45), (60, 70)])
_slots = st.sampled_from(["fresh", "stale", "empty", "stale-empty"])
_campaigns = st.fixed_dictionaries(
    {
        "target_city": _cities,
        "target_state": st.sampled_from(["All", "Maharashtra"]),
        "target_country": st.sampled_from(["India", "All", "Nepal"]),
        "target_device": _devices,
        "target_gender": st.sampled_from(["All", "M", "F"]),
        "target_income_bucket": st.sampled_from(["All", "H", "M"]),
        "target_age_range": _ages.map(lambda ages: {"start": ages[0], "end": ages[1]}),
        "cpc": st.sampled_from(["0.001", "0.002"]),  # few prices: many ties
        "cpa": st.sampled_from(["0.01", "0.03"]),
        "time_range": st.sampled_from(
            [{"start": "5:00:00", "end": "18:00:00"}, {"start": "22:00:00", "end": "0:00:00"}]
        ),
        "status": st.sampled_from([Status.ACTIVE, Status.ACTIVE, Status.INACTIVE]),
        "spent": st.sampled_from([Decimal(0), Decimal(100), Decimal(500)]),
        "slot": _slots,
    }
)
_viewers = st.builds(
    viewer,
    st.builds(
        Request,
        user_id=st.sampled_from(["u1", PRIVACY_USER_ID]),
        device_type=_devices,
        city=_cities | st.just("Pune"),
        state=st.sampled_from(["Maharashtra", "Delhi"]),
        country=st.sampled_from(["India", "Nepal", ""]),
    ),
    st.none()
    | st.builds(
        UserProfile,
        age=st.sampled_from([19, 20, 25, 30, 31, 45, 46, 60, 70, 71]) | st.none(),
        gender=st.sampled_from(["M", "F"]) | st.none(),
        income_bucket=st.sampled_from(["H", "M", "L"]) | st.none(),
    ),
)
# Build times and later query times around the window and its slot boundaries.
_instants = st.integers(-90, 60 * 40).map(lambda minutes: OPENS + timedelta(minutes=minutes))


def _campaign(make_spec: MakeSpec, number: int, drawn: dict[str, Any], now: datetime) -> IndexedAd:
    fields = {k: v for k, v in drawn.items() if k not in {"status", "spent", "slot"}}
    spec = make_spec(campaign_id=f"c{number:03}", **fields)
    remaining = max(spec.budget - drawn["spent"], Decimal(0))
    slot = fresh_slot(spec.schedule, remaining, now, KOLKATA)
    if drawn["slot"].startswith("stale"):
        start, _ = utc_window(spec.schedule, KOLKATA)
        slot = SlotBudget(start, slot.amount)
    if drawn["slot"].endswith("empty"):
        slot = SlotBudget(slot.slot_start, Decimal(0))
    return indexed(state(spec, now, status=drawn["status"], spent=drawn["spent"], slot=slot))


@settings(max_examples=300, deadline=None)
@given(
    drawn=st.lists(_campaigns, max_size=12),
    built_at=_instants,
    later=st.lists(st.tuples(st.integers(0, 600), _viewers), min_size=1, max_size=4),
    seed=st.integers(0, 2**32),
)
def test_the_index_agrees_with_the_rules(
    make_spec: MakeSpec,
    drawn: list[dict[str, Any]],
    built_at: datetime,
    later: list[tuple[int, Viewer]],
    seed: int,
) -> None:
    ads = [_campaign(make_spec, number, values, built_at) for number, values in enumerate(drawn)]
    index = AdIndex(ads, KOLKATA, built_at)
    now = built_at
    for minutes, who in later:
        now += timedelta(minutes=minutes)  # time only moves forward
        everyone = expected_entrants(ads, who, now)
        contest = index.contest(who, now)
        if not everyone:
            assert contest is None
            continue
        assert contest is not None
        assert contest.eligible == len(everyone)
        assert contest.bids == top_and_next(everyone)
        # The auction over the entrants is the auction over every eligible bid.
        for mode in auction.PricingMode:
            entrants = auction.run(contest.bids, random.Random(seed), mode)
            all_bids = auction.run(everyone, random.Random(seed), mode)
            assert entrants is not None and all_bids is not None
            assert entrants == all_bids
