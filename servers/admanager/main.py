"""Ad Manager process: `python -m servers.admanager.main`; its port answers health checks."""

from __future__ import annotations

import asyncio
import threading
from zoneinfo import ZoneInfo

from servers import runtime, settings
from servers.admanager.applier import Applier
from servers.admanager.consumer import InstructionConsumer
from servers.campaigns.pricing import Weights
from servers.storage.db import engine


def build(config: settings.Settings) -> runtime.ServerSpec:
    """build assembles the Ad Manager: the instruction consumer behind a health endpoint."""
    weights = Weights.parse(config.cpm_cpc_weight, config.cpm_cpa_weight)
    database = engine(config.database_url, pool_size=config.topic_partitions + 2)
    applier = Applier(database, weights, ZoneInfo(config.timezone))

    ready = asyncio.Event()  # healthy once the consumer owns its partitions

    async def consume(stopping: asyncio.Event) -> None:
        consumer = InstructionConsumer(config, applier)
        stop, assigned = threading.Event(), threading.Event()
        worker = asyncio.create_task(asyncio.to_thread(consumer.run, stop, assigned))
        waiter = asyncio.create_task(stopping.wait())
        while not assigned.is_set() and not worker.done() and not stopping.is_set():
            await asyncio.sleep(0.05)
        ready.set()
        await asyncio.wait([worker, waiter], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        await worker  # re-raises if the consumer failed

    async def dispose() -> None:
        database.dispose()

    return runtime.ServerSpec(
        "ad-manager", config.admanager_port, background=[consume], on_stop=[dispose], ready=ready
    )


if __name__ == "__main__":
    runtime.run("ad-manager", build, settings.load())
