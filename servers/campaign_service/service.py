"""CampaignService servicer: campaign managers' requests in, protobuf answers out.

management.py does the work; this module translates. It checks what only the protobuf
form shows (a read-only field that is set, an update's implicit mask, a request's field
paths such as `campaign.campaign_id`), hands the domain plain values, and renders what it
gets back with servers.campaigns.wire. It also encodes a change's Kafka record (`_record`),
because that record carries the campaign manager's Campaign message as sent.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import TypeAlias
from zoneinfo import ZoneInfo

import grpc
from adplatform.v1 import campaign_pb2, campaign_service_pb2, campaign_service_pb2_grpc

from servers import identifiers
from servers.campaign_service.management import CampaignManagement, Queued, Report
from servers.campaigns import delivery
from servers.campaigns.model import Instruction
from servers.campaigns.wire import (
    campaign_fields,
    encode_instruction,
    kpi_point_to_proto,
    refuse_read_only,
    set_fields,
    stats_to_proto,
    to_proto,
)
from servers.errors import ValidationError
from servers.money import format_money

Context: TypeAlias = "grpc.aio.ServicerContext[object, object]"


class CampaignService(campaign_service_pb2_grpc.CampaignServiceServicer):
    """CampaignService is the campaign managers' API."""

    def __init__(self, management: CampaignManagement, tz: ZoneInfo) -> None:
        self.management = management
        self.tz = tz  # a campaign's current slot budget is rendered in the platform's zone

    async def CreateCampaign(  # noqa: N802
        self, request: campaign_service_pb2.CreateCampaignRequest, context: Context
    ) -> campaign_service_pb2.CreateCampaignResponse:
        """CreateCampaign validates the campaign and publishes New Campaign."""
        refuse_read_only(request.campaign, "campaign")
        campaign = campaign_pb2.Campaign()
        campaign.CopyFrom(request.campaign)
        if not campaign.campaign_id:
            campaign.campaign_id = str(uuid.uuid4())
        campaign.campaign_id = identifiers.campaign_id(campaign.campaign_id, "campaign.campaign_id")
        queued = await self.management.create(
            campaign_fields(campaign), partial(_record, campaign, ())
        )
        return campaign_service_pb2.CreateCampaignResponse(campaign=self._preview(queued))

    async def UpdateCampaign(  # noqa: N802
        self, request: campaign_service_pb2.UpdateCampaignRequest, context: Context
    ) -> campaign_service_pb2.UpdateCampaignResponse:
        """UpdateCampaign validates the merged campaign and publishes Update Campaign."""
        campaign_id = identifiers.campaign_id(
            request.campaign_id or request.campaign.campaign_id, "campaign_id"
        )
        if request.campaign.campaign_id:
            named = identifiers.campaign_id(request.campaign.campaign_id, "campaign.campaign_id")
            if named != campaign_id:
                raise ValidationError("campaign.campaign_id", "does not match the path")
        refuse_read_only(request.campaign, "campaign")
        mask = tuple(request.update_mask.paths) or set_fields(request.campaign)
        campaign = campaign_pb2.Campaign()
        campaign.CopyFrom(request.campaign)
        campaign.campaign_id = campaign_id
        queued = await self.management.update(
            campaign_id, campaign_fields(campaign), mask, partial(_record, campaign, mask)
        )
        return campaign_service_pb2.UpdateCampaignResponse(campaign=self._preview(queued))

    async def StopCampaign(  # noqa: N802
        self, request: campaign_service_pb2.StopCampaignRequest, context: Context
    ) -> campaign_service_pb2.StopCampaignResponse:
        """StopCampaign publishes Stop Campaign for a known campaign."""
        queued = await self.management.stop(
            request.campaign_id, request.reason, partial(_record, campaign_pb2.Campaign(), ())
        )
        return campaign_service_pb2.StopCampaignResponse(campaign=self._preview(queued))

    async def GetCampaign(  # noqa: N802
        self, request: campaign_service_pb2.GetCampaignRequest, context: Context
    ) -> campaign_service_pb2.GetCampaignResponse:
        """GetCampaign reads one campaign with its live money and delivery totals."""
        report = await self.management.get(request.campaign_id)
        campaign = self._report(report, datetime.now(UTC))
        return campaign_service_pb2.GetCampaignResponse(campaign=campaign)

    async def ListCampaigns(  # noqa: N802
        self, request: campaign_service_pb2.ListCampaignsRequest, context: Context
    ) -> campaign_service_pb2.ListCampaignsResponse:
        """ListCampaigns reads a page of campaigns matching the filter, in order_by order."""
        page = await self.management.page(
            request.filter, request.order_by, request.page_size, request.page_token
        )
        now = datetime.now(UTC)
        return campaign_service_pb2.ListCampaignsResponse(
            campaigns=[self._report(report, now) for report in page.reports],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def GetCampaignKpis(  # noqa: N802
        self, request: campaign_service_pb2.GetCampaignKpisRequest, context: Context
    ) -> campaign_service_pb2.GetCampaignKpisResponse:
        """GetCampaignKpis reads the campaign's KPI minutes in the last `minutes` minutes."""
        points = await self.management.kpi_minutes(request.campaign_id, request.minutes)
        return campaign_service_pb2.GetCampaignKpisResponse(
            points=[kpi_point_to_proto(point) for point in points]
        )

    async def DiagnoseCampaign(  # noqa: N802
        self, request: campaign_service_pb2.DiagnoseCampaignRequest, context: Context
    ) -> campaign_service_pb2.DiagnoseCampaignResponse:
        """DiagnoseCampaign says why the campaign is or is not serving now, with recent counts."""
        diagnosis = await self.management.diagnose(request.campaign_id, request.minutes)
        return diagnosis_to_proto(diagnosis)

    def _preview(self, queued: Queued) -> campaign_pb2.Campaign:
        """_preview renders a queued change's preview with its money as of the preview."""
        return to_proto(queued.preview, queued.at, self.tz)

    def _report(self, report: Report, now: datetime) -> campaign_pb2.Campaign:
        """_report renders a stored campaign with its live money as of now and its totals."""
        campaign = to_proto(report.record, now, self.tz)
        campaign.stats.CopyFrom(stats_to_proto(report.totals))
        return campaign


def diagnosis_to_proto(
    diagnosis: delivery.Diagnosis,
) -> campaign_service_pb2.DiagnoseCampaignResponse:
    """diagnosis_to_proto renders a diagnosis; money as decimal strings, empty when absent."""
    counted, found = diagnosis.recent.counted, diagnosis.recent
    pacing = diagnosis.pacing
    response = campaign_service_pb2.DiagnoseCampaignResponse(
        campaign_id=diagnosis.campaign_id,
        serving=diagnosis.serving,
        blockers=[
            campaign_service_pb2.DeliveryBlocker(code=str(blocker.code), message=blocker.message)
            for blocker in diagnosis.blockers
        ],
        recent=campaign_service_pb2.DeliveryStats(
            minutes=counted.minutes,
            sampled_requests=counted.sampled_requests,
            targeting_matched=counted.matched,
            targeting_match_share=found.targeting_match_share,
            frequency_capped=counted.frequency_capped,
            below_floor=counted.below_floor,
            auctions_entered=counted.entered,
            auctions_won=counted.won,
            outbid_share=found.outbid_share,
            outbid_clearing_cpm=_money(found.outbid_clearing_cpm),
            capped_users=counted.capped_users,
        ),
        pacing=campaign_service_pb2.DeliveryPacing(
            pacing=str(pacing.pacing),
            spent=format_money(pacing.spent),
            expected_spent=format_money(pacing.expected_spent),
            spent_today=format_money(pacing.spent_today),
            daily_budget=_money(pacing.daily_budget),
        ),
    )
    response.checked_at.FromDatetime(diagnosis.checked_at)
    return response


def _money(amount: Decimal | None) -> str:
    """_money is an optional amount on the wire: empty when there is none."""
    return "" if amount is None else format_money(amount)


def _record(campaign: campaign_pb2.Campaign, mask: tuple[str, ...], checked: Instruction) -> bytes:
    """_record is the Kafka record of a checked instruction: campaign as sent, under its id.

    campaign is what the campaign manager sent (none of it for a Stop); the id and the Stop's
    reason are the instruction's, as resolved against the stored campaign. Each record gets
    a fresh instruction id and its issue time as it is encoded, just before it is published.
    """
    message = campaign_pb2.Campaign()
    message.CopyFrom(campaign)
    message.campaign_id = checked.spec.campaign_id
    return encode_instruction(
        checked.action,
        message,
        mask=mask,
        reason=checked.reason,
        instruction_id=str(uuid.uuid4()),
        issued_at=datetime.now(UTC),
    )
