"""Tests for servers.campaign_service.management: a change is checked whole before it is sent.

Each change (create, update, stop) is validated, resolved against the stored campaign and
previewed; only then is its record encoded and published. A refused change publishes
nothing, and the campaign manager is shown the preview, marked queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest

from servers.campaign_service.management import MAX_PAGE, QUEUED, CampaignManagement
from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import Action, Instruction, Status
from servers.errors import NotFoundError, UnavailableError, ValidationError
from tests.integration.campaign_service.kept import CAMPAIGN_ID, CATEGORY, TOPIC, KeptPublisher

Fields = Callable[..., dict[str, Any]]
Stored = Callable[[Mapping[str, object]], CampaignState]


class Encoder:
    """Encoder stands in for the service's wire form: it remembers each instruction it encodes."""

    def __init__(self) -> None:
        self.encoded: list[Instruction] = []

    def __call__(self, instruction: Instruction) -> bytes:
        self.encoded.append(instruction)
        return f"{instruction.action}|{instruction.spec.campaign_id}".encode()


def test_create_publishes_the_checked_campaign_keyed_by_its_id_and_previews_it(
    management: CampaignManagement, publisher: KeptPublisher, fields: Fields
) -> None:
    encode = Encoder()
    queued = asyncio.run(management.create(fields(), encode))
    assert publisher.sent == [(TOPIC, CAMPAIGN_ID, f"New Campaign|{CAMPAIGN_ID}".encode())]
    assert [i.action for i in encode.encoded] == [Action.NEW]
    state = queued.preview.state
    assert state.status is Status.ACTIVE
    assert state.status_reason == f"{QUEUED}: created by campaign manager"
    assert state.spent == 0 and state.spec.budget == Decimal("500")
    assert queued.preview.created_at == queued.preview.updated_at == queued.at


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"budget": "-1"}, "budget"),
        ({"cpc": "0", "cpa": "0"}, "cpc"),
        ({"target_device": "Toaster"}, "target_device"),
        ({"date_range": None}, "date_range"),
    ],
)
def test_a_refused_create_publishes_nothing(
    management: CampaignManagement,
    publisher: KeptPublisher,
    fields: Fields,
    override: dict[str, Any],
    field: str,
) -> None:
    encode = Encoder()
    with pytest.raises(ValidationError) as refused:
        asyncio.run(management.create(fields(**override), encode))
    assert refused.value.field == field
    assert encode.encoded == [] and publisher.sent == []


def test_an_update_merges_the_named_fields_over_the_stored_campaign(
    management: CampaignManagement, publisher: KeptPublisher, fields: Fields, stored: Stored
) -> None:
    before = stored(fields())
    changes = fields(budget="900", text="ignored: not in the mask")
    queued = asyncio.run(management.update(CAMPAIGN_ID, changes, ["budget"], Encoder()))
    spec = queued.preview.state.spec
    assert spec.budget == Decimal("900") and spec.text == before.spec.text
    assert queued.preview.state.status_reason == f"{QUEUED}: updated by campaign manager"
    assert queued.preview.created_at < queued.at == queued.preview.updated_at
    assert [key for _, key, _ in publisher.sent] == [CAMPAIGN_ID]


BACKWARDS = {"start": "2025-09-13", "end": "2025-09-12"}


@pytest.mark.parametrize(
    "case",
    [
        ([], {}, "update_mask"),
        (["spent"], {"spent": "0"}, "update_mask"),
        (["cpc"], {"cpc": "lots"}, "cpc"),
        (["date_range"], {"date_range": BACKWARDS}, "date_range.end"),
    ],
)
def test_a_refused_update_publishes_nothing(
    management: CampaignManagement,
    publisher: KeptPublisher,
    fields: Fields,
    stored: Stored,
    case: tuple[list[str], dict[str, Any], str],
) -> None:
    mask, changes, field = case
    stored(fields())
    encode = Encoder()
    with pytest.raises(ValidationError) as refused:
        asyncio.run(management.update(CAMPAIGN_ID, fields(**changes), mask, encode))
    assert refused.value.field == field
    assert encode.encoded == [] and publisher.sent == []


def test_a_change_to_an_unknown_campaign_is_not_found_and_publishes_nothing(
    management: CampaignManagement, publisher: KeptPublisher, fields: Fields
) -> None:
    with pytest.raises(NotFoundError):
        asyncio.run(management.update(CAMPAIGN_ID, fields(), ["budget"], Encoder()))
    with pytest.raises(NotFoundError):
        asyncio.run(management.stop(CAMPAIGN_ID, "", Encoder()))
    assert publisher.sent == []


