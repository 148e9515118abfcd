"""Tests for servers.campaigns.delivery: every blocker, the recent shares and the pacing line."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.adserving.index import IndexedAd
from servers.adserving.servable import servable_at
from servers.campaigns import delivery
from servers.campaigns.delivery import Code, Counted, blockers, diagnose, expected_spent, recent
from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import (
    AgeRange,
    CampaignSpec,
    Daypart,
    Pacing,
    Schedule,
    Status,
    StatusReason,
    Targeting,
)
from servers.campaigns.pacing import SlotBudget, fresh_slot
from servers.campaigns.pricing import Weights
from servers.campaigns.schedule import SLOT, utc_window
from servers.errors import ValidationError
from servers.money import MONEY_PLACES

KOLKATA = ZoneInfo("Asia/Kolkata")
# Two days, 6:00 on 2025-09-12 to 18:00 on 2025-09-13 in Kolkata; 2025-09-12 is a Friday.
SCHEDULE = Schedule(date(2025, 9, 12), date(2025, 9, 13), time(6), time(18))
START, END = utc_window(SCHEDULE, KOLKATA)
NOON = datetime(2025, 9, 12, 12, 5, tzinfo=KOLKATA).astimezone(UTC)
SPEC = CampaignSpec(
    campaign_id="c1",
    text="Oil cooler",
    category="Tools",
    keywords=(),
    targeting=Targeting("All", AgeRange(0, 0), "All", "All", "India", "All", "All"),
    cpc=Decimal("0.001"),
    cpa=Decimal("0.05"),
    budget=Decimal(360),
    schedule=SCHEDULE,
)


def state(
    *,
    status: Status = Status.ACTIVE,
    reason: str = str(StatusReason.CREATED),
    spent: str = "0",
    slot_amount: str | None = None,
    at: datetime = NOON,
    **spec_changes: object,
) -> CampaignState:
    """state is the stored campaign: by default ACTIVE, unspent, with a fresh slot at `at`."""
    spec = replace(SPEC, **spec_changes)  # type: ignore[arg-type]
    remaining = max(spec.budget - Decimal(spent), Decimal(0))
    slot = fresh_slot(spec.schedule, remaining, at, KOLKATA)
    if slot_amount is not None:
        slot = SlotBudget(slot.slot_start, Decimal(slot_amount))
    return CampaignState(
        spec=spec,
        status=status,
        status_reason=reason,
        spent=Decimal(spent),
        slot=slot,
        last_sequence=1,
    )


def codes(found: tuple[delivery.Blocker, ...]) -> list[Code]:
    return [blocker.code for blocker in found]


def test_a_live_campaign_has_no_blocker() -> None:
    assert blockers(state(), NOON, KOLKATA) == ()
    assert diagnose(state(), Counted(15), NOON, KOLKATA).serving


def test_stopped() -> None:
    """A Stop is STOPPED, with the campaign manager's words."""
    found = blockers(
        state(status=Status.INACTIVE, reason="stopped by campaign manager: over"), NOON, KOLKATA
    )
    assert codes(found) == [Code.STOPPED]
    assert "stopped by campaign manager: over" in found[0].message


def test_budget_exhausted_is_not_stopped() -> None:
    """INACTIVE because the budget ran out is BUDGET_EXHAUSTED alone, with the figures."""
    found = blockers(
        state(status=Status.INACTIVE, reason=str(StatusReason.BUDGET_EXHAUSTED), spent="360"),
        NOON,
        KOLKATA,
    )
    assert codes(found) == [Code.BUDGET_EXHAUSTED]
    assert "360" in found[0].message


def test_stopped_and_exhausted_both_show() -> None:
    found = blockers(
        state(status=Status.INACTIVE, reason=str(StatusReason.STOPPED), spent="400"), NOON, KOLKATA
    )
    assert codes(found) == [Code.STOPPED, Code.BUDGET_EXHAUSTED]


