"""The run's traffic: simulated devices through Envoy, and campaign managers through the API.

Devices are the classic simulator's (clients/simulator): its behaviour, pacing and retries,
feedback retried with the same request id until answered. A recording transport wraps its
Envoy transport and notes every attempt in the call log and every answer in the ledgers
the books are checked against. The run stops the devices between two ads, never between an
ad and its feedback.

Campaign managers create and update campaigns through Envoy's JSON API with a bearer token;
every instruction answered 200 is recorded as accepted, with a marker (its text, or a stop's
reason) that finds it again on Kafka and in MySQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from clients.chaos import books
from clients.chaos.windows import FEEDBACK, SERVE, CallLog
from clients.simulator.behaviour import Behaviour
from clients.simulator.run import Simulation
from clients.simulator.stats import Stats
from clients.simulator.transports import Ad, EnvoyTransport, Receipt, Transport
from servers.settings import Settings

API_TIMEOUT = 20.0  # Envoy's campaign deadline is 15 s
RETRYABLE_HTTP = {429, 502, 503, 504}


class RecordingTransport:
    """RecordingTransport is a device transport that notes every call and every answer."""

    def __init__(self, inner: Transport, log: CallLog) -> None:
        self.inner = inner
        self.log = log
        self.answered: dict[str, str] = {}  # request id -> campaign, for ads answered with a fill
        self.receipts: dict[str, books.Receipt] = {}

    async def serve(self, user_id: str, device_type: str, city: str, state: str) -> Ad:
        """serve asks for an ad through the inner transport and notes the attempt."""
        sent = time.monotonic()
        try:
            ad = await self.inner.serve(user_id, device_type, city, state)
        except Exception:
            self.log.add(sent, SERVE, False)
            raise
        self.log.add(sent, SERVE, True)
        if ad.request_id:
            self.answered[ad.request_id] = ad.campaign_id
        return ad

    async def feedback(self, request_id: str, flags: tuple[int, int, int]) -> Receipt:
        """feedback reports a reaction through the inner transport and notes the answer."""
        sent = time.monotonic()
        try:
            receipt = await self.inner.feedback(request_id, flags)
        except Exception:
            self.log.add(sent, FEEDBACK, False)
            raise
        self.log.add(sent, FEEDBACK, True)
        self.receipts[request_id] = books.Receipt(receipt.campaign_id, receipt.expenditure)
        return receipt

    async def close(self) -> None:
        """close closes the inner transport."""
        await self.inner.close()


class _StoppedError(Exception):
    """_StoppedError ends one device's loop once the run has stopped the traffic."""


class SteadySimulation(Simulation):
    """SteadySimulation is the simulator's run, ended by stop() instead of by its duration.

    A device stops at the top of its loop, where it waits for its next ad's turn: after the
    last feedback it owed, never between an ad and its feedback. The duration still bounds it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = asyncio.Event()

    async def run(self) -> Stats:
        """run plays every device until stop() (or the duration) and their last feedback."""
        self.stats = Stats()
        deadline = time.monotonic() + self.duration
        devices = [asyncio.create_task(self._device(deadline)) for _ in range(self.concurrency)]
        for ended in await asyncio.gather(*devices, return_exceptions=True):
            if isinstance(ended, BaseException) and not isinstance(ended, _StoppedError):
                raise ended
        return self.stats

    async def _pace(self) -> None:
        if self.stopping.is_set():
            raise _StoppedError
        await super()._pace()
        if self.stopping.is_set():
            raise _StoppedError

    def stop(self) -> None:
        """stop lets each device finish what it owes and go."""
        self.stopping.set()


class Devices:
    """Devices play the simulator's users at a steady rate until stopped."""

    def __init__(
        self,
        settings: Settings,
        behaviour: Behaviour,
        log: CallLog,
        *,
        rate: float,
        concurrency: int,
        limit: float,
    ) -> None:
        self.transport = RecordingTransport(EnvoyTransport(settings, concurrency), log)
        self.simulation = SteadySimulation(
            self.transport, behaviour, duration=limit, concurrency=concurrency, rate=rate
        )

    async def run(self) -> None:
        """run plays the devices until stop() or the limit, then closes the connections."""
        try:
            await self.simulation.run()
        finally:
            await self.transport.close()

    @property
    def abandoned(self) -> int:
        """abandoned counts feedback a device gave up on (its charge was never acknowledged)."""
        return self.simulation.stats.errors.get("feedback abandoned", 0)

    def stop(self) -> None:
        """stop ends the traffic once every device has what it owes answered."""
        self.simulation.stop()


