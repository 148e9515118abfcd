"""Feedback requests as devices send them: checked and canonicalised before anything is read.

Pure. The request id is read by servers.identifiers: a UUID in any spelling (padded,
upper-case) names one served ad, and its canonical lowercase form is what is looked up,
stored in the feedback and outbox rows and sent to Kafka, so a retry in another spelling is
recognised as the duplicate it is. The flags are 0/1 integers (SMALLINT columns).
"""

from __future__ import annotations

from dataclasses import dataclass

from servers import identifiers
from servers.ads.charging import UserAction, user_action


@dataclass(frozen=True, slots=True)
class FeedbackRequest:
    """FeedbackRequest is a device's report on one served ad, every field as it is stored."""

    request_id: str  # canonical UUID: 36 characters, lowercase
    view: int  # 0 or 1
    click: int
    acquisition: int
    action: UserAction  # the most valuable flag set (charging.user_action)

    @property
    def flags(self) -> tuple[int, int, int]:
        """flags are (view, click, acquisition) as the feedback row and the event hold them."""
        return self.view, self.click, self.acquisition


def parse(request_id: object, view: object, click: object, acquisition: object) -> FeedbackRequest:
    """parse checks a feedback request: a UUID request id and flags of 0 or 1."""
    canonical = identifiers.request_id(request_id)
    action = user_action(view, click, acquisition)  # refuses any flag but 0/1 (or a bool)
    # Each flag is now 0, 1, False or True: its truth is its value.
    return FeedbackRequest(
        request_id=canonical,
        view=1 if view else 0,
        click=1 if click else 0,
        acquisition=1 if acquisition else 0,
        action=action,
    )
