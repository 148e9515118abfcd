"""Charging by group commit: the ledger settles a batch of feedback in one transaction, exactly.

The ledger (servers/feedback/ledger.py) runs in this process on the stack's MariaDB, on
campaigns and served ads the test stores itself (tests/integration/servicers/stored.py). What
is tested is what docs/design.md rule 6 promises of a batch: each request id charged once,
whether it repeats inside one batch, across batches or across processes settling at the
same time; the cap at the budget, INACTIVE at zero and the slot draw-down with many charges
to one campaign in one batch; no deadlock between batches locking the same campaigns in
opposite orders; and a feedback MySQL refuses, an unknown request id or a campaign row that
does not parse failing only its own feedback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, text, update

from servers.errors import NotFoundError
from servers.feedback import feedback_request, ledger
from servers.feedback.feedback_request import FeedbackRequest
from servers.feedback.ledger import Ledger, Recorded
from servers.feedback.recording import FeedbackRecording
from servers.settings import Settings
from servers.storage.db import engine
from servers.storage.schema import campaigns, feedback_outbox
from tests.fixtures.database import feedback_count, money, status
from tests.integration.servicers import stored

pytestmark = pytest.mark.integration

CLICK, ACQUISITION, VIEW = (1, 1, 0), (1, 1, 1), (1, 0, 0)


@pytest.fixture
def books(stack: Settings, database: Engine) -> Iterator[Ledger]:
    """books is a ledger on the stack's MySQL, its writer connections closed after the test."""
    settled = Ledger(database, ZoneInfo(stack.timezone))
    yield settled
    settled.close()


def _feedback(request_id: str, flags: tuple[int, int, int]) -> FeedbackRequest:
    return feedback_request.parse(request_id, *flags)


def _recorded(outcome: Recorded | BaseException) -> Recorded:
    assert isinstance(outcome, Recorded), outcome
    return outcome


def _events(database: Engine, request_ids: list[str]) -> int:
    with database.connect() as connection:
        query = select(func.count()).where(feedback_outbox.c.request_id.in_(request_ids))
        return int(connection.execute(query).scalar_one())


def test_the_same_request_id_twice_in_one_batch_is_charged_once(
    stack: Settings, database: Engine, books: Ledger
) -> None:
    state = stored.campaign(database, stack)
    (request_id,) = stored.served_ads(database, state, auction_cpa=Decimal("0.05"))

    first, again = map(
        _recorded,
        books.settle_batch([_feedback(request_id, ACQUISITION), _feedback(request_id, CLICK)]),
    )

    assert (first.user_action, first.expenditure, first.duplicate) == (
        "acquisition",
        Decimal("0.05"),
        False,
    )
    assert (again.user_action, again.expenditure, again.duplicate) == (
        "acquisition",
        Decimal("0.05"),
        True,
    )
    assert money(database, state.spec.campaign_id).spent == Decimal("0.05")
    assert feedback_count(database, [request_id]) == 1
    assert _events(database, [request_id]) == 1


def test_a_request_id_settled_by_an_earlier_batch_is_answered_its_first_result(
    stack: Settings, database: Engine, books: Ledger
) -> None:
    state = stored.campaign(database, stack)
    request_ids = stored.served_ads(database, state, count=2, auction_cpc=Decimal("0.001"))

    first = books.settle_batch([_feedback(request_ids[0], CLICK)])
    later = books.settle_batch(
        [_feedback(request_ids[1], CLICK), _feedback(request_ids[0], ACQUISITION)]
    )

    assert [_recorded(outcome).duplicate for outcome in first + later] == [False, False, True]
    retry = _recorded(later[1])
    assert (retry.user_action, retry.expenditure) == ("click", Decimal("0.001"))
    assert money(database, state.spec.campaign_id).spent == Decimal("0.002")
    assert feedback_count(database, request_ids) == 2


