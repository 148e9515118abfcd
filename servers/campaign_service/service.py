"""CampaignService: validates campaign managers' requests and publishes instructions.

Writes go to Kafka (keyed by campaign id) and are applied by the Ad Manager; reads come from
MySQL. Validation happens here so a bad request is refused with the field named and nothing
published; the Ad Manager validates again when it applies. A read waits at most
READ_PATIENCE for MySQL, then is refused UNAVAILABLE (503 with a retry hint through Envoy,
whose campaign deadline is 15 s): a MySQL that hangs gets a campaign manager an answer, and
the next read after it is back succeeds.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeAlias, TypeVar
from zoneinfo import ZoneInfo

import grpc
from adplatform.v1 import campaign_pb2, campaign_service_pb2, campaign_service_pb2_grpc
from sqlalchemy import Engine

from servers import identifiers
from servers.campaigns import kpis, ordering, store
from servers.campaigns.instructions import apply, check_mask, resolve
from servers.campaigns.model import Action, Instruction
from servers.campaigns.pricing import Weights, cpm
from servers.campaigns.wire import (
    campaign_fields,
    encode_instruction,
    kpi_point_to_proto,
    refuse_read_only,
    set_fields,
    stats_to_proto,
    to_proto,
)
from servers.errors import NotFoundError, UnavailableError, ValidationError
from servers.messaging.publisher import Publisher

Context: TypeAlias = "grpc.aio.ServicerContext[object, object]"
T = TypeVar("T")
MAX_PAGE = 1000
DEFAULT_PAGE = 50
DEFAULT_KPI_MINUTES = 60
MAX_KPI_MINUTES = 7 * 24 * 60
QUEUED = "queued for the Ad Manager"
_NEXT = 2**62  # a preview's sequence: after anything stored
READ_PATIENCE = 8.0  # seconds a read waits for MySQL: its pool's ping alone may take 10


class CampaignService(campaign_service_pb2_grpc.CampaignServiceServicer):
    """CampaignService is the campaign managers' API."""

    def __init__(
        self, engine: Engine, publisher: Publisher, topic: str, weights: Weights, tz: ZoneInfo
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.topic = topic
        self.weights = weights
        self.tz = tz

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
        instruction = resolve(None, Action.NEW, campaign_fields(campaign), sequence=0)
        preview = self._preview(None, instruction)  # everything checked before publishing
        await self._publish(Action.NEW, campaign)
        return campaign_service_pb2.CreateCampaignResponse(campaign=preview)

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
        mask = check_mask(tuple(request.update_mask.paths) or set_fields(request.campaign))
        if not mask:
            raise ValidationError("update_mask", "names no field to update")
        record = await self._get(campaign_id)
        campaign = campaign_pb2.Campaign()
        campaign.CopyFrom(request.campaign)
        campaign.campaign_id = campaign_id
        fields = campaign_fields(campaign)
        instruction = resolve(record.state, Action.UPDATE, fields, sequence=_NEXT, mask=mask)
        preview = self._preview(record, instruction)
        await self._publish(Action.UPDATE, campaign, mask=mask)
        return campaign_service_pb2.UpdateCampaignResponse(campaign=preview)

    async def StopCampaign(  # noqa: N802
        self, request: campaign_service_pb2.StopCampaignRequest, context: Context
    ) -> campaign_service_pb2.StopCampaignResponse:
        """StopCampaign publishes Stop Campaign for a known campaign."""
        record = await self._get(request.campaign_id)
        campaign = campaign_pb2.Campaign(campaign_id=record.state.spec.campaign_id)
        instruction = resolve(record.state, Action.STOP, {}, sequence=_NEXT, reason=request.reason)
        preview = self._preview(record, instruction)
        await self._publish(Action.STOP, campaign, reason=instruction.reason)
        return campaign_service_pb2.StopCampaignResponse(campaign=preview)

    async def GetCampaign(  # noqa: N802
        self, request: campaign_service_pb2.GetCampaignRequest, context: Context
    ) -> campaign_service_pb2.GetCampaignResponse:
        """GetCampaign reads one campaign with its live money and delivery totals."""
        record = await self._get(request.campaign_id)
        campaign_id = record.state.spec.campaign_id

        def read() -> dict[str, kpis.Totals]:
            with self.engine.connect() as connection:
                return kpis.totals(connection, [campaign_id])

        totals = await _read(read)
        campaign = to_proto(record, datetime.now(UTC), self.tz)
        campaign.stats.CopyFrom(stats_to_proto(totals.get(campaign_id, kpis.Totals())))
        return campaign_service_pb2.GetCampaignResponse(campaign=campaign)

    async def ListCampaigns(  # noqa: N802
        self, request: campaign_service_pb2.ListCampaignsRequest, context: Context
    ) -> campaign_service_pb2.ListCampaignsResponse:
        """ListCampaigns reads a page of campaigns matching the filter, in order_by order."""
        if request.page_size < 0:
            raise ValidationError("page_size", "must not be negative")
        page_size = min(request.page_size or DEFAULT_PAGE, MAX_PAGE)
        filters = store.parse_filter(request.filter)
        order = ordering.parse_order_by(request.order_by)
        after = None
        if request.page_token:
            after = ordering.decode_page_token(request.page_token, order)

        def read() -> tuple[list[store.CampaignRecord], int, dict[str, kpis.Totals]]:
            with self.engine.connect() as connection:
                records, total = store.list_page(connection, filters, page_size, order, after)
                ids = [record.state.spec.campaign_id for record in records]
                return list(records), total, kpis.totals(connection, ids)

        records, total, totals = await _read(read)
        now = datetime.now(UTC)
        next_token = ""
        if len(records) == page_size:
            next_token = ordering.encode_page_token(order, store.cursor(records[-1], order))
        page = []
        for record in records:
            campaign = to_proto(record, now, self.tz)
            stats = totals.get(campaign.campaign_id, kpis.Totals())
            campaign.stats.CopyFrom(stats_to_proto(stats))
            page.append(campaign)
        return campaign_service_pb2.ListCampaignsResponse(
            campaigns=page, next_page_token=next_token, total_size=total
        )

    async def GetCampaignKpis(  # noqa: N802
        self, request: campaign_service_pb2.GetCampaignKpisRequest, context: Context
    ) -> campaign_service_pb2.GetCampaignKpisResponse:
        """GetCampaignKpis reads the campaign's KPI minutes in the last `minutes` minutes."""
        if not 0 <= request.minutes <= MAX_KPI_MINUTES:
            raise ValidationError("minutes", f"must be between 0 and {MAX_KPI_MINUTES}")
        campaign_id = (await self._get(request.campaign_id)).state.spec.campaign_id
        since = datetime.now(UTC) - timedelta(minutes=request.minutes or DEFAULT_KPI_MINUTES)

        def read() -> list[kpis.KpiPoint]:
            with self.engine.connect() as connection:
                return kpis.series(connection, campaign_id, since)

        points = await _read(read)
        return campaign_service_pb2.GetCampaignKpisResponse(
            points=[kpi_point_to_proto(point) for point in points]
        )

    async def _get(self, campaign_id: str) -> store.CampaignRecord:
        """_get reads a campaign by its canonical id or raises NotFoundError."""
        campaign_id = identifiers.campaign_id(campaign_id)

        def read() -> store.CampaignRecord | None:
            with self.engine.connect() as connection:
                return store.get(connection, campaign_id)

        record = await _read(read)
        if record is None:
            raise NotFoundError("campaign", campaign_id)
        return record

    def _preview(
        self, record: store.CampaignRecord | None, instruction: Instruction
    ) -> campaign_pb2.Campaign:
        """_preview is the campaign as it will be once the Ad Manager applies instruction."""
        now = datetime.now(UTC)
        current = None if record is None else record.state
        state = apply(current, instruction, now, self.tz).state
        spec = instruction.spec
        preview = store.CampaignRecord(
            state=state,
            cpm=cpm(spec.cpc, spec.cpa, self.weights),
            created_at=now if record is None else record.created_at,
            updated_at=now,
        )
        campaign = to_proto(preview, now, self.tz)
        campaign.status_reason = f"{QUEUED}: {state.status_reason}"
        return campaign

    async def _publish(
        self,
        action: Action,
        campaign: campaign_pb2.Campaign,
        mask: tuple[str, ...] = (),
        reason: str = "",
    ) -> None:
        """_publish sends the instruction keyed by campaign id and waits until it is durable."""
        value = encode_instruction(
            action,
            campaign,
            mask=mask,
            reason=reason,
            instruction_id=str(uuid.uuid4()),
            issued_at=datetime.now(UTC),
        )
        await self.publisher.publish(self.topic, campaign.campaign_id, value)


async def _read(read: Callable[[], T]) -> T:
    """_read runs a blocking read on a thread, refusing UNAVAILABLE past READ_PATIENCE.

    The thread itself ends when MySQL answers or the driver's read timeout fails the call.
    """
    try:
        return await asyncio.wait_for(asyncio.to_thread(read), READ_PATIENCE)
    except TimeoutError:
        raise UnavailableError("campaigns cannot be read now; retry") from None