@dataclass
class Window:
    """Window is the live window the run gives its campaigns, in the platform's time zone."""

    start: datetime
    end: datetime

    def fields(self) -> dict[str, Any]:
        """fields are the campaign's date_range and time_range for this window."""
        return {
            "date_range": {
                "start": self.start.date().isoformat(),
                "end": self.end.date().isoformat(),
            },
            "time_range": {"start": _clock(self.start), "end": _clock(self.end)},
        }


def _clock(moment: datetime) -> str:
    """_clock is H:MM:SS; an end exactly at midnight would mean the end of the day, so avoid it."""
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        moment += timedelta(seconds=1)
    return f"{moment.hour}:{moment.minute:02d}:{moment.second:02d}"


def window(now: datetime, tz: ZoneInfo, seconds: float) -> Window:
    """window opens an hour before now and closes seconds after it, at whole seconds."""
    local = now.astimezone(tz).replace(tzinfo=None, microsecond=0)
    return Window(local - timedelta(hours=1), local + timedelta(seconds=seconds))


def one_slot(now: datetime, tz: ZoneInfo) -> Window:
    """one_slot is a 10-minute window that opened 2 minutes ago: a single pacing slot.

    A campaign's slot budget is its remaining budget over its remaining slots, so with one
    slot the whole budget can be spent at once, and the budget cap is what stops it.
    """
    local = now.astimezone(tz).replace(tzinfo=None, microsecond=0)
    return Window(local - timedelta(minutes=2), local + timedelta(minutes=8))


# The run's serving campaigns outbid the stack's others, so that its ads are its own. The
# two small ones live for one pacing slot and run dry within a minute of traffic: the
# budget cap is exercised in every run.
SERVING_CPC = "0.5"
SERVING_CPA = "5"
SERVING_BUDGETS = ("100000", "100000", "100000", "100000")
DRY_BUDGETS = ("20", "8")
MANAGED_CPC = "0.0001"
MANAGED_CPA = "0.001"


def campaign_body(campaign_id: str, text: str, live: Window, **fields: Any) -> dict[str, Any]:
    """campaign_body is an untargeted campaign as the JSON API takes it."""
    return {
        "campaign_id": campaign_id,
        "text": text,
        "category": "Chaos Run",
        "keywords": ["chaos"],
        "target_gender": "All",
        "target_age_range": {"start": 0, "end": 0},
        "target_city": "All",
        "target_state": "All",
        "target_country": "India",
        "target_income_bucket": "All",
        "target_device": "All",
        **live.fields(),
        **fields,
    }


