"""Tests for servers.batches: group commit and coalesced reads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from servers.batches import Batcher
from servers.errors import UnavailableError


def test_concurrent_items_share_batches_and_get_their_own_results() -> None:
    seen: list[list[int]] = []
    started, release = threading.Event(), threading.Event()

    def handle(items: list[int]) -> list[int]:
        started.set()
        release.wait(5)  # the first batch holds on until everything else is queued
        seen.append(items)
        return [item * 10 for item in items]

    async def scenario() -> list[int]:
        batcher: Batcher[int, int] = Batcher("test", handle, max_batch=50, drainers=1)
        first = asyncio.create_task(batcher.submit(0))
        assert await asyncio.to_thread(started.wait, 5)  # the first batch is out, alone
        rest = [asyncio.create_task(batcher.submit(n)) for n in range(1, 121)]
        await asyncio.sleep(0)  # the submissions run up to their await
        release.set()
        results = await asyncio.gather(first, *rest)
        await batcher.close()
        return results

    assert asyncio.run(scenario()) == [n * 10 for n in range(121)]
    assert seen[0] == [0]
    assert [len(batch) for batch in seen[1:]] == [50, 50, 20]


def test_a_failed_batch_fails_each_of_its_items() -> None:
    def handle(items: list[int]) -> list[int]:
        raise ConnectionError("database gone")

    async def scenario() -> list[BaseException | int]:
        batcher: Batcher[int, int] = Batcher("test", handle)
        outcomes = await asyncio.gather(
            *(batcher.submit(n) for n in range(3)), return_exceptions=True
        )
        await batcher.close()
        return outcomes

    outcomes = asyncio.run(scenario())
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)


def test_close_handles_what_is_queued_then_refuses_more() -> None:
    handled: list[int] = []

    def handle(items: list[int]) -> list[None]:
        handled.extend(items)
        return [None] * len(items)

    async def scenario() -> None:
        batcher: Batcher[int, None] = Batcher("test", handle, drainers=2)
        pending = [asyncio.create_task(batcher.submit(n)) for n in range(10)]
        await asyncio.sleep(0)
        await batcher.close()
        await asyncio.gather(*pending)
        with pytest.raises(RuntimeError, match="closed"):
            await batcher.submit(99)

    asyncio.run(scenario())
    assert sorted(handled) == list(range(10))


def test_a_lingering_batch_takes_what_arrives_while_its_first_item_waits() -> None:
    seen: list[list[int]] = []

    def handle(items: list[int]) -> list[None]:
        seen.append(items)
        return [None] * len(items)

    async def scenario() -> None:
        batcher: Batcher[int, None] = Batcher("test", handle, drainers=1, linger=0.2)
        first = asyncio.create_task(batcher.submit(0))
        for _ in range(3):
            await asyncio.sleep(0)  # the drainer is lingering now, far from its 0.2 s
        rest = [asyncio.create_task(batcher.submit(n)) for n in range(1, 6)]
        await asyncio.gather(first, *rest)
        await batcher.close()

    asyncio.run(scenario())
    assert seen == [[0, 1, 2, 3, 4, 5]]


class RefusedError(Exception):
    """RefusedError stands for MySQL refusing a statement for what one of its rows holds."""


def _refusing(bad: set[int], calls: list[list[int]]) -> Callable[[list[int]], list[int]]:
    """_refusing handles a batch like a multi-row INSERT: all of it, or none if one is bad."""

    def handle(items: list[int]) -> list[int]:
        calls.append(items)
        if bad & set(items):
            raise RefusedError(f"refused: {sorted(bad & set(items))}")
        return [item * 10 for item in items]

    return handle


def _outcomes(batcher: Batcher[int, int], items: range) -> list[BaseException | int]:
    async def scenario() -> list[BaseException | int]:
        outcomes = await asyncio.gather(*(batcher.submit(n) for n in items), return_exceptions=True)
        await batcher.close()
        return outcomes

    return asyncio.run(scenario())


def _blames(error: Exception) -> bool:
    return isinstance(error, RefusedError)


@pytest.mark.parametrize("bad", [{0}, {13}, {499}, {7, 300}, set(range(0, 500, 50))])
def test_a_refused_item_fails_alone_and_the_others_get_their_results(bad: set[int]) -> None:
    calls: list[list[int]] = []
    handle = _refusing(bad, calls)
    batcher: Batcher[int, int] = Batcher(
        "test", handle, drainers=1, linger=0.05, blames_items=_blames
    )
    outcomes = _outcomes(batcher, range(500))
    for item, outcome in enumerate(outcomes):
        if item in bad:
            assert isinstance(outcome, RefusedError), (item, outcome)
        else:
            assert outcome == item * 10
    handled = [item for batch in calls if not bad & set(batch) for item in batch]
    assert sorted(handled) == sorted(set(range(500)) - bad)  # each good item handled once
    assert calls[0] == list(range(500))  # they all shared one batch
    if len(bad) == 1:  # finding one row costs about 2·log2(500) more calls
        assert len(calls) <= 1 + 2 * 9


def test_an_error_that_blames_no_item_fails_what_is_left_untried() -> None:
    calls: list[list[int]] = []

    def handle(items: list[int]) -> list[int]:
        calls.append(items)
        if 3 in items:
            raise RefusedError("row 3")
        if len(calls) > 2:  # the database goes away in the middle of the bisection
            raise ConnectionError("database gone")
        return items

    batcher: Batcher[int, int] = Batcher(
        "test", handle, drainers=1, linger=0.05, blames_items=_blames
    )
    outcomes = _outcomes(batcher, range(8))
    # [0..8) refused, [0..4) refused, then [0, 1] fails for the outage: nothing else is tried.
    assert calls == [list(range(8)), [0, 1, 2, 3], [0, 1]]
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)


def test_without_blame_a_refusal_still_fails_the_whole_batch() -> None:
    calls: list[list[int]] = []
    batcher: Batcher[int, int] = Batcher("test", _refusing({2}, calls), drainers=1, linger=0.05)
    outcomes = _outcomes(batcher, range(5))
    assert all(isinstance(outcome, RefusedError) for outcome in outcomes)
    assert calls == [list(range(5))]


def test_a_stuck_handler_fills_the_queue_and_callers_are_refused_at_once() -> None:
    release = threading.Event()

    def stuck(items: list[int]) -> list[int]:
        release.wait(10)  # MySQL hung
        return items

    async def run() -> None:
        batcher: Batcher[int, int] = Batcher("test", stuck, max_batch=2, drainers=1, max_queued=3)
        in_flight = [asyncio.create_task(batcher.submit(n)) for n in range(2)]
        await asyncio.sleep(0.05)  # both in the stuck batch
        in_flight += [asyncio.create_task(batcher.submit(n)) for n in range(2, 5)]
        await asyncio.sleep(0.05)  # three waiting: the queue is full
        started = asyncio.get_running_loop().time()
        with pytest.raises(UnavailableError):
            await batcher.submit(99)
        assert asyncio.get_running_loop().time() - started < 0.1
        release.set()
        assert await asyncio.gather(*in_flight) == [0, 1, 2, 3, 4]
        assert await batcher.submit(7) == 7  # room again once the handler moves
        await batcher.close()

    asyncio.run(run())


def test_a_batch_stuck_past_stalled_after_refuses_new_items_at_once() -> None:
    release = threading.Event()

    def stuck(items: list[int]) -> list[int]:
        release.wait(10)  # MySQL frozen
        return items

    async def run() -> None:
        batcher: Batcher[int, int] = Batcher(
            "test", stuck, drainers=1, stalled_after=0.1, patience=5.0
        )
        held = asyncio.create_task(batcher.submit(1))
        await asyncio.sleep(0.2)  # the writer's batch has been out longer than 0.1 s
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(UnavailableError, match="stuck"):
            await batcher.submit(2)
        assert loop.time() - started < 0.05
        release.set()
        assert await held == 1  # the item already in the batch is answered when it lands
        assert await batcher.submit(3) == 3  # the handler moved: accepted again
        await batcher.close()

    asyncio.run(run())


def test_a_caller_gives_up_after_patience_and_its_queued_item_is_never_handled() -> None:
    release = threading.Event()
    handled: list[list[int]] = []

    def stuck(items: list[int]) -> list[int]:
        handled.append(items)
        release.wait(10)
        return items

    async def run() -> None:
        batcher: Batcher[int, int] = Batcher(
            "test", stuck, drainers=1, stalled_after=5.0, patience=0.2
        )
        first = asyncio.create_task(batcher.submit(1))
        await asyncio.sleep(0.05)  # 1 is in the stuck batch; 2 waits behind it
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(UnavailableError, match="too long"):
            await batcher.submit(2)
        assert 0.15 < loop.time() - started < 0.5
        with pytest.raises(UnavailableError):  # 1 was in the batch: its caller gave up too
            await first
        release.set()
        assert await batcher.submit(3) == 3
        await batcher.close()

    asyncio.run(run())
    assert handled == [[1], [3]]  # 2 gave up while queued: never written


def test_after_a_batch_failed_unanswered_one_batch_probes_at_a_time() -> None:
    probing = threading.Event()
    release = threading.Event()
    calls: list[list[int]] = []

    def handle(items: list[int]) -> list[int]:
        calls.append(items)
        if len(calls) == 1:
            raise ConnectionError("lost connection (timed out)")  # blames no item
        probing.set()
        release.wait(10)
        return items

    async def run() -> None:
        batcher: Batcher[int, int] = Batcher("test", handle, drainers=2, patience=5.0)
        with pytest.raises(ConnectionError):
            await batcher.submit(1)
        probe = asyncio.create_task(batcher.submit(2))  # no batch out: this one probes
        assert await asyncio.to_thread(probing.wait, 5)
        with pytest.raises(UnavailableError, match="stuck"):  # a free drainer, yet refused
            await batcher.submit(3)
        release.set()
        assert await probe == 2  # MySQL answered the probe: open again
        assert await batcher.submit(4) == 4
        await batcher.close()

    asyncio.run(run())
    assert calls == [[1], [2], [4]]
