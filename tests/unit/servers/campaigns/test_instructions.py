"""Tests for servers.campaigns.instructions: New / Update / Stop as state transitions (rule 8)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.campaigns.instructions import CampaignState, already_applied, apply, resolve
from servers.campaigns.model import Action, CampaignSpec, Instruction, Status, StatusReason
from servers.campaigns.pacing import fresh_slot
from servers.campaigns.validation import STATUS_REASON_MAX_CHARS, STOP_REASON_MAX_CHARS
from servers.errors import ValidationError

KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = datetime(2025, 9, 12, 10, 0, tzinfo=KOLKATA)

MakeSpec = Callable[..., CampaignSpec]


def run(
    current: CampaignState | None, action: Action, spec: CampaignSpec, sequence: int
) -> CampaignState:
    return apply(current, Instruction(action, spec, sequence), NOW, KOLKATA).state


def spend(state: CampaignState, amount: str) -> CampaignState:
    """spend stands in for the FeedbackService's charges."""
    spent = state.spent + Decimal(amount)
    if spent >= state.spec.budget:
        return dataclasses.replace(
            state, spent=spent, status=Status.INACTIVE, status_reason=StatusReason.BUDGET_EXHAUSTED
        )
    return dataclasses.replace(state, spent=spent)


def test_new_creates_an_active_campaign(make_spec: MakeSpec) -> None:
    spec = make_spec()
    outcome = apply(None, Instruction(Action.NEW, spec, 1), NOW, KOLKATA)
    assert outcome.changed
    state = outcome.state
    assert state.spec == spec
    assert (state.status, state.status_reason) == (Status.ACTIVE, StatusReason.CREATED)
    assert state.spent == 0
    assert state.remaining == spec.budget
    assert state.last_sequence == 1
    assert state.slot == fresh_slot(spec.schedule, spec.budget, NOW, KOLKATA)


def test_new_for_an_existing_campaign_is_an_update(make_spec: MakeSpec) -> None:
    state = spend(run(None, Action.NEW, make_spec(), 1), "100")
    again = run(state, Action.NEW, make_spec(budget="800"), 2)
    assert again.spent == Decimal(100)
    assert again.spec.budget == Decimal(800)
    assert again.status is Status.ACTIVE


def test_update_replaces_fields_and_keeps_spent(make_spec: MakeSpec) -> None:
    state = spend(run(None, Action.NEW, make_spec(budget="500"), 1), "120.5")
    updated = run(state, Action.UPDATE, make_spec(budget="300", cpc="0.001", text="New text"), 2)
    assert updated.spent == Decimal("120.5")
    assert updated.spec.text == "New text"
    assert updated.spec.cpc == Decimal("0.001")
    assert updated.remaining == Decimal("179.5")
    assert (updated.status, updated.status_reason) == (Status.ACTIVE, StatusReason.UPDATED)


def test_update_repaces_the_slot_budget(make_spec: MakeSpec) -> None:
    state = run(None, Action.NEW, make_spec(budget="500"), 1)
    updated = run(state, Action.UPDATE, make_spec(budget="1000"), 2)
    assert updated.slot == fresh_slot(updated.spec.schedule, Decimal(1000), NOW, KOLKATA)
    assert updated.slot.amount > state.slot.amount


def test_update_below_spent_exhausts_the_campaign(make_spec: MakeSpec) -> None:
    state = spend(run(None, Action.NEW, make_spec(budget="500"), 1), "400")
    updated = run(state, Action.UPDATE, make_spec(budget="300"), 2)
    assert updated.remaining == 0
    assert (updated.status, updated.status_reason) == (
        Status.INACTIVE,
        StatusReason.BUDGET_EXHAUSTED,
    )
    assert updated.slot.amount == 0


def test_update_raising_an_exhausted_budget_reactivates(make_spec: MakeSpec) -> None:
    exhausted = spend(run(None, Action.NEW, make_spec(budget="500"), 1), "500")
    assert exhausted.status is Status.INACTIVE
    still = run(exhausted, Action.UPDATE, make_spec(budget="500", cpc="0.002"), 2)
    assert (still.status, still.status_reason) == (Status.INACTIVE, StatusReason.BUDGET_EXHAUSTED)
    raised = run(still, Action.UPDATE, make_spec(budget="700"), 3)
    assert (raised.status, raised.status_reason) == (Status.ACTIVE, StatusReason.BUDGET_RAISED)
    assert raised.remaining == Decimal(200)