def test_stop_previews_the_stored_campaign_inactive_with_the_reason_as_resolved(
    management: CampaignManagement, publisher: KeptPublisher, fields: Fields, stored: Stored
) -> None:
    stored(fields())
    encode = Encoder()
    queued = asyncio.run(management.stop(f"  {CAMPAIGN_ID} ", "  season over ", encode))
    state = queued.preview.state
    assert state.status is Status.INACTIVE
    assert state.status_reason == f"{QUEUED}: stopped by campaign manager: season over"
    assert [(i.spec.campaign_id, i.reason) for i in encode.encoded] == [
        (CAMPAIGN_ID, "season over")
    ]
    assert [key for _, key, _ in publisher.sent] == [CAMPAIGN_ID]


def test_a_stop_with_a_reason_too_long_publishes_nothing(
    management: CampaignManagement, publisher: KeptPublisher, fields: Fields, stored: Stored
) -> None:
    stored(fields())
    with pytest.raises(ValidationError, match="reason"):
        asyncio.run(management.stop(CAMPAIGN_ID, "x" * 201, Encoder()))
    assert publisher.sent == []


def test_a_change_kafka_does_not_confirm_is_refused_unavailable(
    management: CampaignManagement, publisher: KeptPublisher, fields: Fields
) -> None:
    publisher.refuse = True
    with pytest.raises(UnavailableError, match="Kafka"):
        asyncio.run(management.create(fields(), Encoder()))


def test_get_reads_a_stored_campaign_with_no_feedback_yet_as_zero_totals(
    management: CampaignManagement, fields: Fields, stored: Stored
) -> None:
    state = stored(fields())
    report = asyncio.run(management.get(CAMPAIGN_ID))
    assert report.record.state.spec == state.spec
    assert report.record.state.status_reason == "created by campaign manager"  # not queued
    assert (report.totals.impressions, report.totals.clicks) == (0, 0)
    with pytest.raises(NotFoundError):
        asyncio.run(management.get("no-such-campaign"))


def test_pages_follow_their_tokens_to_the_last_page(
    management: CampaignManagement, fields: Fields, stored: Stored
) -> None:
    ids = [f"{CAMPAIGN_ID}-{n}" for n in range(5)]
    for campaign_id in ids:
        stored(fields(campaign_id=campaign_id))
    seen: list[str] = []
    token = ""
    while True:
        page = asyncio.run(management.page(f"status=ACTIVE category={CATEGORY}", "", 2, token))
        assert page.total_size == 5
        seen += [report.record.state.spec.campaign_id for report in page.reports]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids


@pytest.mark.parametrize(
    "case",
    [
        ("", "", -1, "", "page_size"),
        ("colour=red", "", 0, "", "filter"),
        ("", "nonsense", 0, "", "order_by"),
        ("", "", 0, "not-a-token", "page_token"),
    ],
)
def test_a_listing_asked_wrongly_is_refused_naming_the_field(
    management: CampaignManagement, case: tuple[str, str, int, str, str]
) -> None:
    filter_text, order_by, page_size, token, field = case
    with pytest.raises(ValidationError) as refused:
        asyncio.run(management.page(filter_text, order_by, page_size, token))
    assert refused.value.field == field


def test_a_page_holds_at_most_max_page(
    management: CampaignManagement, fields: Fields, stored: Stored
) -> None:
    stored(fields())
    page = asyncio.run(management.page(f"category={CATEGORY}", "", MAX_PAGE * 10, ""))
    assert len(page.reports) == 1 and page.next_page_token == ""


@pytest.mark.parametrize("minutes", [-1, 7 * 24 * 60 + 1])
def test_kpi_minutes_outside_a_week_are_refused(
    management: CampaignManagement, minutes: int
) -> None:
    with pytest.raises(ValidationError, match="minutes"):
        asyncio.run(management.kpi_minutes(CAMPAIGN_ID, minutes))


def test_kpi_minutes_of_a_campaign_with_none_is_empty(
    management: CampaignManagement, fields: Fields, stored: Stored
) -> None:
    stored(fields())
    assert asyncio.run(management.kpi_minutes(CAMPAIGN_ID, 0)) == []
