"""Tests for servers.campaign_service.service.diagnosis_to_proto: a Diagnosis on the wire."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from servers.campaign_service.service import diagnosis_to_proto
from servers.campaigns import delivery
from servers.campaigns.delivery import Blocker, Code, Counted, Diagnosis, PacingView
from servers.campaigns.model import Pacing

NOW = datetime(2026, 12, 3, 12, 30, tzinfo=UTC)
COUNTED = Counted(
    15,
    sampled_requests=100,
    matched=40,
    frequency_capped=3,
    below_floor=2,
    entered=20,
    won=5,
    outbid_clearing_sum=Decimal("0.0015"),
    capped_users=7,
)
DIAGNOSIS = Diagnosis(
    campaign_id="c1",
    blockers=(),
    recent=delivery.recent(COUNTED),
    pacing=PacingView(
        pacing=Pacing.EVEN,
        spent=Decimal("1.5000000000"),
        expected_spent=Decimal("2.25"),
        spent_today=Decimal("0.5"),
        daily_budget=None,
    ),
    checked_at=NOW,
)


def test_a_serving_campaign_on_the_wire() -> None:
    wire = diagnosis_to_proto(DIAGNOSIS)
    assert wire.campaign_id == "c1"
    assert wire.serving
    assert list(wire.blockers) == []
    assert wire.checked_at.ToDatetime(tzinfo=UTC) == NOW
    recent = wire.recent
    assert (recent.minutes, recent.sampled_requests, recent.targeting_matched) == (15, 100, 40)
    assert recent.targeting_match_share == 0.4
    assert (recent.frequency_capped, recent.below_floor) == (3, 2)
    assert (recent.auctions_entered, recent.auctions_won) == (20, 5)
    assert recent.outbid_share == 0.75
    assert recent.outbid_clearing_cpm == "0.0001"  # 0.0015 over 15 auctions lost
    assert recent.capped_users == 7
    pacing = wire.pacing
    assert (pacing.pacing, pacing.spent, pacing.expected_spent) == ("EVEN", "1.5", "2.25")
    assert (pacing.spent_today, pacing.daily_budget) == ("0.5", "")


def test_blockers_and_absent_prices_on_the_wire() -> None:
    blocked = replace(
        DIAGNOSIS,
        blockers=(Blocker(Code.STOPPED, "stopped"), Blocker(Code.AFTER_WINDOW, "closed")),
        recent=delivery.recent(Counted(30)),
        pacing=replace(DIAGNOSIS.pacing, daily_budget=Decimal("10.0000000000")),
    )
    wire = diagnosis_to_proto(blocked)
    assert not wire.serving
    assert [(b.code, b.message) for b in wire.blockers] == [
        ("STOPPED", "stopped"),
        ("AFTER_WINDOW", "closed"),
    ]
    assert wire.recent.outbid_clearing_cpm == ""
    assert wire.recent.minutes == 30
    assert wire.pacing.daily_budget == "10"