def _settle_in_process(
    database_url: str,
    timezone: str,
    batches: list[list[str]],
    start: Any,
    results: Any,
) -> None:
    """_settle_in_process settles batches of clicks on an engine of its own, in its own process.

    It puts its answers, (request id, expenditure, duplicate) each, on results.
    """
    own = engine(database_url, pool_size=2)
    settled = Ledger(own, ZoneInfo(timezone))
    answers: list[tuple[str, str, bool]] = []
    try:
        start.wait(30)
        for batch in batches:
            for outcome in settled.settle_batch([_feedback(rid, CLICK) for rid in batch]):
                assert isinstance(outcome, Recorded), outcome
                answers.append((outcome.request_id, str(outcome.expenditure), outcome.duplicate))
    finally:
        results.put(answers)
        settled.close()
        own.dispose()


def test_two_processes_settling_the_same_request_ids_at_once_charge_each_once(
    stack: Settings, database: Engine
) -> None:
    states = [stored.campaign(database, stack) for _ in range(2)]
    request_ids = [
        request_id
        for state in states
        for request_id in stored.served_ads(database, state, count=150, auction_cpc=Decimal("0.01"))
    ]
    # Each process sees every request id, in batches cut and ordered differently.
    forward = [request_ids[n : n + 40] for n in range(0, len(request_ids), 40)]
    backward = [request_ids[::-1][n : n + 25] for n in range(0, len(request_ids), 25)]
    # Forked: each child opens an engine of its own (none of this process's connections).
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(2), context.Queue()
    children = [
        context.Process(
            target=_settle_in_process,
            args=(stack.database_url, stack.timezone, batches, start, results),
        )
        for batches in (forward, backward)
    ]
    for child in children:
        child.start()
    answers = [answer for _ in children for answer in results.get(timeout=120)]
    for child in children:
        child.join(10)
    assert [child.exitcode for child in children] == [0, 0]

    charged = [(rid, Decimal(spent)) for rid, spent, duplicate in answers if not duplicate]
    assert sorted(rid for rid, _ in charged) == sorted(request_ids)  # each once, by one process
    assert len(answers) == 2 * len(request_ids)
    total_spent = sum(money(database, state.spec.campaign_id).spent for state in states)
    assert total_spent == sum(spent for _, spent in charged) == Decimal("3.00")
    assert feedback_count(database, request_ids) == len(request_ids)


def _connection_id(connection: Any) -> int:
    return int(connection.execute(text("SELECT CONNECTION_ID()")).scalar_one())


def _running_a_statement(database: Engine, connection_id: int) -> bool:
    """_running_a_statement is true while the connection is inside a statement (or its lock)."""
    query = text(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = :id AND INFO IS NOT NULL"
    )
    with database.connect() as connection:
        return bool(connection.execute(query, {"id": connection_id}).scalar_one())


