"""Ledger: settles a batch of feedback in one MySQL transaction, each request id charged once.

Group commit (docs/design.md rule 6), as the served-ads writer does for rule 5: feedbacks that
arrive together are settled together. One transaction per batch:

1. one query reads the batch's served ads, joined with any earlier feedback for them, and locks
   those served-ads rows (FOR UPDATE, in request id order);
2. the campaigns the batch charges are locked with one SELECT ... FOR UPDATE, in campaign id
   order, so two batches locking overlapping campaigns never deadlock (views charge nothing
   and lock nothing);
3. each feedback is settled in arrival order by the pure settlement.settle, a campaign's state
   carried from one charge to the next, so the cap at the budget, INACTIVE at zero and the
   slot draw-down hold within the batch as across batches;
4. one multi-row INSERT into feedback, one into the outbox, one UPDATE per charged campaign,
   one commit.

Exactly once per request id: the feedback row's request id is unique. A duplicate inside the
batch is answered the first's result, marked duplicate, and charges nothing; one settled by an
earlier batch is found by the first query. Two concurrent batches (another writer, another
process, another host) holding a request id in common serialize on its served-ads row: the
first query's lock waits for the other batch to commit, then (a locking read sees the latest
commit) finds the winner's result, so the loser never reaches the feedback key. Both take
their row locks in one order, request ids then campaign ids, so they queue rather than
deadlock. Should MySQL still refuse the batch for a duplicate key or a deadlock, the batch is
rolled back and settled again in a new transaction (at most ATTEMPTS times; then the batcher
isolates the row). Without the lock, batches cut differently from the same ids could lose that
race attempt after attempt.

No feedback fails another: an unknown request id is that feedback's NotFoundError; a Python
error settling one (a campaign row that does not parse) is that feedback's error; a row MySQL
refuses raises for the batch, which servers/batches.py then bisects down to that row.

The outbox stays a second table, written with the feedback rows in the same transaction, so
the relay (relay.py) is unchanged: it is cheap. Measured on the stack's MariaDB (batches of
500 clicks over 4 campaigns, 16 rounds alternating with and without the outbox INSERT, load
average 48 on 2 cores): the INSERT itself took a median 13 ms of a 263 ms transaction (5%),
MariaDB's CPU 25 against 20 ms a batch (0.01 ms a feedback). Making the feedback row the
event would spare that and cost the relay a scan of the feedback table for what is unsent.

The ledger is blocking I/O under the FeedbackService's flow object: FeedbackRecording
(recording.py) batches the feedback, bounds the wait and counts what was settled. Each writer
thread keeps its own connection (no pool checkout and ping per batch).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeAlias
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, RowMapping, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from servers.ads import served
from servers.ads.charging import UserAction
from servers.ads.served import ServedAd
from servers.campaigns import store
from servers.campaigns.instructions import CampaignState
from servers.errors import NotFoundError
from servers.feedback import outbox
from servers.feedback.events import feedback_event
from servers.feedback.feedback_request import FeedbackRequest
from servers.feedback.settlement import settle
from servers.money import ZERO, format_money
from servers.storage.faults import mysql_error_number
from servers.storage.kept import KeptConnections
from servers.storage.literals import insert_rendered, string_quoter, time_literal
from servers.storage.refusals import blames_rows
from servers.storage.schema import feedback, served_ads

log = logging.getLogger(__name__)

# ATTEMPTS bounds how often a batch is settled again after MySQL refused it for a race the
# served-ads locks should prevent: a duplicate key, or a lock cycle MySQL broke.
ATTEMPTS = 3
DUPLICATE_KEY = 1062
DEADLOCK = 1213


@dataclass(frozen=True, slots=True)
class Recorded:
    """Recorded is the outcome a device is told: the action, what it cost, whether a retry."""

    request_id: str
    campaign_id: str
    user_action: str
    expenditure: Decimal
    duplicate: bool


Outcome: TypeAlias = "Recorded | Exception"
# A feedback row: request id, campaign id, user id, view, click, acquisition, action, spent.
_FeedbackRow: TypeAlias = tuple[str, str, str, int, int, int, str, Decimal]
_INSERT_FEEDBACK_SQL = (
    "INSERT INTO feedback (request_id, campaign_id, user_id, view, click, acquisition, "
    "user_action, expenditure, recorded_at) VALUES "
)

_SERVED_COLUMNS = tuple(served_ads.c[field.name] for field in fields(ServedAd))


@dataclass(frozen=True, slots=True)
class _Found:
    """_Found is a served ad and, if an earlier batch settled its feedback, that result."""

    ad: ServedAd
    first: Recorded | None


class _Settling:
    """_Settling is one transaction's work: campaign states as charged so far, rows to write."""

    def __init__(self, locked: Mapping[str, RowMapping]) -> None:
        self.locked = locked
        self.states: dict[str, CampaignState | Exception | None] = {}
        self.charged: set[str] = set()  # campaigns whose state changed
        self.feedback_rows: list[_FeedbackRow] = []
        self.events: list[outbox.NewEvent] = []

    def state(self, campaign_id: str) -> CampaignState | None:
        """state is the campaign as this batch has charged it so far; None if its row is gone."""
        if campaign_id not in self.states:
            row = self.locked.get(campaign_id)
            try:
                self.states[campaign_id] = None if row is None else store.from_row(row).state
            except Exception as error:  # this campaign's charges fail, no other's
                self.states[campaign_id] = error
        state = self.states[campaign_id]
        if isinstance(state, Exception):
            raise state
        return state


