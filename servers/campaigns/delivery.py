"""Delivery diagnostics: why a campaign is or is not serving now (issue 15 item 5).

Pure: the stored campaign, the ad servers' recent counters and an instant in, a Diagnosis
out. The blockers are read by the rules the AdServer applies (servers/adserving/servable.py:
status, remaining budget, the window, the slot budget after pacing.rolled_slot; dayparts.py
and daily.py for dayparts and daily budgets), so a campaign said to be serving is one the
index holds as servable, and each blocker is one reason it is not.

Blockers, most fundamental first (each one listed that holds):

- STOPPED: INACTIVE for any reason but an exhausted budget (a Stop).
- BUDGET_EXHAUSTED: nothing of the lifetime budget remains (or it is INACTIVE for that reason).
- BEFORE_WINDOW / AFTER_WINDOW: now is outside the live window (rule 2).
- OUTSIDE_DAYPART: inside the window but outside every daypart; says when the next starts.
- DAILY_BUDGET_REACHED: today's spend reached the daily budget; resumes at local midnight.
- SLOT_BUDGET_SPENT: EVEN pacing only, inside the window and a daypart, below the daily
  budget: the current 10-minute slot's budget is spent; says when the next slot starts.

The time blockers after the window's (daypart, daily budget, slot budget) are only told
inside the window: outside it they change nothing and would only hide the one that counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from servers.campaigns import daily, dayparts
from servers.campaigns import schedule as schedules
from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import Pacing, Status, StatusReason
from servers.campaigns.pacing import rolled_slot
from servers.errors import ValidationError
from servers.money import MONEY_CONTEXT, ZERO, format_money, quantize_down, scale_down

DEFAULT_MINUTES = 15
MAX_MINUTES = 24 * 60


class Code(StrEnum):
    """Code names a blocker, as DeliveryBlocker.code spells it."""

    STOPPED = "STOPPED"
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"
    BEFORE_WINDOW = "BEFORE_WINDOW"
    AFTER_WINDOW = "AFTER_WINDOW"
    OUTSIDE_DAYPART = "OUTSIDE_DAYPART"
    DAILY_BUDGET_REACHED = "DAILY_BUDGET_REACHED"
    SLOT_BUDGET_SPENT = "SLOT_BUDGET_SPENT"


@dataclass(frozen=True, slots=True)
class Blocker:
    """Blocker is one reason a campaign cannot serve now, in words with figures and times."""

    code: Code
    message: str


@dataclass(frozen=True, slots=True)
class Counted:
    """Counted is what the ad servers counted for a campaign over a window of minutes.

    sampled_requests is over every campaign (delivery_samples); the rest are the campaign's
    (delivery_stats); outbid_clearing_sum is the sum of the clearing CPMs of the sampled
    auctions it entered and lost; capped_users is read from frequency_counts.
    """

    minutes: int
    sampled_requests: int = 0
    matched: int = 0
    frequency_capped: int = 0
    below_floor: int = 0
    entered: int = 0
    won: int = 0
    outbid_clearing_sum: Decimal = ZERO
    capped_users: int = 0


@dataclass(frozen=True, slots=True)
class Recent:
    """Recent is Counted with its shares and the average clearing price of the auctions lost."""

    counted: Counted
    targeting_match_share: float
    outbid_share: float
    outbid_clearing_cpm: Decimal | None  # None: no sampled auction lost


@dataclass(frozen=True, slots=True)
class PacingView:
    """PacingView is a campaign's spend against an even pace over its live window."""

    pacing: Pacing
    spent: Decimal
    expected_spent: Decimal
    spent_today: Decimal
    daily_budget: Decimal | None


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Diagnosis is why a campaign is or is not serving at checked_at."""

    campaign_id: str
    blockers: tuple[Blocker, ...]
    recent: Recent
    pacing: PacingView
    checked_at: datetime

    @property
    def serving(self) -> bool:
        """serving is true when nothing in the campaign's own state keeps it out of auctions."""
        return not self.blockers


def window_minutes(minutes: int) -> int:
    """window_minutes is a request's minutes: 0 is DEFAULT_MINUTES; refused outside 1..1440."""
    if minutes == 0:
        return DEFAULT_MINUTES
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValidationError("minutes", f"must be between 1 and {MAX_MINUTES} (0: 15)")
    return minutes


def since(now: datetime, minutes: int) -> datetime:
    """since is the first minute (naive UTC) a window of minutes ending now counts.

    The window is the current minute, still being counted, and the minutes - 1 before it.
    """
    current = now.astimezone(UTC).replace(tzinfo=None, second=0, microsecond=0)
    return current - timedelta(minutes=minutes - 1)


def _at(moment: datetime, tz: ZoneInfo) -> str:
    """_at writes an instant on the platform's wall clock with its offset."""
    return moment.astimezone(tz).isoformat(timespec="seconds")


