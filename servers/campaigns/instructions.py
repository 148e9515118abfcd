"""Instructions: applying New / Update / Stop to a campaign's state (DESIGN rule 8).

apply is a pure state transition: the stored state (or None) and one Instruction in, the
new state out. Decisions where DESIGN.md is silent:
- Replay: an instruction whose sequence ≤ the state's last_sequence changes nothing.
- New for a campaign that exists is an Update (a retried create is harmless).
- Update of an unknown campaign creates it ACTIVE: feed messages carry every field.
- Update replaces every spec field and keeps spent; budget is the lifetime total.
- Update keeps an INACTIVE campaign INACTIVE, except one exhausted by spending whose new
  budget is above spent: it is reactivated.
- Update (or New) that leaves nothing to spend (budget ≤ spent) makes it INACTIVE, exhausted.
- Stop of a known campaign changes only its status; the message's other fields are ignored.
- Stop of an unknown campaign creates it INACTIVE from the message's fields.
- Every applied instruction re-paces: the slot budget is recomputed at now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from servers.campaigns.model import Action, CampaignSpec, Instruction, Status, StatusReason
from servers.campaigns.pacing import SlotBudget, fresh_slot
from servers.errors import ValidationError
from servers.money import ZERO


@dataclass(frozen=True, slots=True)
class CampaignState:
    """CampaignState is a campaign as stored: its spec, status, spending and pacing."""

    spec: CampaignSpec
    status: Status
    status_reason: str
    spent: Decimal
    slot: SlotBudget
    last_sequence: int  # the sequence of the last instruction applied

    @property
    def remaining(self) -> Decimal:
        """remaining is what the campaign may still spend: budget - spent, never below 0."""
        return max(self.spec.budget - self.spent, ZERO)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Outcome is the state after an instruction; changed is False for a replay."""

    state: CampaignState
    changed: bool


def is_replay(current: CampaignState | None, instruction: Instruction) -> bool:
    """is_replay is true when the stored state already includes this instruction."""
    return current is not None and instruction.sequence <= current.last_sequence


def apply(
    current: CampaignState | None, instruction: Instruction, now: datetime, tz: ZoneInfo
) -> Outcome:
    """apply returns the campaign's state after instruction, at the aware instant now."""
    if current is None:
        return Outcome(_create(instruction, now, tz), changed=True)
    if current.spec.campaign_id != instruction.spec.campaign_id:
        raise ValidationError("campaign_id", "does not match the stored campaign")
    if is_replay(current, instruction):
        return Outcome(current, changed=False)
    if instruction.action is Action.STOP:
        spec, status, reason = current.spec, Status.INACTIVE, str(StatusReason.STOPPED)
    else:
        spec = instruction.spec
        status, reason = _status_after_update(current, spec)
    state = _state(
        spec,
        status=status,
        reason=reason,
        spent=current.spent,
        sequence=instruction.sequence,
        now=now,
        tz=tz,
    )
    return Outcome(state, changed=True)


def _create(instruction: Instruction, now: datetime, tz: ZoneInfo) -> CampaignState:
    if instruction.action is Action.STOP:
        status, reason = Status.INACTIVE, StatusReason.STOPPED
    else:
        status, reason = Status.ACTIVE, StatusReason.CREATED
    return _state(
        instruction.spec,
        status=status,
        reason=str(reason),
        spent=ZERO,
        sequence=instruction.sequence,
        now=now,
        tz=tz,
    )


def _status_after_update(current: CampaignState, spec: CampaignSpec) -> tuple[Status, str]:
    exhausted = spec.budget <= current.spent
    # == rather than is: a state read back from storage may carry plain strings.
    if current.status == Status.INACTIVE:
        if current.status_reason != StatusReason.BUDGET_EXHAUSTED:
            return current.status, current.status_reason  # stopped stays stopped
        if exhausted:
            return Status.INACTIVE, str(StatusReason.BUDGET_EXHAUSTED)
        return Status.ACTIVE, str(StatusReason.BUDGET_RAISED)
    if exhausted:
        return Status.INACTIVE, str(StatusReason.BUDGET_EXHAUSTED)
    return Status.ACTIVE, str(StatusReason.UPDATED)


def _state(
    spec: CampaignSpec,
    *,
    status: Status,
    reason: str,
    spent: Decimal,
    sequence: int,
    now: datetime,
    tz: ZoneInfo,
) -> CampaignState:
    remaining = max(spec.budget - spent, ZERO)
    return CampaignState(
        spec=spec,
        status=status,
        status_reason=reason,
        spent=spent,
        slot=fresh_slot(spec.schedule, remaining, now, tz),
        last_sequence=sequence,
    )
