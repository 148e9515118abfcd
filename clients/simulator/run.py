"""Simulation: concurrent devices for a bounded time, open loop at a rate or closed loop at max.

Each device asks for an ad, and for a filled ad reports its user's reaction. A serve that
fails transiently is asked again (a new auction); a feedback is retried with the same request
id until answered, so every charge the platform made is acknowledged to the device.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from clients.simulator.behaviour import Behaviour
from clients.simulator.stats import Latencies, Stats
from clients.simulator.transports import TransientError, Transport

T = TypeVar("T")
SERVE_ATTEMPTS = 5
FEEDBACK_PATIENCE = 120.0  # seconds a device keeps retrying one feedback
BACKOFF = (0.05, 2.0)


class Simulation:
    """Simulation drives one run and fills its Stats."""

    def __init__(
        self,
        transport: Transport,
        behaviour: Behaviour,
        *,
        duration: float,
        concurrency: int,
        rate: float | None = None,
    ) -> None:
        self.transport = transport
        self.behaviour = behaviour
        self.duration = duration
        self.concurrency = concurrency
        self.rate = rate
        self.stats = Stats()
        self._tickets = 0

    async def run(self) -> Stats:
        """run plays every device until the duration is up and their last feedback is in."""
        self.stats = Stats()
        deadline = time.monotonic() + self.duration
        devices = [asyncio.create_task(self._device(deadline)) for _ in range(self.concurrency)]
        await asyncio.gather(*devices)
        return self.stats

    async def _pace(self) -> None:
        """_pace waits for this request's slot when running open loop at a fixed rate."""
        if not self.rate:
            return
        ticket = self._tickets
        self._tickets += 1
        wait = self.stats.started + ticket / self.rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _device(self, deadline: float) -> None:
        """_device is one device's loop: serve, then feedback for a filled ad."""
        stats, behaviour = self.stats, self.behaviour
        while True:
            await self._pace()
            if time.monotonic() >= deadline:
                return
            ask = behaviour.request()
            person = ask.person
            serve = partial(
                self.transport.serve, person.user_id, person.device_type, ask.city, ask.state
            )
            ad = await self._call(serve, stats.serve_latency, attempts=SERVE_ATTEMPTS)
            stats.requests += 1
            if ad is None or not ad.request_id:
                continue
            stats.filled += 1
            flags = behaviour.reaction(person)
            report = partial(self.transport.feedback, ad.request_id, flags)
            receipt = await self._call(report, stats.feedback_latency, patience=FEEDBACK_PATIENCE)
            if receipt is None:
                stats.errors["feedback abandoned"] += 1
                continue
            stats.feedback += 1
            stats.duplicates += receipt.duplicate
            stats.clicks += flags[1]
            stats.acquisitions += flags[2]
            stats.spend += receipt.expenditure
            if receipt.expenditure:
                stats.campaigns[receipt.campaign_id] += 1

    async def _call(
        self,
        call: Callable[[], Awaitable[T]],
        latencies: Latencies,
        *,
        attempts: int | None = None,
        patience: float | None = None,
    ) -> T | None:
        """_call retries transient failures with back-off; None when it gives up."""
        give_up = time.monotonic() + patience if patience else None
        pause, tries = BACKOFF[0], 0
        while True:
            started = time.monotonic()
            try:
                result = await call()
            except TransientError as error:
                self.stats.errors[str(error).split(":")[0]] += 1
            except Exception as error:
                self.stats.errors[f"{type(error).__name__}: {str(error)[:60]}"] += 1
                return None
            else:
                latencies.add(time.monotonic() - started)
                return result
            tries += 1
            out_of_tries = attempts is not None and tries >= attempts
            out_of_time = give_up is not None and time.monotonic() + pause > give_up
            if out_of_tries or out_of_time:
                return None
            self.stats.retries += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, BACKOFF[1])