class CampaignApi:
    """CampaignApi is a campaign manager's JSON client through Envoy, with a bearer token."""

    def __init__(self, settings: Settings, token: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=settings.envoy_url,
            timeout=API_TIMEOUT,
            headers={"authorization": f"Bearer {token}"},
        )
        self.accepted: list[books.Accepted] = []
        self.refused = 0  # answers that were not 200 (retried, or given up)

    async def call(self, method: str, path: str, body: dict[str, Any]) -> bool:
        """call sends one request; True when answered 200."""
        try:
            reply = await self.client.request(method, path, json=body)
        except httpx.TransportError:
            self.refused += 1
            return False
        if reply.status_code != 200:
            self.refused += 1
            return False
        return True

    async def create(self, body: dict[str, Any], patience: float) -> bool:
        """create publishes New Campaign, retrying with the same id until accepted or timed out."""
        marker = body["text"]
        if await self._retry("POST", "/v1/campaigns", body, patience):
            self.accepted.append(books.Accepted(body["campaign_id"], books.NEW, marker))
            return True
        return False

    async def update(self, campaign_id: str, text: str, budget: str) -> bool:
        """update publishes Update Campaign with a new text (the marker) and budget, once."""
        body = {"text": text, "budget": budget}
        if await self.call("PATCH", f"/v1/campaigns/{campaign_id}", body):
            self.accepted.append(books.Accepted(campaign_id, books.UPDATE, text))
            return True
        return False

    async def stop(self, campaign_id: str, reason: str) -> bool:
        """stop publishes Stop Campaign with the reason as its marker, once."""
        if await self.call("POST", f"/v1/campaigns/{campaign_id}:stop", {"reason": reason}):
            self.accepted.append(books.Accepted(campaign_id, books.STOP, reason))
            return True
        return False

    async def _retry(self, method: str, path: str, body: dict[str, Any], patience: float) -> bool:
        give_up = time.monotonic() + patience
        pause = 0.2
        while True:
            if await self.call(method, path, body):
                return True
            if time.monotonic() + pause > give_up:
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def close(self) -> None:
        """close closes the connection pool."""
        await self.client.aclose()


@dataclass
class Managers:
    """Managers keep creating and updating the run's managed campaigns at a steady pace.

    The managed campaigns' window opens tomorrow, so they never serve: their instructions
    are there to be applied, not to compete with the serving campaigns. A created campaign
    is updated only once the Ad Manager has applied it (the API refuses an update of a
    campaign it does not know yet); at the end every other one is stopped.
    """

    api: CampaignApi
    run_id: str
    later: Window
    rate: float
    campaigns: int = 12
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    created: list[str] = field(default_factory=list)
    updates: int = 0

    def marker(self, campaign_id: str) -> str:
        """marker is the next unique text of a campaign's instruction."""
        self.updates += 1
        return f"chaos {self.run_id} {campaign_id} #{self.updates}"

    async def run(self, known: Any) -> None:
        """run issues one instruction per 1/rate seconds until stopped; known(ids) says applied."""
        number = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            await self.step(number, known)
            number += 1
            rest = 1 / self.rate - (time.monotonic() - started)
            if rest > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), rest)

    async def step(self, number: int, known: Any) -> None:
        """step creates a campaign while fewer than `campaigns` exist, else updates one."""
        if len(self.created) < self.campaigns:
            campaign_id = f"chaos-{self.run_id}-m{len(self.created)}"
            body = campaign_body(
                campaign_id,
                self.marker(campaign_id),
                self.later,
                cpc=MANAGED_CPC,
                cpa=MANAGED_CPA,
                budget="1000",
            )
            if await self.api.create(body, patience=60):
                self.created.append(campaign_id)
            return
        applied: Sequence[str] = await asyncio.to_thread(known, self.created)
        if not applied:
            return
        campaign_id = applied[number % len(applied)]
        await self.api.update(campaign_id, self.marker(campaign_id), str(1000 + number))

    async def burst(self, count: int, known: Any, concurrency: int = 8) -> None:
        """burst sends count updates at once, concurrency at a time (instructions mid-feed)."""
        applied: Sequence[str] = await asyncio.to_thread(known, self.created)
        if not applied:
            return
        queue = list(range(count))

        async def manager() -> None:
            while queue:
                number = queue.pop()
                campaign_id = applied[number % len(applied)]
                budget = str(Decimal(2000 + number))
                await self.api.update(campaign_id, self.marker(campaign_id), budget)

        await asyncio.gather(*(manager() for _ in range(concurrency)))

    def stop(self) -> None:
        """stop ends the steady instructions after the current one."""
        self.stopping.set()

    async def finish(self, known: Any) -> None:
        """finish stops every other applied managed campaign: the last instruction of those."""
        applied: Sequence[str] = await asyncio.to_thread(known, self.created)
        for campaign_id in applied[::2]:
            await self.api.stop(campaign_id, self.marker(campaign_id))
