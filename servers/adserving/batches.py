"""Batches: many concurrent requests, one blocking call per batch, in a worker thread.

Group commit for writes (recorder.py) and coalesced reads (profiles.py). A caller submits an
item and awaits its result; a few drainer tasks each take everything queued (up to
max_batch), run the blocking handler over the whole batch in a thread and resolve the
callers' futures. Under load a batch grows by itself while the previous one is in flight;
a batch that is not full may also wait until its oldest item has lingered a moment
(Kafka's linger.ms), trading that much latency for fewer, larger batches: each batch has a
fixed cost (a thread hand-off, a statement, a commit). Items that queued while the previous
batch was in flight have lingered already, so under load the linger costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


class Batcher(Generic[T, R]):
    """Batcher runs handle(items) -> results (one per item, in order) for queued items.

    If handle raises, every item of that batch fails with the exception it raised.
    """

    def __init__(
        self,
        name: str,
        handle: Callable[[list[T]], Sequence[R]],
        max_batch: int = 500,
        drainers: int = 2,
        linger: float = 0.0,
    ) -> None:
        self.name = name
        self._handle = handle
        self._max_batch = max_batch
        self._drainer_count = drainers
        self._linger = linger
        self._queue: list[tuple[T, asyncio.Future[R], float]] = []  # item, result, queued at
        self._wakeup = asyncio.Event()
        self._drainers: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False

    async def submit(self, item: T) -> R:
        """submit queues item and returns its result once its batch has been handled."""
        if self._closing:
            raise RuntimeError(f"{self.name} is closed")
        if not self._drainers:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future, loop.time()))
        self._wakeup.set()
        return await future

    def _start(self) -> None:
        """_start creates the thread pool and the drainer tasks on the running loop."""
        self._executor = ThreadPoolExecutor(self._drainer_count, thread_name_prefix=self.name)
        self._drainers = [
            asyncio.create_task(self._drain(), name=f"{self.name}-{number}")
            for number in range(self._drainer_count)
        ]

    async def _drain(self) -> None:
        """_drain hands batches to the thread pool until closed and empty."""
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                continue
            waited = loop.time() - self._queue[0][2]
            if waited < self._linger and len(self._queue) < self._max_batch and not self._closing:
                await asyncio.sleep(self._linger - waited)  # let the batch fill up a little
                if not self._queue:
                    continue  # another drainer took it meanwhile
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            if not self._queue and not self._closing:
                self._wakeup.clear()
            items = [item for item, _, _ in batch]
            try:
                results = await loop.run_in_executor(self._executor, self._handle, items)
            except Exception as error:
                for _, future, _ in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future, _), result in zip(batch, results, strict=True):
                if not future.done():  # a caller whose RPC was cancelled is gone
                    future.set_result(result)

    async def close(self) -> None:
        """close handles what is queued, then stops the drainers and their threads."""
        self._closing = True
        self._wakeup.set()
        if self._drainers:
            await asyncio.gather(*self._drainers)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
