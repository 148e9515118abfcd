"""The whole campaign feed through Kafka and the Ad Manager, also across a SIGKILL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from clients import feed_loader
from deploy.paths import FEED_CSV
from deploy.stack.services import AdManagerProcess
from servers.campaigns.feed import parse_message
from servers.campaigns.instructions import CampaignState, apply
from servers.settings import Settings
from servers.storage.schema import campaigns
from tests.integration import parts
from tests.polling import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def feed_messages() -> list[dict[str, object]]:
    if not FEED_CSV.is_file():
        pytest.skip(f"campaign feed not found at {FEED_CSV}")
    return feed_loader.read_messages(FEED_CSV, shift_to=datetime.now(UTC).date())


def _with_suffix(messages: list[dict[str, object]], suffix: str) -> list[dict[str, object]]:
    """_with_suffix gives every campaign of the feed a fresh id, so a test owns its campaigns."""
    return [{**m, "campaign_id": f"{m['campaign_id']}{suffix}"} for m in messages]


def _expected(messages: list[dict[str, object]], tz: ZoneInfo) -> dict[str, CampaignState]:
    """_expected replays the feed through the pure rules: each campaign's final state."""
    now = datetime.now(UTC)
    states: dict[str, CampaignState] = {}
    for sequence, message in enumerate(messages, start=1):
        instruction = parse_message(message, sequence)
        campaign_id = instruction.spec.campaign_id
        states[campaign_id] = apply(states.get(campaign_id), instruction, now, tz).state
    return states


def _stored(database: Engine, suffix: str) -> dict[str, dict[str, Any]]:
    query = select(campaigns).where(campaigns.c.campaign_id.like(f"%{suffix}"))
    with database.connect() as connection:
        rows = connection.execute(query).mappings()
        return {row["campaign_id"]: dict(row) for row in rows}


def _assert_matches_feed(
    stack: Settings, database: Engine, messages: list[dict[str, object]], suffix: str
) -> None:
    expected = _expected(messages, ZoneInfo(stack.timezone))
    stored = _stored(database, suffix)
    assert len(expected) == 4242
    assert set(stored) == set(expected)
    for campaign_id, state in expected.items():
        row, spec = stored[campaign_id], state.spec
        assert row["status"] == state.status, campaign_id
        assert row["status_reason"] == state.status_reason, campaign_id
        assert (row["budget"], row["cpc"], row["cpa"]) == (spec.budget, spec.cpc, spec.cpa)
        assert row["spent"] == Decimal(0)
        assert (row["start_date"], row["end_date"]) == (
            spec.schedule.start_date,
            spec.schedule.end_date,
        )
        assert (row["text"], row["category"]) == (spec.text, spec.category), campaign_id
        assert row["target_city"] == spec.targeting.city
        assert row["target_device"] == spec.targeting.device


def _applied_count(database: Engine, suffix: str) -> int:
    return len(_stored(database, suffix))


def test_whole_feed_ends_in_each_campaigns_last_state(
    stack: Settings, database: Engine, feed_messages: list[dict[str, object]]
) -> None:
    suffix = "-full"
    messages = _with_suffix(feed_messages, suffix)
    result = feed_loader.publish(stack, messages)
    assert result.messages == 7677
    feed_loader.wait_applied(stack, result.end_offsets, timeout=180)
    _assert_matches_feed(stack, database, messages, suffix)


def test_sigkill_mid_feed_still_ends_exactly_right(
    stack: Settings, database: Engine, feed_messages: list[dict[str, object]]
) -> None:
    suffix = "-kill"
    messages = _with_suffix(feed_messages, suffix)
    ad_manager = AdManagerProcess(stack)
    result = feed_loader.publish(stack, messages)
    eventually(lambda: _applied_count(database, suffix) > 1000, timeout=120, interval=0.1)
    before = parts.processes(stack)
    ad_manager.process.kill()
    partially = _applied_count(database, suffix)
    assert partially < 4242, "the feed finished before the kill; the test proves nothing"
    parts.restarted(stack, ad_manager.name, before)  # by supervision, no `stack up`
    parts.unchanged_except(stack, before, ad_manager.name)
    feed_loader.wait_applied(stack, result.end_offsets, timeout=180)
    _assert_matches_feed(stack, database, messages, suffix)
