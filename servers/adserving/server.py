"""AdServer server process: `python -m servers.adserving.server`."""

from __future__ import annotations

import grpc
from adplatform.v1 import ad_server_pb2_grpc

from servers import runtime, settings


class AdServerServicer(ad_server_pb2_grpc.AdServerServicer):
    """AdServerServicer answers devices (the auction lands with ad serving)."""

    async def ServeAd(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """ServeAd is not built yet."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "ad serving is not built yet")


def build(config: settings.Settings) -> runtime.ServerSpec:
    """build assembles the AdServer server."""
    servicer = AdServerServicer()
    service = runtime.Service(
        "adplatform.v1.AdServer",
        lambda server: ad_server_pb2_grpc.add_AdServerServicer_to_server(servicer, server),
    )
    return runtime.ServerSpec("adserver", config.adserver_port, services=[service])


if __name__ == "__main__":
    runtime.run("adserver", build, settings.load())
