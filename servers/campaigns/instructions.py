"""Instructions: applying New / Update / Stop to a campaign's state (docs/design.md rule 8).

apply is a pure state transition: the stored state (or None) and one Instruction in, the
new state out. Decisions where docs/design.md rule 8 is silent:
- Replay: an instruction at or before the stored position changes nothing. Positions are
  compared only where they are comparable: the same partition, and a record no newer than
  the one applied (a recreated topic starts its offsets over, with newer records). An
  instruction from another partition (the partition count changed) or a newer record at a
  lower offset is applied: an instruction is never dropped for a position it cannot be
  ordered against.
- New for a campaign that exists is an Update (a retried create is harmless).
- Update of an unknown campaign creates it ACTIVE: feed messages carry every field.
- Update replaces every spec field and keeps spent; budget is the lifetime total.
- Update keeps an INACTIVE campaign INACTIVE, except one exhausted by spending whose new
  budget is above spent: it is reactivated.
- Update (or New) that leaves nothing to spend (budget ≤ spent) makes it INACTIVE, exhausted.
- Stop of a known campaign changes only its status; the message's other fields are ignored.
- Stop of an unknown campaign creates it INACTIVE from the message's fields.
- A Stop's reason, when given, is appended to the status reason.
- Every applied instruction re-paces: the slot budget is recomputed at now (pacing.fresh_slot_for,
  with the delivery controls and what was spent today).
- What was spent today is kept, like spent: an Update never resets a daily budget's day.

resolve builds the Instruction a message means given the stored state: a partial Update
(an update mask) replaces only the named fields; a Stop of a known campaign needs no fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from servers.campaigns import daily
from servers.campaigns.model import (
    NO_PARTITION,
    Action,
    CampaignSpec,
    Instruction,
    Status,
    StatusReason,
)
from servers.campaigns.pacing import SlotBudget, fresh_slot_for
from servers.campaigns.validation import parse_reason, spec_fields, validate_spec
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
    last_partition: int = NO_PARTITION  # ... and the partition it came from
    last_record_ms: int = 0  # ... and its record timestamp
    spent_today: Decimal = ZERO  # spent on the local day spent_day (daily.spent_today reads it)
    spent_day: date | None = None  # None: nothing spent yet

    @property
    def remaining(self) -> Decimal:
        """remaining is what the campaign may still spend: budget - spent, never below 0."""
        return max(self.spec.budget - self.spent, ZERO)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Outcome is the state after an instruction; changed is False for a replay."""

    state: CampaignState
    changed: bool


def already_applied(
    current: CampaignState | None,
    sequence: int,
    partition: int = NO_PARTITION,
    record_ms: int = 0,
) -> bool:
    """already_applied is true when the stored state includes the instruction at a position.

    Only comparable positions can be: the same partition, and a record no newer than the
    last one applied (see the module's Replay rule).
    """
    return (
        current is not None
        and partition == current.last_partition
        and sequence <= current.last_sequence
        and record_ms <= current.last_record_ms
    )


def apply(
    current: CampaignState | None, instruction: Instruction, now: datetime, tz: ZoneInfo
) -> Outcome:
    """apply returns the campaign's state after instruction, at the aware instant now."""
    if current is None:
        return Outcome(_create(instruction, now, tz), changed=True)
    if current.spec.campaign_id != instruction.spec.campaign_id:
        raise ValidationError("campaign_id", "does not match the stored campaign")
    if already_applied(current, instruction.sequence, instruction.partition, instruction.record_ms):
        return Outcome(current, changed=False)
    if instruction.action is Action.STOP:
        spec, status, reason = current.spec, Status.INACTIVE, _stop_reason(instruction)
    else:
        spec = instruction.spec
        status, reason = _status_after_update(current, spec)
    state = _state(
        spec,
        status=status,
        reason=reason,
        spent=current.spent,
        source=instruction,
        now=now,
        tz=tz,
        spent_today=daily.spent_today(current, now, tz),
        spent_day=daily.local_day(now, tz) if current.spent_day is not None else None,
    )
    return Outcome(state, changed=True)


def _stop_reason(instruction: Instruction) -> str:
    if instruction.reason:
        return f"{StatusReason.STOPPED}: {instruction.reason}"
    return str(StatusReason.STOPPED)


def _create(instruction: Instruction, now: datetime, tz: ZoneInfo) -> CampaignState:
    if instruction.action is Action.STOP:
        status, reason = Status.INACTIVE, _stop_reason(instruction)
    else:
        status, reason = Status.ACTIVE, str(StatusReason.CREATED)
    return _state(
        instruction.spec,
        status=status,
        reason=reason,
        spent=ZERO,
        source=instruction,
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
    source: Instruction,
    now: datetime,
    tz: ZoneInfo,
    spent_today: Decimal = ZERO,
    spent_day: date | None = None,
) -> CampaignState:
    state = CampaignState(
        spec=spec,
        status=status,
        status_reason=reason,
        spent=spent,
        slot=SlotBudget(now, ZERO),  # paced below, with what was spent today
        last_sequence=source.sequence,
        last_partition=source.partition,
        last_record_ms=source.record_ms,
        spent_today=spent_today,
        spent_day=spent_day,
    )
    return dataclasses.replace(state, slot=fresh_slot_for(state, now, tz))


# Fields an Update may name in its mask: every spec field but the id.
UPDATABLE_FIELDS = (
    "text",
    "category",
    "keywords",
    "target_gender",
    "target_age_range",
    "target_city",
    "target_state",
    "target_country",
    "target_income_bucket",
    "target_device",
    "cpc",
    "cpa",
    "budget",
    "date_range",
    "time_range",
    "frequency_cap",
    "pacing",
    "daily_budget",
    "dayparts",
)


def check_mask(mask: Sequence[str]) -> tuple[str, ...]:
    """check_mask refuses unknown or read-only field names in an update mask."""
    for path in mask:
        if path not in UPDATABLE_FIELDS:
            raise ValidationError("update_mask", f"{path!r} cannot be updated")
    return tuple(mask)


def resolve(
    current: CampaignState | None,
    action: Action,
    fields: Mapping[str, object],
    *,
    sequence: int,
    mask: Sequence[str] | None = None,
    reason: str = "",
    allow_blank_text: bool = False,
    partition: int = NO_PARTITION,
    record_ms: int = 0,
) -> Instruction:
    """resolve validates a message's fields into the Instruction it means for current.

    mask (an Update's named fields) merges them over the stored spec; a Stop of a stored
    campaign keeps its spec, so a Stop may carry nothing but the campaign id. partition and
    record_ms say where the message sat in the log (see already_applied).
    """
    reason = parse_reason(reason)
    if current is not None and action is Action.STOP:
        spec = current.spec
    else:
        if mask is not None:
            if current is None:
                campaign_id = str(fields.get("campaign_id", ""))
                raise ValidationError("campaign_id", f"campaign {campaign_id!r} does not exist")
            changes = {path: fields.get(path) for path in check_mask(mask)}
            fields = {**spec_fields(current.spec), **changes}
        spec = validate_spec(fields, allow_blank_text=allow_blank_text)
    return Instruction(action, spec, sequence, reason, partition=partition, record_ms=record_ms)