def test_before_window_names_its_start() -> None:
    early = START - timedelta(hours=1)
    found = blockers(state(at=early), early, KOLKATA)
    assert codes(found) == [Code.BEFORE_WINDOW]
    assert "2025-09-12T06:00:00+05:30" in found[0].message


def test_after_window_names_its_end_and_nothing_after_it() -> None:
    """After the window, the slot (empty) and daily budget say nothing more."""
    late = END
    found = blockers(state(at=late, daily_budget=Decimal(0)), late, KOLKATA)
    assert codes(found) == [Code.AFTER_WINDOW]
    assert "2025-09-13T18:00:00+05:30" in found[0].message


def test_the_window_is_half_open() -> None:
    assert blockers(state(at=START), START, KOLKATA) == ()
    before_end = END - timedelta(microseconds=1)
    assert blockers(state(at=before_end), before_end, KOLKATA) == ()


MORNINGS = (Daypart(frozenset(range(7)), 6, 9),)


def test_outside_daypart_names_the_next_start() -> None:
    found = blockers(state(dayparts=MORNINGS), NOON, KOLKATA)
    assert codes(found) == [Code.OUTSIDE_DAYPART]
    assert "2025-09-13T06:00:00+05:30" in found[0].message


def test_outside_the_last_daypart_of_the_window() -> None:
    evening = datetime(2025, 9, 13, 12, tzinfo=KOLKATA)
    found = blockers(state(dayparts=MORNINGS, at=evening), evening, KOLKATA)
    assert codes(found) == [Code.OUTSIDE_DAYPART]
    assert "no daypart starts again" in found[0].message


def test_inside_a_daypart_serves() -> None:
    morning = datetime(2025, 9, 13, 7, tzinfo=KOLKATA)
    assert blockers(state(dayparts=MORNINGS, at=morning), morning, KOLKATA) == ()


def test_daily_budget_reached_resumes_at_local_midnight() -> None:
    today = NOON.astimezone(KOLKATA).date()
    capped = replace(
        state(daily_budget=Decimal(5), spent="5"), spent_today=Decimal(5), spent_day=today
    )
    found = blockers(capped, NOON, KOLKATA)
    assert codes(found) == [Code.DAILY_BUDGET_REACHED]
    assert "spent 5 today" in found[0].message
    assert "2025-09-13T00:00:00+05:30" in found[0].message


def test_daily_budget_of_yesterday_does_not_block() -> None:
    yesterday = NOON.astimezone(KOLKATA).date() - timedelta(days=1)
    spent = replace(
        state(daily_budget=Decimal(5), spent="5"), spent_today=Decimal(5), spent_day=yesterday
    )
    assert blockers(spent, NOON, KOLKATA) == ()


def test_daily_budget_on_the_last_day() -> None:
    last = datetime(2025, 9, 13, 12, tzinfo=KOLKATA)
    capped = replace(
        state(daily_budget=Decimal(1), spent="1", at=last),
        spent_today=Decimal(1),
        spent_day=last.date(),
    )
    found = blockers(capped, last, KOLKATA)
    assert codes(found) == [Code.DAILY_BUDGET_REACHED]
    assert "closes before the next day" in found[0].message


