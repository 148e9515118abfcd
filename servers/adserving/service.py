"""AdServer servicer: ServeAd requests in, protobuf answers out; serving.py does the work."""

from __future__ import annotations

from typing import TypeAlias

import grpc
from adplatform.v1 import ad_server_pb2, ad_server_pb2_grpc

from servers.adserving import ad_request
from servers.adserving.serving import AdServing
from servers.money import format_money

Context: TypeAlias = "grpc.aio.ServicerContext[object, object]"
NO_FILL = ad_server_pb2.ServeAdResponse()


class AdServerService(ad_server_pb2_grpc.AdServerServicer):
    """AdServerService is the devices' AdServer API."""

    def __init__(self, serving: AdServing, home_country: str) -> None:
        self.serving = serving
        self.home_country = home_country

    async def ServeAd(  # noqa: N802
        self, request: ad_server_pb2.ServeAdRequest, context: Context
    ) -> ad_server_pb2.ServeAdResponse:
        """ServeAd runs the auction; no eligible ad is OK with every field empty."""
        placement = await self.serving.serve(
            ad_request.parse(
                request.user_id,
                request.device_type,
                request.city,
                request.state,
                request.country,
                home_country=self.home_country,
            )
        )
        if placement is None:
            return NO_FILL
        served = placement.served
        return ad_server_pb2.ServeAdResponse(
            request_id=served.request_id,
            campaign_id=served.campaign_id,
            text=placement.text,
            category=placement.category,
            auction_cpm=format_money(served.auction_cpm),
            auction_cpc=format_money(served.auction_cpc),
            auction_cpa=format_money(served.auction_cpa),
        )
