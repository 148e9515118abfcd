"""The pacer against real MySQL: stale slot budgets are rolled over, also across a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from deploy.stack import launcher
from deploy.stack.services import AdManagerProcess
from servers.admanager.pacer import Pacer, due
from servers.campaigns import store
from servers.campaigns.pacing import SlotBudget, fresh_slot
from servers.campaigns.schedule import SLOT
from servers.settings import Settings
from servers.storage.schema import campaigns as campaigns_table
from tests.fixtures.database import update_campaign
from tests.integration import campaigns
from tests.polling import eventually

pytestmark = pytest.mark.integration


def _stored_slot(database: Engine, campaign_id: str) -> SlotBudget:
    with database.connect() as connection:
        record = store.get(connection, campaign_id)
    assert record is not None
    return record.state.slot


def _make_stale(database: Engine, campaign_id: str, spent: str) -> None:
    """_make_stale puts the stored slot at the window's first slot, spent, as if long unpaced."""
    update_campaign(
        database,
        campaign_id,
        slot_start=campaigns_table.c.window_start,
        slot_budget=0,
        spent=Decimal(spent),
    )


def _expected_slot(database: Engine, campaign_id: str, at: datetime, tz: ZoneInfo) -> SlotBudget:
    """_expected_slot is rule 7 at the instant at: remaining budget over the remaining slots."""
    with database.connect() as connection:
        record = store.get(connection, campaign_id)
    assert record is not None
    state = record.state
    return fresh_slot(state.spec.schedule, state.remaining, at, tz)


def test_pace_rolls_stale_slots_over_and_leaves_current_ones(
    stack: Settings, database: Engine
) -> None:
    stale = campaigns.create(stack, budget="720")
    current = campaigns.create(stack, budget="720")
    _make_stale(database, stale.campaign_id, spent="0.5")
    try:
        _pace_and_check(stack, database, stale.campaign_id, current.campaign_id)
    finally:  # nothing was charged: keep MySQL's spent total equal to what was billed
        _make_stale(database, stale.campaign_id, spent="0")


def _pace_and_check(stack: Settings, database: Engine, stale_id: str, current_id: str) -> None:
    """_pace_and_check runs the pacer once and checks the stale slot alone was rolled over."""
    tz = ZoneInfo(stack.timezone)
    before = _stored_slot(database, current_id)
    now = datetime.now(UTC)
    with database.connect() as connection:
        assert stale_id in due(connection, now)
        assert current_id not in due(connection, now)

    rolled, boundary = Pacer(database, tz).pace(now)

    assert rolled >= 1
    slot = _stored_slot(database, stale_id)
    assert slot == _expected_slot(database, stale_id, now, tz)
    read_back = campaigns.get(stack, stale_id)
    assert read_back is not None and read_back.spent == "0.5"  # pacing never touches spent
    assert slot.amount > Decimal(0)
    assert slot.slot_start <= now < slot.slot_start + SLOT
    assert _stored_slot(database, current_id) == before
    assert boundary is not None and boundary > now
    with database.connect() as connection:
        assert stale_id not in due(connection, now)


def test_the_ad_manager_paces_at_start_so_a_restart_catches_up(
    stack: Settings, database: Engine
) -> None:
    tz = ZoneInfo(stack.timezone)
    campaign = campaigns.create(stack, budget="720")
    ad_manager = AdManagerProcess(stack)
    ad_manager.process.stop()
    _make_stale(database, campaign.campaign_id, spent="0")
    launcher.up(stack, report=lambda line: None)

    def paced() -> SlotBudget | None:
        slot = _stored_slot(database, campaign.campaign_id)
        return slot if slot.amount > 0 else None

    slot = eventually(paced, timeout=15)
    now = datetime.now(UTC)
    assert slot.slot_start <= now < slot.slot_start + 2 * SLOT  # the slot it was paced in
    assert slot == _expected_slot(database, campaign.campaign_id, slot.slot_start, tz)