class Ledger:
    """Ledger owns the feedback and charge transaction, one per batch."""

    def __init__(self, engine: Engine, tz: ZoneInfo) -> None:
        self.engine = engine
        self.tz = tz
        self._connections = KeptConnections(engine)  # one a writer

    def settle_batch(self, requests: Sequence[FeedbackRequest]) -> list[Outcome]:
        """settle_batch records and charges requests in one transaction; an outcome each, in order.

        requests are checked and canonical (feedback_request.parse): a request id is the one
        spelling stored. An outcome is the Recorded result or the error of that request alone.
        Raises when the batch as a whole could not be settled (rolled back): an error that
        blames a row (servers.storage.refusals.blames_rows), for the batcher to isolate it, or
        one that says MySQL is out of reach.
        """
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._settle(requests)
            except DBAPIError as error:
                if _lost_race(error) and attempt < ATTEMPTS:
                    continue  # a concurrent batch committed first: settle again, fresh
                if not blames_rows(error):
                    self._connections.drop()
                raise
            except SQLAlchemyError:
                self._connections.drop()
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _settle(self, requests: Sequence[FeedbackRequest]) -> list[Outcome]:
        """_settle is one attempt at the batch's transaction, committed when it returns."""
        now = datetime.now(UTC)
        connection = self._connections.get()
        with connection.begin():
            found = _lookup(connection, {request.request_id for request in requests})
            charging = {
                entry.ad.campaign_id
                for request in requests
                if request.action is not UserAction.VIEW
                and (entry := found.get(request.request_id)) is not None
                and entry.first is None
            }
            work = _Settling(store.load_rows_for_update(connection, charging))
            outcomes: list[Outcome] = []
            settled: dict[str, Outcome] = {}
            for request in requests:
                earlier = settled.get(request.request_id)
                if earlier is None:
                    outcome = self._settle_one(work, request, found.get(request.request_id), now)
                    settled[request.request_id] = outcome
                elif isinstance(earlier, Recorded):  # the same request id twice in one batch
                    outcome = dataclasses.replace(earlier, duplicate=True)
                else:
                    outcome = earlier
                outcomes.append(outcome)
            _insert_feedback(connection, sorted(work.feedback_rows), now)
            outbox.enqueue(connection, work.events, now)
            for campaign_id in sorted(work.charged):
                state = work.states[campaign_id]
                if isinstance(state, CampaignState):
                    store.record_charge(connection, state, now)
        return outcomes

    def _settle_one(
        self, work: _Settling, request: FeedbackRequest, entry: _Found | None, now: datetime
    ) -> Outcome:
        """_settle_one settles one feedback into work; its result, or its own error."""
        if entry is None:
            return NotFoundError("served ad", request.request_id)
        if entry.first is not None:
            return entry.first
        ad, action = entry.ad, request.action
        try:
            spent, charged_state = ZERO, None
            if action is not UserAction.VIEW:  # a view costs nothing: no campaign lock needed
                state = work.state(ad.campaign_id)
                if state is not None:  # a campaign row gone: recorded at 0 (rule 6)
                    settlement = settle(
                        state,
                        action,
                        auction_cpc=ad.auction_cpc,
                        auction_cpa=ad.auction_cpa,
                        now=now,
                        tz=self.tz,
                    )
                    charged_state, spent = settlement.state, settlement.expenditure
            event = feedback_event(ad, request.flags, action, format_money(spent), now)
            payload = event.SerializeToString()
        except Exception as error:  # this feedback fails alone; nothing of it is written
            log.exception("feedback %s not settled", request.request_id)
            return error
        if charged_state is not None:
            work.states[ad.campaign_id] = charged_state
            work.charged.add(ad.campaign_id)
        work.feedback_rows.append(
            (request.request_id, ad.campaign_id, ad.user_id, *request.flags, str(action), spent)
        )
        work.events.append(outbox.NewEvent(request.request_id, ad.campaign_id, payload))
        return Recorded(request.request_id, ad.campaign_id, str(action), spent, duplicate=False)

    def close(self) -> None:
        """close closes the writers' connections (once no batch is in flight)."""
        self._connections.close()


