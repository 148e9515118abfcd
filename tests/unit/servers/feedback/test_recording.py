"""Tests for servers.feedback.recording: a MySQL that hangs gets devices a quick UNAVAILABLE.

The ledger is a stand-in that blocks like a transaction on a frozen MySQL; what is tested is
how long a device waits, that refused work never reaches the ledger, that work a device
stopped waiting for is not undone (its retry finds it, as ledger.py's duplicate answer) and
is still counted and still wakes the relay.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pymysql
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from servers.errors import NotFoundError, UnavailableError
from servers.feedback import feedback_request
from servers.feedback.feedback_request import FeedbackRequest
from servers.feedback.ledger import Ledger, Recorded
from servers.feedback.recording import DEADLINE_MARGIN, PATIENCE, FeedbackRecording, patience
from tests.polling import eventually

REQUEST_IDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(8)]


class FrozenLedger:
    """FrozenLedger holds every transaction until thawed; it remembers what it committed."""

    def __init__(self) -> None:
        self.thawed = threading.Event()
        self.started: list[str] = []
        self.committed: dict[str, Recorded] = {}
        self.silent = False  # True: a thawed call fails as a read timeout would

    def settle_batch(self, requests: list[FeedbackRequest]) -> list[Recorded | Exception]:
        return [self.submit(request) for request in requests]

    def close(self) -> None:
        pass

    def submit(self, request: FeedbackRequest) -> Recorded:
        self.started.append(request.request_id)
        self.thawed.wait(10)
        if self.silent:
            raise OperationalError("SELECT", None, pymysql.err.OperationalError(2013, "timed out"))
        first = self.committed.get(request.request_id)
        if first is not None:
            return Recorded(
                first.request_id, first.campaign_id, first.user_action, first.expenditure, True
            )
        result = Recorded(request.request_id, "c1", "click", Decimal("0.002"), duplicate=False)
        self.committed[request.request_id] = result
        return result


@pytest.fixture
def ledger() -> Iterator[FrozenLedger]:
    frozen = FrozenLedger()
    yield frozen
    frozen.thawed.set()


def _service(ledger: FrozenLedger, threads: int, **bounds: Any) -> FeedbackRecording:
    fake: Ledger = ledger  # type: ignore[assignment]
    return FeedbackRecording(fake, lambda: None, writers=threads, **bounds)


async def _submit(service: FeedbackRecording, request_id: str) -> Recorded:
    feedback = feedback_request.parse(request_id, 1, 1, 0)
    return await service.record(feedback, None)  # None: no deadline, the default patience


def _counted(name: str, labels: dict[str, str] | None = None) -> float:
    """_counted is a feedback metric's value in this process (0 before its first count)."""
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_a_feedback_mysql_does_not_answer_is_refused_after_patience(ledger: FrozenLedger) -> None:
    service = _service(ledger, threads=2, default_patience=0.2, stalled_after=5.0)

    async def run() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(UnavailableError, match="in time"):
            await _submit(service, REQUEST_IDS[0])
        return loop.time() - started

    assert 0.15 < asyncio.run(run()) < 0.5


def test_with_every_thread_stuck_new_feedback_is_refused_without_reaching_mysql(
    ledger: FrozenLedger,
) -> None:
    service = _service(ledger, threads=2, default_patience=0.1, stalled_after=0.2)

    async def run() -> float:
        for request_id in REQUEST_IDS[:2]:  # both ledger threads now hang
            with pytest.raises(UnavailableError):
                await _submit(service, request_id)
        await asyncio.sleep(0.2)  # held longer than stalled_after
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(UnavailableError, match="cannot reach"):
            await _submit(service, REQUEST_IDS[2])
        return loop.time() - started

    assert asyncio.run(run()) < 0.05
    assert ledger.started == REQUEST_IDS[:2]


def test_a_feedback_given_up_on_still_commits_and_its_retry_is_the_duplicate(
    ledger: FrozenLedger,
) -> None:
    service = _service(ledger, threads=1, default_patience=0.1, stalled_after=5.0)

    async def run() -> Recorded:
        with pytest.raises(UnavailableError):  # the device hears 503 ...
            await _submit(service, REQUEST_IDS[0])
        ledger.thawed.set()  # ... but the transaction commits once MySQL resumes
        return await _submit(service, REQUEST_IDS[0])

    retry = asyncio.run(run())
    assert retry.duplicate
    assert retry.expenditure == Decimal("0.002")  # what was charged, acknowledged once
    assert list(ledger.committed) == [REQUEST_IDS[0]]


def test_a_charge_committed_after_its_device_gave_up_is_counted_and_wakes_the_relay(
    ledger: FrozenLedger,
) -> None:
    wakes: list[str] = []
    fake: Ledger = ledger  # type: ignore[assignment]
    service = FeedbackRecording(fake, lambda: wakes.append("wake"), writers=1, default_patience=0.1)
    clicks = _counted("adplatform_charges_total", {"action": "click"})
    spend = _counted("adplatform_spend_total")

    async def run() -> None:
        with pytest.raises(UnavailableError):
            await _submit(service, REQUEST_IDS[0])

    asyncio.run(run())
    assert wakes == []  # not committed yet
    ledger.thawed.set()
    eventually(lambda: wakes == ["wake"], timeout=5)
    assert _counted("adplatform_charges_total", {"action": "click"}) == clicks + 1
    assert _counted("adplatform_spend_total") == pytest.approx(spend + 0.002)


