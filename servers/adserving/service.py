"""AdServer servicer: ServeAd requests in, protobuf answers out; serving.py does the work."""

from __future__ import annotations

from typing import TypeAlias

import grpc
from adplatform.v1 import ad_server_pb2, ad_server_pb2_grpc

from servers import identifiers
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
        parsed = ad_request.parse(
            request.user_id,
            request.device_type,
            request.city,
            request.state,
            request.country,
            home_country=self.home_country,
        )
        placement = await self.serving.serve(parsed, ad_request.bid_floor(request.bid_floor))
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

    async def GetServedAd(  # noqa: N802
        self, request: ad_server_pb2.GetServedAdRequest, context: Context
    ) -> ad_server_pb2.GetServedAdResponse:
        """GetServedAd shows a served ad's auction: bid, runner-up, floor and clearing price."""
        served = await self.serving.find(identifiers.request_id(request.request_id))
        answer = ad_server_pb2.GetServedAdResponse(
            request_id=served.request_id,
            campaign_id=served.campaign_id,
            bid_cpm=format_money(served.bid_cpm),
            runner_up_cpm=""
            if served.runner_up_cpm is None
            else format_money(served.runner_up_cpm),
            floor_cpm=format_money(served.floor_cpm),
            auction_cpm=format_money(served.auction_cpm),
            auction_cpc=format_money(served.auction_cpc),
            auction_cpa=format_money(served.auction_cpa),
            bidders=served.bidders,
        )
        answer.served_at.FromDatetime(served.served_at)
        return answer