def _lost_race(error: DBAPIError) -> bool:
    """_lost_race is true when a concurrent transaction won: a duplicate key or a deadlock."""
    return mysql_error_number(error) in (DUPLICATE_KEY, DEADLOCK)


def _insert_feedback(connection: Connection, rows: Sequence[_FeedbackRow], now: datetime) -> None:
    """_insert_feedback writes a batch's feedback rows in one statement, rendered as literals.

    As served.record does: the driver's generic per-value escaping costs more than the rest.
    Strings go through the driver's escaping; flags, money and the time have fixed forms.
    """
    if not rows:
        return
    quote, recorded_at = string_quoter(connection), time_literal(now)
    values = ",".join(
        f"({quote(request_id)},{quote(campaign_id)},{quote(user_id)},{int(view)},{int(click)},"
        f"{int(acquisition)},{quote(action)},{spent:f},{recorded_at})"
        for request_id, campaign_id, user_id, view, click, acquisition, action, spent in rows
    )
    insert_rendered(connection, _INSERT_FEEDBACK_SQL + values)


def _lookup(connection: Connection, request_ids: Collection[str]) -> dict[str, _Found]:
    """_lookup reads and locks the served ads of request_ids, with any earlier results.

    One query. The served-ads rows are locked in request id order (the primary key's range
    scan, made explicit by ORDER BY): a concurrent batch settling any of them waits here, not
    at the feedback key, and reads the result the first committed.
    """
    query = (
        select(
            *_SERVED_COLUMNS,
            feedback.c.user_action.label("first_action"),
            feedback.c.expenditure.label("first_expenditure"),
        )
        .select_from(served_ads)
        .outerjoin(feedback, feedback.c.request_id == served_ads.c.request_id)
        .where(served_ads.c.request_id.in_(list(request_ids)))
        .order_by(served_ads.c.request_id)
        .with_for_update()
    )
    found: dict[str, _Found] = {}
    for row in connection.execute(query).mappings():
        values = dict(row)
        action, expenditure = values.pop("first_action"), values.pop("first_expenditure")
        ad = served.from_row(values)
        first = None
        if action is not None:
            first = Recorded(ad.request_id, ad.campaign_id, action, expenditure, duplicate=True)
        found[ad.request_id] = _Found(ad, first)
    return found
