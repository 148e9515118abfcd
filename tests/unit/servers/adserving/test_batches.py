"""Tests for servers.adserving.batches: group commit and coalesced reads."""

from __future__ import annotations

import asyncio
import threading

import pytest

from servers.adserving.batches import Batcher


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