def test_a_retry_is_counted_as_a_duplicate_not_as_a_charge(ledger: FrozenLedger) -> None:
    wakes: list[str] = []
    fake: Ledger = ledger  # type: ignore[assignment]
    service = FeedbackRecording(fake, lambda: wakes.append("wake"), writers=1)
    ledger.thawed.set()

    async def run() -> None:
        await _submit(service, REQUEST_IDS[0])
        clicks = _counted("adplatform_charges_total", {"action": "click"})
        duplicates = _counted("adplatform_feedback_duplicates_total")
        assert (await _submit(service, REQUEST_IDS[0])).duplicate
        assert _counted("adplatform_charges_total", {"action": "click"}) == clicks
        assert _counted("adplatform_feedback_duplicates_total") == duplicates + 1

    asyncio.run(run())
    assert wakes == ["wake"]  # the first charge only: a retry publishes nothing new


def test_a_caller_with_a_deadline_waits_it_less_the_margin_not_the_default(
    ledger: FrozenLedger,
) -> None:
    service = _service(ledger, threads=1, default_patience=5.0, stalled_after=5.0)

    async def run() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(UnavailableError, match="in time"):
            feedback = feedback_request.parse(REQUEST_IDS[0], 1, 0, 0)
            await service.record(feedback, DEADLINE_MARGIN + 0.2)
        return loop.time() - started

    assert 0.15 < asyncio.run(run()) < 1.0


def test_a_queued_feedback_whose_device_gave_up_never_runs(ledger: FrozenLedger) -> None:
    service = _service(ledger, threads=1, default_patience=0.1, stalled_after=5.0)

    async def run() -> None:
        first = asyncio.create_task(_submit(service, REQUEST_IDS[0]))
        await asyncio.sleep(0.02)  # the only thread holds the first
        with pytest.raises(UnavailableError):  # the second waits behind it, then gives up
            await _submit(service, REQUEST_IDS[1])
        with pytest.raises(UnavailableError):
            await first
        ledger.thawed.set()
        assert not (await _submit(service, REQUEST_IDS[2])).duplicate

    asyncio.run(run())
    assert ledger.started == [REQUEST_IDS[0], REQUEST_IDS[2]]


def test_after_a_transaction_went_unanswered_one_feedback_probes_at_a_time(
    ledger: FrozenLedger,
) -> None:
    service = _service(ledger, threads=4, default_patience=2.0, stalled_after=5.0)
    ledger.silent = True

    async def run() -> None:
        ledger.thawed.set()  # calls end at once, as read timeouts
        with pytest.raises(OperationalError):
            await _submit(service, REQUEST_IDS[0])
        ledger.thawed.clear()
        ledger.silent = False
        probe = asyncio.create_task(_submit(service, REQUEST_IDS[1]))
        await asyncio.sleep(0.02)
        with pytest.raises(UnavailableError, match="cannot reach"):  # three threads free
            await _submit(service, REQUEST_IDS[2])
        ledger.thawed.set()  # MySQL answers the probe: feedback flows again
        assert not (await probe).duplicate
        assert not (await _submit(service, REQUEST_IDS[3])).duplicate

    asyncio.run(run())
    assert REQUEST_IDS[2] not in ledger.started


def test_a_call_without_a_deadline_waits_the_default_one_with_its_own_deadline_less_a_margin() -> (
    None
):
    assert patience(None) == PATIENCE
    assert patience(10.0) == 10.0 - DEADLINE_MARGIN
    assert patience(0.2) == 0.0  # already as good as gone: refused rather than left to expire


class MixedLedger:
    """MixedLedger settles a batch as the ledger does when one feedback names no served ad."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def settle_batch(self, requests: list[FeedbackRequest]) -> list[Recorded | Exception]:
        self.batches.append([request.request_id for request in requests])
        return [
            NotFoundError("served ad", request.request_id)
            if request.request_id == REQUEST_IDS[1]
            else Recorded(request.request_id, "c1", "click", Decimal("0.002"), duplicate=False)
            for request in requests
        ]

    def close(self) -> None:
        pass


def test_feedback_that_arrives_together_is_one_batch_and_one_failure_fails_only_its_caller() -> (
    None
):
    mixed = MixedLedger()
    fake: Ledger = mixed  # type: ignore[assignment]
    wakes: list[str] = []
    service = FeedbackRecording(fake, lambda: wakes.append("wake"), linger=0.05)
    clicks = _counted("adplatform_charges_total", {"action": "click"})

    async def run() -> list[Recorded | BaseException]:
        calls = (_submit(service, request_id) for request_id in REQUEST_IDS[:3])
        try:
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await service.close()

    first, missing, third = asyncio.run(run())
    assert mixed.batches == [REQUEST_IDS[:3]]  # one transaction for the three
    assert isinstance(missing, NotFoundError)
    assert isinstance(first, Recorded) and isinstance(third, Recorded)
    assert _counted("adplatform_charges_total", {"action": "click"}) == clicks + 2
    assert wakes == ["wake"]  # once per batch that charged
