"""CampaignService server process: `python -m servers.campaign_service.server`."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from adplatform.v1 import campaign_service_pb2_grpc

from servers import runtime, settings
from servers.campaign_service.management import CampaignManagement
from servers.campaign_service.service import CampaignService
from servers.campaigns import frequency
from servers.campaigns.model import FrequencyCap
from servers.campaigns.pricing import Weights
from servers.messaging.publisher import Publisher
from servers.storage.db import engine
from servers.storage.replica import replica_engine


def default_cap(config: settings.Settings) -> FrequencyCap | None:
    """default_cap reads settings.frequency_cap, failing start-up on a cap it cannot read."""
    if config.frequency_cap is None:
        return None
    try:
        return frequency.parse_cap(config.frequency_cap)
    except ValueError as error:
        raise SystemExit(f"campaign-service: frequency_cap: {error}") from None


def build(config: settings.Settings) -> runtime.ServerSpec:
    """build assembles the CampaignService server: MySQL for reads, Kafka for instructions."""
    database = engine(config.database_url, pool_size=4)
    replica = replica_engine(config.mysql_replica_url) if config.mysql_replica_url else None
    publisher = Publisher(config.bootstrap_servers, "campaign-service")
    tz = ZoneInfo(config.timezone)
    management = CampaignManagement(
        database,
        publisher,
        config.instructions_topic,
        Weights.parse(config.cpm_cpc_weight, config.cpm_cpa_weight),
        tz,
        default_cap=default_cap(config),
        replica=replica,
    )
    servicer = CampaignService(management, tz)

    async def close() -> None:
        publisher.close()
        database.dispose()
        if replica is not None:
            replica.dispose()

    service = runtime.Service(
        "adplatform.v1.CampaignService",
        lambda server: campaign_service_pb2_grpc.add_CampaignServiceServicer_to_server(
            servicer, server
        ),
    )
    return runtime.ServerSpec(
        "campaign-service",
        config.campaign_port,
        services=[service],
        on_stop=[close],
        metrics_port=config.campaign_metrics_port,
    )


if __name__ == "__main__":
    runtime.run("campaign-service", build, settings.load())
