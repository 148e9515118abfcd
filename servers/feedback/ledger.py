"""Ledger: records a feedback and charges its campaign in one MySQL transaction, once.

The feedback row's primary key is the request id, so a request id is charged at most once;
a retry (or a concurrent duplicate) gets the first result back, marked duplicate. Charges
lock the campaign row, so concurrent charges to one campaign serialise and the budget cap
holds. The event for the archive is written to the outbox in the same transaction.

The ledger is blocking I/O under the FeedbackService's flow object: FeedbackRecording
(recording.py) runs each transaction on a ledger thread, bounds the wait and counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from servers.ads import served
from servers.ads.charging import UserAction
from servers.ads.served import ServedAd
from servers.campaigns import store
from servers.errors import NotFoundError
from servers.feedback import outbox
from servers.feedback.events import feedback_event
from servers.feedback.feedback_request import FeedbackRequest
from servers.feedback.settlement import settle
from servers.money import ZERO, format_money
from servers.storage.schema import feedback, naive_utc, served_ads


@dataclass(frozen=True, slots=True)
class Recorded:
    """Recorded is the outcome a device is told: the action, what it cost, whether a retry."""

    request_id: str
    campaign_id: str
    user_action: str
    expenditure: Decimal
    duplicate: bool


class Ledger:
    """Ledger owns the feedback and charge transaction."""

    def __init__(self, engine: Engine, tz: ZoneInfo) -> None:
        self.engine = engine
        self.tz = tz

    def submit(self, request: FeedbackRequest) -> Recorded:
        """submit records the feedback and charges for it, or returns the first result.

        request is checked and canonical (feedback_request.parse): its request id is the
        one spelling stored, so every spelling a device sends finds the same first result.
        """
        try:
            return self._submit(request.request_id, request.flags, request.action)
        except IntegrityError:
            # A concurrent submission of the same request id committed first.
            with self.engine.connect() as connection:
                first = _first_result(connection, request.request_id)
            if first is None:
                raise
            return first

    def _submit(self, request_id: str, flags: tuple[int, int, int], action: UserAction) -> Recorded:
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            ad, first = _lookup(connection, request_id)
            if ad is None:
                raise NotFoundError("served ad", request_id)
            if first is not None:
                return first
            spent = ZERO
            if action is not UserAction.VIEW:  # a view costs nothing: no campaign lock needed
                # A concurrent duplicate that charged first makes the feedback insert below
                # fail on the request id, rolling this charge back (submit answers the first).
                state = store.load_for_update(connection, ad.campaign_id)
                if state is not None:
                    settlement = settle(
                        state,
                        action,
                        auction_cpc=ad.auction_cpc,
                        auction_cpa=ad.auction_cpa,
                        now=now,
                        tz=self.tz,
                    )
                    store.record_charge(connection, settlement.state, now)
                    spent = settlement.expenditure
            connection.execute(
                insert(feedback).values(
                    request_id=request_id,
                    campaign_id=ad.campaign_id,
                    user_id=ad.user_id,
                    view=flags[0],
                    click=flags[1],
                    acquisition=flags[2],
                    user_action=str(action),
                    expenditure=spent,
                    recorded_at=naive_utc(now),
                )
            )
            event = feedback_event(ad, flags, action, format_money(spent), now)
            outbox.enqueue(connection, request_id, ad.campaign_id, event.SerializeToString(), now)
        return Recorded(request_id, ad.campaign_id, str(action), spent, duplicate=False)


def _lookup(connection: Connection, request_id: str) -> tuple[ServedAd | None, Recorded | None]:
    """_lookup reads the served ad and any earlier result for its request id in one query."""
    query = (
        served.select_ad(request_id)
        .add_columns(
            feedback.c.user_action.label("first_action"),
            feedback.c.expenditure.label("first_expenditure"),
        )
        .outerjoin(feedback, feedback.c.request_id == served_ads.c.request_id)
    )
    row = connection.execute(query).mappings().first()
    if row is None:
        return None, None
    values = dict(row)
    first_action, first_expenditure = values.pop("first_action"), values.pop("first_expenditure")
    ad = served.from_row(values)
    if first_action is None:
        return ad, None
    return ad, Recorded(request_id, ad.campaign_id, first_action, first_expenditure, True)


def _first_result(connection: Connection, request_id: str) -> Recorded | None:
    """_first_result is the recorded outcome of an earlier submission, as a duplicate."""
    row = connection.execute(
        select(feedback.c.campaign_id, feedback.c.user_action, feedback.c.expenditure).where(
            feedback.c.request_id == request_id
        )
    ).first()
    if row is None:
        return None
    return Recorded(request_id, row.campaign_id, row.user_action, row.expenditure, duplicate=True)
