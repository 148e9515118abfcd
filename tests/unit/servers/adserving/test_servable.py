"""Tests for servers.adserving.servable: servable now, and the next instant that can change.

servable_at is checked against a brute-force reading of the rules at many instants: the
answer must hold from now until the instant it names, in a DST zone too (Europe/Berlin).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from servers.adserving.index import IndexedAd
from servers.adserving.servable import servable_at
from servers.campaigns import daily
from servers.campaigns import schedule as schedules
from servers.campaigns.dayparts import in_daypart
from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import Pacing, Status
from servers.campaigns.pacing import SlotBudget, fresh_slot_for, rolled_slot
from servers.campaigns.pricing import DEFAULT_WEIGHTS
from servers.campaigns.validation import validate_spec
from tests.fixtures.campaigns import VALID_FIELDS

KOLKATA = ZoneInfo("Asia/Kolkata")
BERLIN = ZoneInfo("Europe/Berlin")


def stored(
    tz: ZoneInfo, paced_at: datetime, spent_today: Decimal, **fields: object
) -> CampaignState:
    spec = validate_spec({**VALID_FIELDS, **fields})
    state = CampaignState(
        spec=spec,
        status=Status.ACTIVE,
        status_reason="test",
        spent=spent_today,
        slot=SlotBudget(paced_at, Decimal(0)),
        last_sequence=1,
        spent_today=spent_today,
        spent_day=daily.local_day(paced_at, tz),
    )
    return dataclasses.replace(state, slot=fresh_slot_for(state, paced_at, tz))


def brute(state: CampaignState, at: datetime, tz: ZoneInfo) -> bool:
    """brute reads the rules literally at one instant, without the index's shortcuts."""
    spec = state.spec
    left = daily.daily_left(state, at, tz)
    return (
        state.status is Status.ACTIVE
        and schedules.is_live(spec.schedule, at, tz)
        and state.remaining > 0
        and in_daypart(spec.dayparts, at, tz)
        and (left is None or left > 0)
        and (spec.pacing is Pacing.ASAP or rolled_slot(state, at, tz).amount > 0)
    )


dayparts = st.lists(
    st.integers(0, 23).flatmap(
        lambda start: st.fixed_dictionaries(
            {
                "days": st.lists(st.sampled_from(["MONDAY", "SATURDAY", "SUNDAY"]), max_size=2),
                "start_hour": st.just(start),
                "end_hour": st.integers(start + 1, min(24, start + 5)),
            }
        )
    ),
    max_size=3,
)
windows = st.sampled_from(
    [
        # Around Berlin's spring-forward and fall-back nights, and an ordinary week.
        ({"start": "2025-03-28", "end": "2025-04-01"}, {"start": "0:00:00", "end": "0:00:00"}),
        ({"start": "2025-10-24", "end": "2025-10-28"}, {"start": "5:00:00", "end": "18:30:00"}),
        ({"start": "2025-09-12", "end": "2025-09-13"}, {"start": "5:00:00", "end": "18:00:00"}),
    ]
)


@settings(max_examples=80, deadline=None)
@given(
    windows,
    dayparts,
    st.sampled_from(["EVEN", "ASAP"]),
    st.sampled_from([None, "0.5", "3"]),
    st.sampled_from(["0", "0.5", "3"]),
    st.tuples(st.integers(-12 * 60, 5 * 24 * 60), st.integers(0, 5 * 24 * 60)),
    st.sampled_from([KOLKATA, BERLIN]),
)
def test_servable_at_holds_until_the_change_it_names(  # noqa: PLR0917 (hypothesis draws)
    window: tuple[dict[str, str], dict[str, str]],
    parts: list[dict[str, object]],
    pacing: str,
    daily_budget: str | None,
    spent: str,
    minutes: tuple[int, int],
    tz: ZoneInfo,
) -> None:
    date_range, time_range = window
    paced_minutes, ahead_minutes = minutes
    start = datetime.fromisoformat(date_range["start"]).replace(tzinfo=tz).astimezone(UTC)
    paced_at = start + timedelta(minutes=paced_minutes)
    now = paced_at + timedelta(minutes=ahead_minutes, seconds=17)
    state = stored(
        tz,
        paced_at,
        Decimal(spent),
        date_range=date_range,
        time_range=time_range,
        dayparts=parts,
        pacing=pacing,
        daily_budget=daily_budget,
        budget="100",
    )
    ad = IndexedAd.build(state, DEFAULT_WEIGHTS, tz)
    servable, change = servable_at(ad, now, tz)
    assert servable == brute(state, now, tz)
    horizon = now + timedelta(days=2) if change is None else change
    assert horizon > now
    step, instant = timedelta(minutes=5), now
    while instant < horizon:
        assert brute(state, instant, tz) == servable, instant
        instant += step
    last = horizon - timedelta(microseconds=1)
    assert brute(state, last, tz) == servable


def test_a_capped_out_day_changes_at_local_midnight() -> None:
    noon = datetime(2025, 9, 12, 12, 0, tzinfo=KOLKATA)
    state = stored(KOLKATA, noon, Decimal(1), daily_budget="1", pacing="ASAP")
    servable, change = servable_at(IndexedAd.build(state, DEFAULT_WEIGHTS, KOLKATA), noon, KOLKATA)
    assert not servable
    assert change == min(
        datetime(2025, 9, 13, tzinfo=KOLKATA).astimezone(UTC),
        schedules.slot_start(state.spec.schedule, noon, KOLKATA) + schedules.SLOT,
    )


def test_outside_its_daypart_it_waits_for_the_hour() -> None:
    friday_8 = datetime(2025, 9, 12, 8, 0, tzinfo=KOLKATA)  # a Friday
    parts = [{"days": ["FRIDAY"], "start_hour": 9, "end_hour": 10}]
    state = stored(KOLKATA, friday_8, Decimal(0), dayparts=parts)
    ad = IndexedAd.build(state, DEFAULT_WEIGHTS, KOLKATA)
    assert servable_at(ad, friday_8, KOLKATA)[0] is False
    assert servable_at(ad, friday_8 + timedelta(hours=1), KOLKATA)[0] is True
    assert servable_at(ad, friday_8 + timedelta(hours=2), KOLKATA)[0] is False


def test_without_controls_the_answer_is_as_before() -> None:
    now = datetime(2025, 9, 12, 8, 0, tzinfo=KOLKATA)
    state = stored(KOLKATA, now, Decimal(0))
    ad = IndexedAd.build(state, DEFAULT_WEIGHTS, KOLKATA)
    boundary = schedules.slot_start(state.spec.schedule, now, KOLKATA) + schedules.SLOT
    assert servable_at(ad, now, KOLKATA) == (True, boundary)
    assert date(2025, 9, 12) == daily.local_day(now, KOLKATA)
