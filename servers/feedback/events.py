"""FeedbackEvent: the archive's record of one feedback (docs/design.md rule 9), as sent to Kafka."""

from __future__ import annotations

from datetime import datetime

from adplatform.v1 import campaign_pb2, events_pb2

from servers.ads.charging import UserAction
from servers.ads.served import ServedAd
from servers.money import format_money


def feedback_event(
    ad: ServedAd,
    flags: tuple[int, int, int],
    action: UserAction,
    expenditure_charged: str,
    recorded_at: datetime,
) -> events_pb2.FeedbackEvent:
    """feedback_event joins the served ad's snapshot with what the user did and what it cost."""
    view, click, acquisition = flags
    event = events_pb2.FeedbackEvent(
        campaign_id=ad.campaign_id,
        user_id=ad.user_id,
        request_id=ad.request_id,
        click=click,
        view=view,
        acquisition=acquisition,
        auction_cpm=format_money(ad.auction_cpm),
        auction_cpc=format_money(ad.auction_cpc),
        auction_cpa=format_money(ad.auction_cpa),
        target_age_range=campaign_pb2.AgeRange(start=ad.target_age_start, end=ad.target_age_end),
        target_location=ad.target_location,
        target_gender=ad.target_gender,
        target_income_bucket=ad.target_income_bucket,
        target_device_type=ad.target_device,
        user_action=str(action),
        expenditure=expenditure_charged,
    )
    event.campaign_start_time.FromDatetime(ad.campaign_start_time)
    event.campaign_end_time.FromDatetime(ad.campaign_end_time)
    event.timestamp.FromDatetime(recorded_at)
    return event