def test_slot_budget_spent_names_the_next_slot() -> None:
    found = blockers(state(slot_amount="0"), NOON, KOLKATA)
    assert codes(found) == [Code.SLOT_BUDGET_SPENT]
    slot_start = START + ((NOON - START) // SLOT) * SLOT
    following = (slot_start + SLOT).astimezone(KOLKATA).isoformat(timespec="seconds")
    assert following in found[0].message


def test_a_stale_spent_slot_rolls_over() -> None:
    """A slot spent before the current one is stale: the next slot has budget (roll_over)."""
    stale = state(slot_amount="0")
    later = NOON + SLOT
    assert blockers(stale, later, KOLKATA) == ()


def test_slot_budget_does_not_block_asap() -> None:
    assert blockers(state(slot_amount="0", pacing=Pacing.ASAP), NOON, KOLKATA) == ()


def test_the_last_slot_spent() -> None:
    last = END - timedelta(minutes=1)
    found = blockers(state(slot_amount="0", at=last), last, KOLKATA)
    assert codes(found) == [Code.SLOT_BUDGET_SPENT]
    assert "last slot" in found[0].message


def test_every_blocker_at_once_keeps_the_order() -> None:
    today = NOON.astimezone(KOLKATA).date()
    everything = replace(
        state(
            status=Status.INACTIVE,
            reason=str(StatusReason.STOPPED),
            spent="360",
            daily_budget=Decimal(1),
            dayparts=MORNINGS,
        ),
        spent_today=Decimal(1),
        spent_day=today,
    )
    assert codes(blockers(everything, NOON, KOLKATA)) == [
        Code.STOPPED,
        Code.BUDGET_EXHAUSTED,
        Code.OUTSIDE_DAYPART,
        Code.DAILY_BUDGET_REACHED,
    ]


@pytest.mark.parametrize(("given_", "expected"), [(0, 15), (1, 1), (15, 15), (1440, 1440)])
def test_window_minutes(given_: int, expected: int) -> None:
    assert delivery.window_minutes(given_) == expected


@pytest.mark.parametrize("minutes", [-1, 1441, 10**9])
def test_window_minutes_out_of_range_names_the_field(minutes: int) -> None:
    with pytest.raises(ValidationError) as refused:
        delivery.window_minutes(minutes)
    assert refused.value.field == "minutes"


def test_since_counts_the_current_minute() -> None:
    now = datetime(2026, 12, 3, 12, 30, 45, tzinfo=UTC)
    assert delivery.since(now, 1) == datetime(2026, 12, 3, 12, 30)
    assert delivery.since(now, 15) == datetime(2026, 12, 3, 12, 16)


def test_recent_shares_and_average_outbid_price() -> None:
    counted = Counted(
        15,
        sampled_requests=200,
        matched=50,
        entered=40,
        won=10,
        outbid_clearing_sum=Decimal("0.03"),
    )
    got = recent(counted)
    assert got.targeting_match_share == 0.25
    assert got.outbid_share == 0.75
    assert got.outbid_clearing_cpm == Decimal("0.001")


def test_recent_without_counts_is_zero_and_no_price() -> None:
    got = recent(Counted(15))
    assert got.targeting_match_share == 0 and got.outbid_share == 0
    assert got.outbid_clearing_cpm is None
    assert recent(Counted(15, entered=3, won=3)).outbid_clearing_cpm is None


def test_average_outbid_price_rounds_down_to_money_places() -> None:
    got = recent(Counted(15, entered=3, outbid_clearing_sum=Decimal(1)))
    assert got.outbid_clearing_cpm == Decimal("0.3333333333")


@given(
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.decimals(min_value=0, max_value=10**6, places=MONEY_PLACES),
)
def test_recent_shares_are_shares(entered: int, won_part: int, total: Decimal) -> None:
    won = min(won_part, entered)
    got = recent(Counted(15, sampled_requests=entered, matched=entered, entered=entered, won=won))
    assert 0 <= got.outbid_share <= 1
    assert got.targeting_match_share == (1.0 if entered else 0.0)
    lost = entered - won
    priced = recent(Counted(15, entered=entered, won=won, outbid_clearing_sum=total))
    if lost:
        assert priced.outbid_clearing_cpm is not None
        assert priced.outbid_clearing_cpm * lost <= total
    else:
        assert priced.outbid_clearing_cpm is None


def test_expected_spent_over_the_window() -> None:
    assert expected_spent(state(), START - timedelta(days=1), KOLKATA) == 0
    assert expected_spent(state(), START, KOLKATA) == 0
    assert expected_spent(state(), END, KOLKATA) == Decimal(360)
    halfway = START + (END - START) / 2
    assert expected_spent(state(), halfway, KOLKATA) == Decimal(180)


def test_expected_spent_with_dayparts_counts_daypart_time() -> None:
    """Two 3-hour mornings: after the first one, half the budget is expected."""
    after_first = datetime(2025, 9, 12, 12, tzinfo=KOLKATA)
    assert expected_spent(state(dayparts=MORNINGS), after_first, KOLKATA) == Decimal(180)
    during_second = datetime(2025, 9, 13, 7, 30, tzinfo=KOLKATA)
    assert expected_spent(state(dayparts=MORNINGS), during_second, KOLKATA) == Decimal(270)


def test_expected_spent_with_no_daypart_time_in_the_window() -> None:
    sundays = (Daypart(frozenset({6}), 0, 24),)  # the window is a Friday and a Saturday
    assert expected_spent(state(dayparts=sundays), NOON, KOLKATA) == 0


@given(st.integers(0, 10**6))
def test_expected_spent_grows_and_stays_within_budget(seconds: int) -> None:
    now = START + timedelta(seconds=seconds)
    later = now + timedelta(minutes=7)
    first = expected_spent(state(), now, KOLKATA)
    assert 0 <= first <= expected_spent(state(), later, KOLKATA) <= SPEC.budget


def test_pacing_view() -> None:
    today = NOON.astimezone(KOLKATA).date()
    campaign = replace(
        state(spent="20", daily_budget=Decimal(50), pacing=Pacing.ASAP),
        spent_today=Decimal(7),
        spent_day=today,
    )
    got = diagnose(campaign, Counted(15), NOON, KOLKATA).pacing
    assert got.pacing is Pacing.ASAP
    assert got.spent == Decimal(20)
    assert got.spent_today == Decimal(7)
    assert got.daily_budget == Decimal(50)
    assert 0 < got.expected_spent < Decimal(360)


def _any_state(draw: st.DrawFn) -> tuple[CampaignState, datetime]:
    """_any_state is a stored campaign in any state, and an instant around its window."""
    status = draw(st.sampled_from(Status))
    reason = draw(
        st.sampled_from(
            [
                str(StatusReason.CREATED),
                str(StatusReason.STOPPED),
                str(StatusReason.BUDGET_EXHAUSTED),
                str(StatusReason.BUDGET_RAISED),
            ]
        )
    )
    spent = draw(st.sampled_from(["0", "1", "359.9999999999", "360", "400"]))
    pacing = draw(st.sampled_from(Pacing))
    daily_budget = draw(st.sampled_from([None, Decimal(0), Decimal(1), Decimal(50)]))
    parts = draw(
        st.sampled_from(
            [(), MORNINGS, (Daypart(frozenset({4}), 10, 14),), (Daypart(frozenset({6}), 0, 24),)]
        )
    )
    now = START + timedelta(minutes=draw(st.integers(-120, 37 * 60)))
    slot_at = now - timedelta(minutes=draw(st.sampled_from([0, 0, 15])))
    campaign = state(
        status=status,
        reason=reason,
        spent=spent,
        at=slot_at,
        pacing=pacing,
        daily_budget=daily_budget,
        dayparts=parts,
    )
    if draw(st.booleans()):
        campaign = replace(campaign, slot=SlotBudget(campaign.slot.slot_start, Decimal(0)))
    day = now.astimezone(KOLKATA).date() - timedelta(days=draw(st.sampled_from([0, 0, 1])))
    today = draw(st.sampled_from(["0", "1", "60"]))
    return replace(campaign, spent_today=Decimal(today), spent_day=day), now


@given(st.data())
def test_serving_is_what_the_adserver_holds_servable(data: st.DataObject) -> None:
    """No blocker exactly when the AdServer's own rule (servable.servable_at) serves it."""
    campaign, now = data.draw(st.composite(_any_state)())
    ad = IndexedAd.build(campaign, Weights.parse("0.0075", "0.0005"), KOLKATA)
    servable, _ = servable_at(ad, now, KOLKATA)
    found = blockers(campaign, now, KOLKATA)
    assert (found == ()) is servable, found
