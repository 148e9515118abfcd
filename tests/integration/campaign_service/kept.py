"""What the CampaignService tests share: their campaign, their topic, a publisher that keeps.

Each test run has a campaign id and a category of its own (the stack's database is shared
with every other test) and a Kafka topic of its own, so no record these tests publish ever
reaches the Ad Manager.
"""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from servers.messaging.publisher import Headers, Publisher
from servers.settings import Settings

RUN = uuid.uuid4().hex[:12]
CAMPAIGN_ID = f"management-{RUN}"
CATEGORY = f"management-{RUN}"
TOPIC = f"campaign-management-tests-{RUN}"
MISSING_TOPIC = f"campaign-management-missing-{RUN}"  # never created: Kafka refuses records
TZ = ZoneInfo(Settings.model_fields["timezone"].default)


class KeptPublisher(Publisher):
    """KeptPublisher publishes to Kafka and keeps each (topic, key, value) Kafka confirmed.

    With refuse set it publishes to a topic that does not exist, so Kafka refuses the record
    as it does any it cannot take.
    """

    def __init__(self, bootstrap_servers: str) -> None:
        super().__init__(bootstrap_servers, "campaign-management-tests", timeout_ms=2_000)
        self.sent: list[tuple[str, str, bytes]] = []
        self.refuse = False

    async def publish(
        self, topic: str, key: str, value: bytes, headers: Headers = ()
    ) -> tuple[int, int]:
        """publish sends the record and keeps it once Kafka confirmed it."""
        target = MISSING_TOPIC if self.refuse else topic
        position = await super().publish(target, key, value, headers)
        self.sent.append((topic, key, value))
        return position