def test_update_does_not_restart_a_stopped_campaign(make_spec: MakeSpec) -> None:
    stopped = run(run(None, Action.NEW, make_spec(), 1), Action.STOP, make_spec(), 2)
    updated = run(stopped, Action.UPDATE, make_spec(budget="5000"), 3)
    assert (updated.status, updated.status_reason) == (Status.INACTIVE, StatusReason.STOPPED)
    assert updated.spec.budget == Decimal(5000)


def test_stop_makes_it_inactive_and_changes_nothing_else(make_spec: MakeSpec) -> None:
    state = spend(run(None, Action.NEW, make_spec(), 1), "10")
    stopped = run(state, Action.STOP, make_spec(budget="1", text="ignored"), 2)
    assert (stopped.status, stopped.status_reason) == (
        Status.INACTIVE,
        "stopped by campaign manager",
    )
    assert stopped.spec == state.spec
    assert stopped.spent == Decimal(10)
    assert stopped.last_sequence == 2


def test_stop_of_an_unknown_campaign_records_it_stopped(make_spec: MakeSpec) -> None:
    spec = make_spec()
    state = run(None, Action.STOP, spec, 4)
    assert state.spec == spec
    assert (state.status, state.status_reason) == (Status.INACTIVE, StatusReason.STOPPED)
    assert state.last_sequence == 4


def test_update_of_an_unknown_campaign_creates_it_active(make_spec: MakeSpec) -> None:
    state = run(None, Action.UPDATE, make_spec(), 4)
    assert (state.status, state.status_reason) == (Status.ACTIVE, StatusReason.CREATED)
    assert state.spent == 0


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("sequence", [3, 2, 0])
def test_a_replayed_instruction_changes_nothing(
    make_spec: MakeSpec, action: Action, sequence: int
) -> None:
    state = spend(run(None, Action.NEW, make_spec(), 3), "5")
    replay = Instruction(action, make_spec(budget="1", text="late"), sequence)
    assert already_applied(state, replay.sequence)
    outcome = apply(state, replay, NOW, KOLKATA)
    assert not outcome.changed
    assert outcome.state is state


def stop_at(offset: int, partition: int, record_ms: int, make_spec: MakeSpec) -> Instruction:
    return Instruction(
        Action.STOP, make_spec(), offset, "late", partition=partition, record_ms=record_ms
    )


def test_a_redelivered_record_of_the_same_partition_is_a_replay(make_spec: MakeSpec) -> None:
    new = Instruction(Action.NEW, make_spec(), 40, partition=2, record_ms=5_000)
    state = apply(None, new, NOW, KOLKATA).state
    assert (state.last_sequence, state.last_partition, state.last_record_ms) == (40, 2, 5_000)
    for offset, record_ms in [(40, 5_000), (12, 4_000)]:
        outcome = apply(state, stop_at(offset, 2, record_ms, make_spec), NOW, KOLKATA)
        assert not outcome.changed


@pytest.mark.parametrize(
    ("offset", "partition", "record_ms"),
    [
        (3, 5, 5_000),  # another partition: the partition count changed, or the key did
        (3, 2, 9_000),  # a lower offset but a newer record: the topic was recreated
        (41, 2, 5_000),  # simply the next record
    ],
)
def test_an_instruction_at_an_incomparable_position_is_applied_not_dropped(
    make_spec: MakeSpec, offset: int, partition: int, record_ms: int
) -> None:
    new = Instruction(Action.NEW, make_spec(), 40, partition=2, record_ms=5_000)
    state = apply(None, new, NOW, KOLKATA).state
    outcome = apply(state, stop_at(offset, partition, record_ms, make_spec), NOW, KOLKATA)
    assert outcome.changed
    assert outcome.state.status is Status.INACTIVE
    assert (outcome.state.last_sequence, outcome.state.last_partition) == (offset, partition)


