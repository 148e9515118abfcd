"""gRPC channels and typed stubs for the platform's services, as the CLI tools dial them."""

from __future__ import annotations

import grpc
from adplatform.v1 import ad_server_pb2_grpc, campaign_service_pb2_grpc, feedback_service_pb2_grpc

from servers.settings import Settings

OPTIONS = [("grpc.keepalive_time_ms", 30_000), ("grpc.enable_retries", 1)]


def campaigns(settings: Settings) -> campaign_service_pb2_grpc.CampaignServiceStub:
    """campaigns is a CampaignService stub on ADPLATFORM_CAMPAIGN_ADDR."""
    channel = grpc.insecure_channel(settings.campaign_target, options=OPTIONS)
    return campaign_service_pb2_grpc.CampaignServiceStub(channel)


def ads(settings: Settings) -> ad_server_pb2_grpc.AdServerStub:
    """ads is an AdServer stub on ADPLATFORM_ADSERVER_ADDR."""
    channel = grpc.insecure_channel(settings.adserver_target, options=OPTIONS)
    return ad_server_pb2_grpc.AdServerStub(channel)


def feedback(settings: Settings) -> feedback_service_pb2_grpc.FeedbackServiceStub:
    """feedback is a FeedbackService stub on ADPLATFORM_FEEDBACK_ADDR."""
    channel = grpc.insecure_channel(settings.feedback_target, options=OPTIONS)
    return feedback_service_pb2_grpc.FeedbackServiceStub(channel)
