"""CampaignService server process: `python -m servers.campaigns.server`."""

from __future__ import annotations

import grpc
from adplatform.v1 import campaign_service_pb2_grpc

from servers import runtime, settings


class CampaignServicer(campaign_service_pb2_grpc.CampaignServiceServicer):
    """CampaignServicer answers campaign managers (methods land with campaign management)."""

    async def _unimplemented(self, context: grpc.aio.ServicerContext[object, object]) -> None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "campaign management is not built yet")

    async def CreateCampaign(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """CreateCampaign is not built yet."""
        await self._unimplemented(context)

    async def UpdateCampaign(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """UpdateCampaign is not built yet."""
        await self._unimplemented(context)

    async def StopCampaign(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """StopCampaign is not built yet."""
        await self._unimplemented(context)

    async def GetCampaign(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """GetCampaign is not built yet."""
        await self._unimplemented(context)

    async def ListCampaigns(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """ListCampaigns is not built yet."""
        await self._unimplemented(context)


def build(config: settings.Settings) -> runtime.ServerSpec:
    """build assembles the CampaignService server."""
    servicer = CampaignServicer()
    service = runtime.Service(
        "adplatform.v1.CampaignService",
        lambda server: campaign_service_pb2_grpc.add_CampaignServiceServicer_to_server(
            servicer, server
        ),
    )
    return runtime.ServerSpec("campaign-service", config.campaign_port, services=[service])


if __name__ == "__main__":
    runtime.run("campaign-service", build, settings.load())
