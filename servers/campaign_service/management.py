"""Campaign management: what a campaign manager may do to campaigns, and what they are told.

The flow only; the rules live in the campaign library: validation and instructions.resolve
(what a change means), instructions.apply (what the Ad Manager will make of it), store, kpis
and ordering (what is read and in which order).

A change (create, update, stop) is validated, resolved against the stored campaign and
previewed before anything is published, so a refused change publishes nothing; the change
itself is published to Kafka, keyed by campaign id, and applied by the Ad Manager, which
validates it again when it applies it. What the campaign manager gets back is the preview:
the campaign as it will be, its status reason prefixed with QUEUED.

A read waits at most READ_PATIENCE for MySQL, then is refused UNAVAILABLE (503 with a retry
hint through Envoy, whose campaign deadline is 15 s): a MySQL that hangs gets a campaign
manager an answer, and the next read after it is back succeeds. The listing and the KPI
series tolerate a few seconds' lag and are read from the replica when there is one
(servers/storage/replica.py); a campaign itself is read from the primary, so a campaign
manager sees their own change.

Where protobuf stops: the record on Kafka is a CampaignInstruction carrying the campaign
manager's Campaign message as sent (an update's only the named fields), and only the service
holds that message. So a change is given `encode`, the service's way to turn the checked
Instruction into the record's bytes; this module decides when a record is published (after
everything is checked), under which key (the campaign id) and waits until it is durable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Concatenate, ParamSpec, TypeAlias, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select

from servers import identifiers
from servers.campaigns import delivery, frequency, kpis, ordering, store
from servers.campaigns.instructions import apply, check_mask, resolve
from servers.campaigns.model import Action, FrequencyCap, Instruction
from servers.campaigns.pricing import Weights, cpm
from servers.errors import NotFoundError, UnavailableError, ValidationError
from servers.messaging.publisher import Publisher
from servers.storage.replica import LagTolerantReads
from servers.storage.schema import delivery_samples, delivery_stats, frequency_counts, naive_utc

P = ParamSpec("P")
T = TypeVar("T")
# Encode is how the service turns a checked instruction into its Kafka record's bytes.
Encode: TypeAlias = Callable[[Instruction], bytes]
MAX_PAGE = 1000
DEFAULT_PAGE = 50
DEFAULT_KPI_MINUTES = 60
MAX_KPI_MINUTES = 7 * 24 * 60
QUEUED = "queued for the Ad Manager"
_NEXT = 2**62  # a preview's sequence: after anything stored
READ_PATIENCE = 8.0  # seconds a read waits for MySQL: its pool's ping alone may take 10


@dataclass(frozen=True, slots=True)
class Queued:
    """Queued is a published change: the campaign as it will be once the Ad Manager applies it."""

    preview: store.CampaignRecord  # its status reason says that it is queued
    at: datetime  # the instant the preview was made: its live money is as of then


@dataclass(frozen=True, slots=True)
class Report:
    """Report is a stored campaign with its delivery totals (counted from the feedback)."""

    record: store.CampaignRecord
    totals: kpis.Totals


@dataclass(frozen=True, slots=True)
class Page:
    """Page is one page of a listing, how many campaigns match in all, and the next page's token.

    next_page_token is empty when this page is the last (it holds fewer than asked for).
    """

    reports: list[Report]
    total_size: int
    next_page_token: str


class CampaignManagement:
    """CampaignManagement holds the campaign managers' use cases over MySQL and Kafka."""

    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        topic: str,
        weights: Weights,
        tz: ZoneInfo,
        *,
        read_patience: float = READ_PATIENCE,
        default_cap: FrequencyCap | None = None,
        replica: Engine | None = None,
    ) -> None:
        self.engine = engine
        self.lag_tolerant = LagTolerantReads(engine, replica)  # replica None: the primary
        self.publisher = publisher
        self.topic = topic  # campaign-instructions, which the Ad Manager consumes
        self.weights = weights
        self.tz = tz
        self.read_patience = read_patience
        self.default_cap = default_cap  # settings.frequency_cap: campaigns without their own

    async def create(self, fields: Mapping[str, object], encode: Encode) -> Queued:
        """create checks a new campaign (fields with its canonical id) and publishes New."""
        instruction = resolve(None, Action.NEW, fields, sequence=0)
        return await self._publish(None, instruction, encode)

    async def update(
        self,
        campaign_id: str,
        fields: Mapping[str, object],
        mask: Sequence[str],
        encode: Encode,
    ) -> Queued:
        """update merges the fields mask names over the stored campaign and publishes Update."""
        mask = check_mask(mask)
        if not mask:
            raise ValidationError("update_mask", "names no field to update")
        record = await self._get(campaign_id)
        instruction = resolve(record.state, Action.UPDATE, fields, sequence=_NEXT, mask=mask)
        return await self._publish(record, instruction, encode)

    async def stop(self, campaign_id: str, reason: str, encode: Encode) -> Queued:
        """stop publishes Stop for a known campaign, with the campaign manager's reason."""
        record = await self._get(campaign_id)
        instruction = resolve(record.state, Action.STOP, {}, sequence=_NEXT, reason=reason)
        return await self._publish(record, instruction, encode)

    async def get(self, campaign_id: str) -> Report:
        """get reads one campaign with its delivery totals; NotFoundError if it is unknown."""
        record = await self._get(campaign_id)
        campaign_id = record.state.spec.campaign_id
        totals = await self._read(kpis.totals, [campaign_id])
        return Report(record, totals.get(campaign_id, kpis.Totals()))

    async def page(self, filter_text: str, order_by: str, page_size: int, page_token: str) -> Page:
        """page reads the campaigns matching filter_text in order_by order, after page_token.

        page_size 0 is DEFAULT_PAGE, and no page holds more than MAX_PAGE; a token is only
        good for the order it was made in (ordering.decode_page_token refuses it otherwise).
        """
        if page_size < 0:
            raise ValidationError("page_size", "must not be negative")
        size = min(page_size or DEFAULT_PAGE, MAX_PAGE)
        filters = store.parse_filter(filter_text)
        order = ordering.parse_order_by(order_by)
        after = ordering.decode_page_token(page_token, order) if page_token else None
        records, total, totals = await self._read_lag_tolerant(_page, filters, size, order, after)
        next_token = ""
        if len(records) == size:
            next_token = ordering.encode_page_token(order, store.cursor(records[-1], order))
        reports = [
            Report(record, totals.get(record.state.spec.campaign_id, kpis.Totals()))
            for record in records
        ]
        return Page(reports, total, next_token)

    async def kpi_minutes(self, campaign_id: str, minutes: int) -> list[kpis.KpiPoint]:
        """kpi_minutes reads a known campaign's KPI minutes in the last minutes (0: the default)."""
        if not 0 <= minutes <= MAX_KPI_MINUTES:
            raise ValidationError("minutes", f"must be between 0 and {MAX_KPI_MINUTES}")
        campaign_id = (await self._get(campaign_id)).state.spec.campaign_id
        since = datetime.now(UTC) - timedelta(minutes=minutes or DEFAULT_KPI_MINUTES)
        return await self._read_lag_tolerant(kpis.series, campaign_id, since)

    async def diagnose(self, campaign_id: str, minutes: int) -> delivery.Diagnosis:
        """diagnose says why a known campaign is or is not serving now (minutes 0: the default).

        The campaign, the ad servers' counters over the window and its capped users are read
        on one connection, one statement after another: at READ COMMITTED each sees the latest
        commit, so the figures are milliseconds apart, not of one instant.
        """
        window = delivery.window_minutes(minutes)
        campaign_id = identifiers.campaign_id(campaign_id)
        now = datetime.now(UTC)
        found = await self._read(
            partial(_diagnosis_inputs, now=now, cap=self.default_cap, tz=self.tz),
            campaign_id,
            window,
        )
        if found is None:
            raise NotFoundError("campaign", campaign_id)
        record, counted = found
        return delivery.diagnose(record.state, counted, now, self.tz)

    async def _get(self, campaign_id: str) -> store.CampaignRecord:
        """_get reads a campaign by its canonical id or raises NotFoundError."""
        campaign_id = identifiers.campaign_id(campaign_id)
        record = await self._read(store.get, campaign_id)
        if record is None:
            raise NotFoundError("campaign", campaign_id)
        return record

    async def _publish(
        self, record: store.CampaignRecord | None, instruction: Instruction, encode: Encode
    ) -> Queued:
        """_publish previews instruction, then sends its record and waits until it is durable.

        The preview comes first: it applies the instruction as the Ad Manager will, and a
        change it refuses is never published.
        """
        queued = self._preview(record, instruction)
        value = encode(instruction)
        await self.publisher.publish(self.topic, instruction.spec.campaign_id, value)
        return queued

    def _preview(self, record: store.CampaignRecord | None, instruction: Instruction) -> Queued:
        """_preview is the campaign as it will be once the Ad Manager applies instruction."""
        now = datetime.now(UTC)
        current = None if record is None else record.state
        state = apply(current, instruction, now, self.tz).state
        spec = instruction.spec
        preview = store.CampaignRecord(
            state=replace(state, status_reason=f"{QUEUED}: {state.status_reason}"),
            cpm=cpm(spec.cpc, spec.cpa, self.weights),
            created_at=now if record is None else record.created_at,
            updated_at=now,
        )
        return Queued(preview, now)

    async def _read(
        self, query: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """_read runs a blocking query on a thread, refusing UNAVAILABLE past read_patience.

        The thread itself ends when MySQL answers or the driver's read timeout fails the call.
        """

        def run() -> T:
            with self.engine.connect() as connection:  # a connection of its own, on the thread
                return query(connection, *args, **kwargs)

        return await self._patiently(run)

    async def _read_lag_tolerant(
        self, query: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """_read_lag_tolerant is _read on the replica, or on the primary when it cannot serve."""
        return await self._patiently(partial(self.lag_tolerant.run, query, *args, **kwargs))

    async def _patiently(self, run: Callable[[], T]) -> T:
        """_patiently runs a blocking read on a thread, refusing UNAVAILABLE past read_patience."""
        try:
            return await asyncio.wait_for(asyncio.to_thread(run), self.read_patience)
        except TimeoutError:
            raise UnavailableError("campaigns cannot be read now; retry") from None


def _page(
    connection: Connection,
    filters: Mapping[str, str],
    size: int,
    order: ordering.Order,
    after: ordering.Cursor | None,
) -> tuple[Sequence[store.CampaignRecord], int, dict[str, kpis.Totals]]:
    """_page reads one page of campaigns, how many match in all, and the page's totals."""
    records, total = store.list_page(connection, filters, size, order, after)
    ids = [record.state.spec.campaign_id for record in records]
    return records, total, kpis.totals(connection, ids)


def _diagnosis_inputs(
    connection: Connection,
    campaign_id: str,
    minutes: int,
    *,
    now: datetime,
    cap: FrequencyCap | None,
    tz: ZoneInfo,
) -> tuple[store.CampaignRecord, delivery.Counted] | None:
    """_diagnosis_inputs reads a campaign and its recent counters, or None if it is unknown."""
    record = store.get(connection, campaign_id)
    if record is None:
        return None
    first = delivery.since(now, minutes)
    stats = delivery_stats.c
    sums = connection.execute(
        select(
            func.coalesce(func.sum(stats.matched), 0),
            func.coalesce(func.sum(stats.frequency_capped), 0),
            func.coalesce(func.sum(stats.below_floor), 0),
            func.coalesce(func.sum(stats.entered), 0),
            func.coalesce(func.sum(stats.won), 0),
            func.coalesce(func.sum(stats.outbid_clearing_cpm), 0),
        ).where(stats.campaign_id == campaign_id, stats.minute >= first)
    ).one()
    sampled = connection.execute(
        select(func.coalesce(func.sum(delivery_samples.c.requests), 0)).where(
            delivery_samples.c.minute >= first
        )
    ).scalar_one()
    counted = delivery.Counted(
        minutes=minutes,
        sampled_requests=int(sampled),
        matched=int(sums[0]),
        frequency_capped=int(sums[1]),
        below_floor=int(sums[2]),
        entered=int(sums[3]),
        won=int(sums[4]),
        outbid_clearing_sum=Decimal(sums[5]),
        capped_users=_capped_users(connection, record, now, cap, tz),
    )
    return record, counted


def _capped_users(
    connection: Connection,
    record: store.CampaignRecord,
    now: datetime,
    default_cap: FrequencyCap | None,
    tz: ZoneInfo,
) -> int:
    """_capped_users counts the users at the campaign's effective cap in its current period.

    A count kept from an earlier period does not count (frequency.current_count's rule).
    """
    cap = frequency.effective_cap(record.state.spec.frequency_cap, default_cap)
    if cap is None or cap.max_impressions <= 0:
        return 0
    start = frequency.period_start(cap.period, now, tz)
    counts = frequency_counts.c
    capped = connection.execute(
        select(func.count())
        .select_from(frequency_counts)
        .where(
            counts.campaign_id == record.state.spec.campaign_id,
            counts.period_start >= naive_utc(start),
            counts.impressions >= cap.max_impressions,
        )
    ).scalar_one()
    return int(capped)