def blockers(state: CampaignState, now: datetime, tz: ZoneInfo) -> tuple[Blocker, ...]:
    """blockers are what keeps state's campaign out of auctions at now, most fundamental first."""
    spec = state.spec
    found: list[Blocker] = []
    stopped = state.status_reason != StatusReason.BUDGET_EXHAUSTED
    if state.status is Status.INACTIVE and stopped:
        found.append(Blocker(Code.STOPPED, f"the campaign is INACTIVE: {state.status_reason}"))
    exhausted = state.status is Status.INACTIVE and not stopped
    if state.remaining <= 0 or exhausted:
        found.append(
            Blocker(
                Code.BUDGET_EXHAUSTED,
                f"it spent {format_money(state.spent)} of its budget "
                f"{format_money(spec.budget)}; raise the budget to resume",
            )
        )
    start, end = schedules.utc_window(spec.schedule, tz)
    if now < start:
        found.append(Blocker(Code.BEFORE_WINDOW, f"its window opens at {_at(start, tz)}"))
        return tuple(found)
    if now >= end:
        found.append(Blocker(Code.AFTER_WINDOW, f"its window closed at {_at(end, tz)}"))
        return tuple(found)
    in_daypart = dayparts.in_daypart(spec.dayparts, now, tz)
    if not in_daypart:
        found.append(Blocker(Code.OUTSIDE_DAYPART, _outside_daypart(state, now, end, tz)))
    capped_out = daily.capped_out(state, now, tz)
    if capped_out:
        found.append(_daily_reached(state, now, end, tz))
    if in_daypart and not capped_out and spec.pacing is Pacing.EVEN:
        slot = rolled_slot(state, now, tz)
        if slot.amount <= 0 and state.remaining > 0:
            following = slot.slot_start + schedules.SLOT
            if following < end:
                when = f"the next slot starts at {_at(following, tz)}"
            else:
                when = "this is its window's last slot"
            found.append(
                Blocker(Code.SLOT_BUDGET_SPENT, f"its 10-minute slot budget is spent; {when}")
            )
    return tuple(found)


def _outside_daypart(state: CampaignState, now: datetime, end: datetime, tz: ZoneInfo) -> str:
    """_outside_daypart says when the campaign's next daypart starts inside its window."""
    following = dayparts.next_change(state.spec.dayparts, now, tz)
    if following is None or following >= end:
        return "outside its dayparts, and no daypart starts again before its window closes"
    return f"outside its dayparts; the next starts at {_at(following, tz)}"


def _daily_reached(state: CampaignState, now: datetime, end: datetime, tz: ZoneInfo) -> Blocker:
    """_daily_reached says what was spent today against the cap, and when it resumes."""
    cap = state.spec.daily_budget or ZERO
    spent = daily.spent_today(state, now, tz)
    midnight = daily.next_midnight(now, tz)
    if midnight < end:
        when = f"it resumes at {_at(midnight, tz)}"
    else:
        when = "its window closes before the next day"
    return Blocker(
        Code.DAILY_BUDGET_REACHED,
        f"it spent {format_money(spent)} today, its daily budget is {format_money(cap)}; {when}",
    )


def share(part: int, whole: int) -> float:
    """share is part / whole, 0 without a whole (a display ratio, never money)."""
    return part / whole if whole > 0 else 0.0


def recent(counted: Counted) -> Recent:
    """recent adds the shares and the average clearing price of the auctions lost."""
    lost = max(counted.entered - counted.won, 0)
    average = None
    if lost:
        average = quantize_down(MONEY_CONTEXT.divide(counted.outbid_clearing_sum, Decimal(lost)))
    return Recent(
        counted=counted,
        targeting_match_share=share(counted.matched, counted.sampled_requests),
        outbid_share=share(lost, counted.entered),
        outbid_clearing_cpm=average,
    )


def expected_spent(state: CampaignState, now: datetime, tz: ZoneInfo) -> Decimal:
    """expected_spent is budget times the elapsed share of the live window at now (rounded down).

    0 before the window, the budget from its end on. With dayparts the share is of the
    window's daypart time (its 10-minute steps, dayparts.serving_steps), the time an even
    pace can spend in; a window with no daypart time expects nothing until it ends.
    """
    spec = state.spec
    start, end = schedules.utc_window(spec.schedule, tz)
    if now <= start:
        return ZERO
    if now >= end:
        return spec.budget
    if spec.dayparts:
        elapsed = dayparts.serving_steps(spec.dayparts, start, now, tz)
        total = dayparts.serving_steps(spec.dayparts, start, end, tz)
    else:
        elapsed = (now - start) // timedelta(microseconds=1)
        total = (end - start) // timedelta(microseconds=1)
    if total <= 0:
        return ZERO
    return scale_down(spec.budget, Decimal(elapsed), Decimal(total))


def pacing_view(state: CampaignState, now: datetime, tz: ZoneInfo) -> PacingView:
    """pacing_view is state's spend against an even pace at now."""
    spec = state.spec
    return PacingView(
        pacing=spec.pacing,
        spent=state.spent,
        expected_spent=expected_spent(state, now, tz),
        spent_today=daily.spent_today(state, now, tz),
        daily_budget=spec.daily_budget,
    )


def diagnose(state: CampaignState, counted: Counted, now: datetime, tz: ZoneInfo) -> Diagnosis:
    """diagnose is why state's campaign is or is not serving at now, with its recent counts."""
    return Diagnosis(
        campaign_id=state.spec.campaign_id,
        blockers=blockers(state, now, tz),
        recent=recent(counted),
        pacing=pacing_view(state, now, tz),
        checked_at=now,
    )