def test_a_stop_reason_that_would_not_fit_its_column_is_refused(make_spec: MakeSpec) -> None:
    state = run(None, Action.NEW, make_spec(), 1)
    longest = "r" * STOP_REASON_MAX_CHARS
    stop = resolve(state, Action.STOP, {}, sequence=2, reason=f"  {longest}  ")
    stopped = apply(state, stop, NOW, KOLKATA).state
    assert len(stopped.status_reason) <= STATUS_REASON_MAX_CHARS
    assert stopped.status_reason.endswith(longest)
    with pytest.raises(ValidationError, match="reason"):
        resolve(state, Action.STOP, {}, sequence=2, reason="r" * (STOP_REASON_MAX_CHARS + 1))
    with pytest.raises(ValidationError, match="reason"):
        resolve(state, Action.STOP, {}, sequence=2, reason="one\nline")


def test_applying_the_same_history_twice_gives_the_same_state(make_spec: MakeSpec) -> None:
    history = [
        Instruction(Action.NEW, make_spec(), 1),
        Instruction(Action.UPDATE, make_spec(budget="900"), 5),
        Instruction(Action.STOP, make_spec(budget="900"), 9),
    ]
    state: CampaignState | None = None
    for instruction in history:
        state = apply(state, instruction, NOW, KOLKATA).state
    replayed = state
    for instruction in history:  # a consumer restarted from an earlier offset
        assert replayed is not None
        replayed = apply(replayed, instruction, NOW, KOLKATA).state
    assert replayed == state


def test_another_campaigns_instruction_is_refused(make_spec: MakeSpec) -> None:
    state = run(None, Action.NEW, make_spec(), 1)
    other = Instruction(Action.UPDATE, make_spec(campaign_id="other-id"), 2)
    with pytest.raises(ValidationError) as caught:
        apply(state, other, NOW, KOLKATA)
    assert caught.value.field == "campaign_id"


def test_remaining_is_never_negative(make_spec: MakeSpec) -> None:
    state = dataclasses.replace(run(None, Action.NEW, make_spec(budget="10"), 1), spent=Decimal(12))
    assert state.remaining == 0


@given(
    actions=st.lists(st.sampled_from(list(Action)), min_size=1, max_size=8),
    budgets=st.lists(st.sampled_from(["100", "500", "900"]), min_size=8, max_size=8),
    data=st.data(),
)
def test_redelivered_instructions_change_nothing(
    make_spec: MakeSpec, actions: list[Action], budgets: list[str], data: st.DataObject
) -> None:
    history = [
        Instruction(action, make_spec(budget=budget), sequence)
        for sequence, (action, budget) in enumerate(zip(actions, budgets, strict=False), start=1)
    ]
    once: CampaignState | None = None
    for instruction in history:
        once = apply(once, instruction, NOW, KOLKATA).state
    # At-least-once delivery: after each message, any earlier message may come again.
    delivered: CampaignState | None = None
    for position, instruction in enumerate(history):
        delivered = apply(delivered, instruction, NOW, KOLKATA).state
        again = data.draw(st.lists(st.sampled_from(history[: position + 1]), max_size=3))
        for duplicate in again:
            outcome = apply(delivered, duplicate, NOW, KOLKATA)
            assert not outcome.changed
            delivered = outcome.state
    assert delivered == once


def test_replaying_the_whole_feed_leaves_each_campaign_as_its_last_message(
    feed_instructions: list[Instruction],
) -> None:
    last: dict[str, Instruction] = {}
    states: dict[str, CampaignState] = {}
    for instruction in feed_instructions:
        campaign_id = instruction.spec.campaign_id
        states[campaign_id] = apply(states.get(campaign_id), instruction, NOW, KOLKATA).state
        last[campaign_id] = instruction
    assert len(states) == 4242
    for campaign_id, state in states.items():
        message = last[campaign_id]
        assert state.spec == message.spec
        assert state.last_sequence == message.sequence
        assert state.spent == 0
        expected = Status.INACTIVE if message.action is Action.STOP else Status.ACTIVE
        assert state.status is expected