def test_a_batch_racing_another_for_a_request_id_waits_and_finds_its_result_at_once(
    stack: Settings, database: Engine, books: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = stored.campaign(database, stack)
    (request_id,) = stored.served_ads(database, state, auction_cpc=Decimal("0.001"))
    monkeypatch.setattr(ledger, "ATTEMPTS", 1)  # a race lost at the feedback key would raise
    # The winner is another writer paused mid-batch, its feedback row written, uncommitted.
    # The loser is this writer, its connection noted as its batch begins.
    written, release, losers_connection = threading.Event(), threading.Event(), []
    insert_feedback, lookup = ledger._insert_feedback, ledger._lookup

    def insert_then_pause(connection: Any, rows: Any, now: Any) -> None:
        insert_feedback(connection, rows, now)
        if threading.current_thread().name.startswith("winner"):
            written.set()
            release.wait(60)

    def note_then_lookup(connection: Any, request_ids: Any) -> Any:
        if threading.current_thread().name.startswith("loser"):
            losers_connection.append(_connection_id(connection))
        return lookup(connection, request_ids)

    monkeypatch.setattr(ledger, "_insert_feedback", insert_then_pause)
    monkeypatch.setattr(ledger, "_lookup", note_then_lookup)
    with (
        ThreadPoolExecutor(1, thread_name_prefix="winner") as winners,
        ThreadPoolExecutor(1, thread_name_prefix="loser") as losers,
    ):
        try:
            won = winners.submit(books.settle_batch, [_feedback(request_id, CLICK)])
            assert written.wait(30), won.exception(0) if won.done() else "the winner stalled"
            lost = losers.submit(books.settle_batch, [_feedback(request_id, CLICK)])
            deadline = time.monotonic() + 30
            while not (losers_connection and _running_a_statement(database, losers_connection[0])):
                assert not lost.done() and time.monotonic() < deadline, "the batch did not wait"
                time.sleep(0.01)
        finally:
            release.set()
        (first,) = won.result(30)
        (second,) = lost.result(30)  # the loser's error, were it refused, raises here

    assert _recorded(first) == Recorded(
        request_id, state.spec.campaign_id, "click", Decimal("0.001"), duplicate=False
    )
    assert _recorded(second) == dataclasses.replace(first, duplicate=True)
    assert money(database, state.spec.campaign_id).spent == Decimal("0.001")  # charged once
    assert feedback_count(database, [request_id]) == 1


def test_many_charges_to_one_campaign_in_one_batch_stop_at_the_budget_and_exhaust_it(
    stack: Settings, database: Engine, books: Ledger
) -> None:
    state = stored.campaign(database, stack, budget="0.1", cpa="0.04")
    request_ids = stored.served_ads(database, state, count=5, auction_cpa=Decimal("0.04"))

    outcomes = books.settle_batch([_feedback(rid, ACQUISITION) for rid in request_ids])

    charged = [_recorded(outcome).expenditure for outcome in outcomes]
    assert charged == [Decimal("0.04"), Decimal("0.04"), Decimal("0.02"), Decimal(0), Decimal(0)]
    assert money(database, state.spec.campaign_id).spent == Decimal("0.1")
    assert status(database, state.spec.campaign_id) == ("INACTIVE", "budget exhausted")


def test_charges_in_one_batch_draw_the_slot_budget_down_one_after_another(
    stack: Settings, database: Engine, books: Ledger
) -> None:
    state = stored.campaign(database, stack)
    with database.begin() as connection:
        connection.execute(
            update(campaigns)
            .where(campaigns.c.campaign_id == state.spec.campaign_id)
            .values(slot_budget=Decimal("0.05"))
        )
    request_ids = stored.served_ads(database, state, count=4, auction_cpc=Decimal("0.02"))
    views = stored.served_ads(database, state, count=2)

    outcomes = books.settle_batch(
        [_feedback(rid, CLICK) for rid in request_ids] + [_feedback(rid, VIEW) for rid in views]
    )

    # The slot budget bounds serving, not a charge: the third takes it past what was left,
    # and it stays at 0 (docs/design.md rule 6, as built); views cost nothing.
    assert [_recorded(o).expenditure for o in outcomes] == [Decimal("0.02")] * 4 + [Decimal(0)] * 2
    after = money(database, state.spec.campaign_id)
    assert (after.spent, after.slot_budget) == (Decimal("0.08"), Decimal(0))


def test_batches_locking_the_same_campaigns_in_opposite_orders_do_not_deadlock(
    stack: Settings, database: Engine, books: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger, "ATTEMPTS", 1)  # a deadlock would now fail its batch
    first, second = (stored.campaign(database, stack) for _ in range(2))
    rounds = 20
    ads = {
        state.spec.campaign_id: stored.served_ads(
            database, state, count=2 * rounds, auction_cpc=Decimal("0.001")
        )
        for state in (first, second)
    }
    a, b = ads[first.spec.campaign_id], ads[second.spec.campaign_id]
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def settle(batches: list[list[str]]) -> None:
        try:
            for batch in batches:
                start.wait(10)
                for outcome in books.settle_batch([_feedback(rid, CLICK) for rid in batch]):
                    _recorded(outcome)
        except BaseException as error:
            failures.append(error)
            start.abort()

    threads = [
        threading.Thread(target=settle, args=([[a[n], b[n]] for n in range(rounds)],)),
        threading.Thread(
            target=settle, args=([[b[rounds + n], a[rounds + n]] for n in range(rounds)],)
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert failures == []
    assert money(database, first.spec.campaign_id).spent == Decimal("0.040")
    assert money(database, second.spec.campaign_id).spent == Decimal("0.040")


@pytest.fixture
def refused(database: Engine) -> Iterator[str]:
    """refused is a request id whose feedback row MySQL refuses (a trigger, dropped after)."""
    request_id = str(uuid.uuid4())
    name = f"refuse_{uuid.uuid4().hex[:12]}"
    with database.begin() as connection:
        connection.execute(
            text(
                f"CREATE TRIGGER {name} BEFORE INSERT ON feedback FOR EACH ROW "
                f"IF NEW.request_id = '{request_id}' THEN "
                "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test'; END IF"
            )
        )
    try:
        yield request_id
    finally:
        with database.begin() as connection:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


async def _record_together(
    books: Ledger, batch: list[FeedbackRequest]
) -> list[Recorded | BaseException]:
    """_record_together submits batch at once through the flow object: one batch, bisected."""
    recording = FeedbackRecording(books, lambda: None, linger=0.2)
    try:
        return await asyncio.gather(
            *(recording.record(feedback, 10.0) for feedback in batch), return_exceptions=True
        )
    finally:
        await recording.close()


def test_a_refused_row_an_unknown_id_and_a_broken_campaign_fail_only_their_own_feedback(
    stack: Settings, database: Engine, books: Ledger, refused: str
) -> None:
    healthy, broken = stored.campaign(database, stack), stored.campaign(database, stack)
    good = stored.served_ads(database, healthy, count=4, auction_cpc=Decimal("0.001"))
    (poison,) = stored.served_ads(database, healthy)
    (unparsed,) = stored.served_ads(database, broken)
    with database.begin() as connection:  # MySQL takes it; the campaign library cannot read it
        connection.execute(
            update(campaigns)
            .where(campaigns.c.campaign_id == broken.spec.campaign_id)
            .values(status="NOT-A-STATUS")
        )
    # The served ad's request id is the one the trigger refuses.
    with database.begin() as connection:
        connection.execute(
            text("UPDATE served_ads SET request_id = :refused WHERE request_id = :poison"),
            {"refused": refused, "poison": poison},
        )
    unknown = str(uuid.uuid4())
    batch = [
        _feedback(good[0], CLICK),
        _feedback(refused, CLICK),
        _feedback(good[1], CLICK),
        _feedback(unknown, CLICK),
        _feedback(good[2], CLICK),
        _feedback(unparsed, CLICK),
        _feedback(good[3], VIEW),
    ]
    try:
        outcomes = asyncio.run(_record_together(books, batch))
    finally:
        with database.begin() as connection:
            connection.execute(
                update(campaigns)
                .where(campaigns.c.campaign_id == broken.spec.campaign_id)
                .values(status="INACTIVE")
            )

    kinds = [type(outcome).__name__ for outcome in outcomes]
    assert kinds[0::2] == ["Recorded"] * 4
    assert "refused by the test" in str(outcomes[1])
    assert isinstance(outcomes[3], NotFoundError)
    assert isinstance(outcomes[5], ValueError)
    assert [_recorded(outcomes[n]).expenditure for n in (0, 2, 4)] == [Decimal("0.001")] * 3
    assert money(database, healthy.spec.campaign_id).spent == Decimal("0.003")
    assert feedback_count(database, good) == 4
    assert feedback_count(database, [refused, unknown, unparsed]) == 0
