"""Ad Manager process: `python -m servers.admanager.server`; its port answers health checks."""

from __future__ import annotations

import threading
from zoneinfo import ZoneInfo

from servers import runtime, settings
from servers.admanager.applier import Applier
from servers.admanager.consumer import InstructionConsumer
from servers.admanager.pacer import Pacer
from servers.campaigns.pricing import Weights
from servers.storage.db import engine


def build(config: settings.Settings) -> runtime.ServerSpec:
    """build assembles the Ad Manager: the instruction consumer and the pacer behind health."""
    weights = Weights.parse(config.cpm_cpc_weight, config.cpm_cpa_weight)
    database = engine(config.database_url, pool_size=config.topic_partitions + 2)
    applier = Applier(database, weights, ZoneInfo(config.timezone))
    pacer = Pacer(database, ZoneInfo(config.timezone))

    consumer = InstructionConsumer(config, applier)
    assigned = threading.Event()  # the Ad Manager is healthy once it owns its partitions

    async def dispose() -> None:
        database.dispose()

    return runtime.ServerSpec(
        "ad-manager",
        config.admanager_port,
        background=[runtime.in_thread(lambda stop: consumer.run(stop, assigned)), pacer.run],
        on_stop=[dispose],
        ready=assigned,
        metrics_port=config.admanager_metrics_port,
    )


if __name__ == "__main__":
    runtime.run("ad-manager", build, settings.load())
