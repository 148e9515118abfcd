"""Stand-ins for the CampaignService's unit tests: a publisher that keeps what it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from servers.errors import UnavailableError

TOPIC = "campaign-instructions"
TZ = ZoneInfo("Asia/Kolkata")


@dataclass
class KeptPublisher:
    """KeptPublisher keeps each (topic, key, value) it is asked to publish; it may refuse."""

    sent: list[tuple[str, str, bytes]] = field(default_factory=list)
    refuse: bool = False  # True: Kafka does not confirm, as Publisher reports it

    async def publish(self, topic: str, key: str, value: bytes) -> tuple[int, int]:
        """publish keeps the record, or refuses it as Publisher does when Kafka is away."""
        if self.refuse:
            raise UnavailableError("Kafka did not accept the record: timed out")
        self.sent.append((topic, key, value))
        return 0, len(self.sent) - 1
