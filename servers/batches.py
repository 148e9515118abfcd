"""Batches: many concurrent requests, one blocking call per batch, in a worker thread.

Group commit for writes (recorder.py) and coalesced reads (profiles.py). A caller submits an
item and awaits its result; a few drainer tasks each take everything queued (up to
max_batch), run the blocking handler over the whole batch in a thread and resolve the
callers' futures. Under load a batch grows by itself while the previous one is in flight;
a batch that is not full may also wait until its oldest item has lingered a moment
(Kafka's linger.ms), trading that much latency for fewer, larger batches: each batch has a
fixed cost (a thread hand-off, a statement, a commit). Items that queued while the previous
batch was in flight have lingered already, so under load the linger costs nothing.

Bounds, so that a stuck handler (MySQL frozen) makes callers fail fast rather than pile up
until Envoy's deadline (2 s, then a 504):
- at most max_queued items wait; past that, submit refuses at once with UnavailableError;
- while every drainer's batch has been in flight longer than stalled_after, or while a
  batch probes a handler whose last batch failed whole for no item's fault
  (servers/storage/stalls.py), submit refuses at once with UnavailableError: the handler is
  stuck, and an item queued now would only wait;
- a caller waits at most patience for its result, then gets UnavailableError. An item still
  queued is then dropped, never handled; one already in a batch may still be handled (a
  served ad committed late), but its caller was not told it was, so nothing answered OK
  ever lacks its row.

Isolation: no item can fail another. When the handler raises an error that blames the items
(blames_items, e.g. MySQL refusing one row of a multi-row INSERT) the batch is bisected and
each half handled again, down to the single item at fault, which alone gets the error; the
others get their results. A batch of n items with one refused costs about 2·log2(n) more
calls. An error that does not blame the items (the database is out of reach) fails every
item not yet handled, untried, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

from servers.errors import UnavailableError
from servers.storage.stalls import Stalls

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

# MAX_QUEUED bounds the items waiting for a batch: far above what a working handler lets
# pile up (a few batches' worth), so only a stuck one (MySQL hung) reaches it, and callers
# then get UNAVAILABLE at once instead of waiting on a queue that only grows.
MAX_QUEUED = 5_000
# STALLED_AFTER: a batch is one short statement (milliseconds, tens under load); when every
# drainer's has run this long, the handler is stuck and new items are refused at once.
STALLED_AFTER = 0.5
# PATIENCE: how long a caller waits for its batch. A ServeAd may wait three times (profile,
# frequency counts, served ad); the serving budget (adserving/serving.py) bounds their sum
# inside Envoy's 2 s device deadline, with room for the answer.
PATIENCE = 0.75


@dataclass(frozen=True, slots=True)
class _Failed:
    """_Failed is an item's outcome when handling it raised error."""

    error: Exception


# _Entry is a queued item, the future its caller awaits, and when it was queued.
_Entry: TypeAlias = tuple[T, "asyncio.Future[R]", float]


def _never(error: Exception) -> bool:
    return False


class Batcher(Generic[T, R]):
    """Batcher runs handle(items) -> results (one per item, in order) for queued items.

    If handle raises, every item of that batch fails with the exception it raised, unless
    blames_items(exception) is true: then the batch is split until only the items at fault
    fail (handle must be safe to call again on part of a batch it refused).
    """

    def __init__(
        self,
        name: str,
        handle: Callable[[list[T]], Sequence[R]],
        *,
        max_batch: int = 500,
        drainers: int = 2,
        linger: float = 0.0,
        blames_items: Callable[[Exception], bool] = _never,
        max_queued: int = MAX_QUEUED,
        stalled_after: float = STALLED_AFTER,
        patience: float = PATIENCE,
    ) -> None:
        self.name = name
        self._max_queued = max_queued
        self._stalls = Stalls(drainers, stalled_after)
        self._patience = patience
        self._handle = handle
        self._blames_items = blames_items
        self._max_batch = max_batch
        self._drainer_count = drainers
        self._linger = linger
        self._queue: list[_Entry[T, R]] = []
        self._wakeup = asyncio.Event()
        self._drainers: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False

    async def submit(self, item: T) -> R:
        """submit queues item and returns its result once its batch has been handled."""
        if self._closing:
            raise RuntimeError(f"{self.name} is closed")
        if len(self._queue) >= self._max_queued:  # the handler is stuck or far behind
            raise UnavailableError(f"{self.name} is full; retry", retry_after=1.0)
        loop = asyncio.get_running_loop()
        if self._stalls.stalled(loop.time()):
            raise UnavailableError(f"{self.name} is stuck on the database; retry")
        if not self._drainers:
            self._start()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future, loop.time()))
        self._wakeup.set()
        # One timer per item (cheaper than wait_for's task): past patience the caller gets
        # UNAVAILABLE, and a drainer that meets the settled future skips the item.
        timer = loop.call_later(self._patience, self._give_up, future)
        try:
            return await future
        finally:
            timer.cancel()

    def _give_up(self, future: asyncio.Future[R]) -> None:
        """_give_up answers a caller that waited patience for its batch: UNAVAILABLE."""
        if not future.done():
            future.set_exception(UnavailableError(f"{self.name} took too long; retry"))

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
            batch = await self._take(loop)
            if batch:
                await self._run(batch, loop)

    async def _take(self, loop: asyncio.AbstractEventLoop) -> list[_Entry[T, R]]:
        """_take is the next batch, once its oldest item has lingered; callers gone are left out."""
        waited = loop.time() - self._queue[0][2]
        if waited < self._linger and len(self._queue) < self._max_batch and not self._closing:
            await asyncio.sleep(self._linger - waited)  # let the batch fill up a little
        taken = self._queue[: self._max_batch]  # empty if another drainer took it meanwhile
        del self._queue[: self._max_batch]
        if not self._queue and not self._closing:
            self._wakeup.clear()
        return [entry for entry in taken if not entry[1].done()]  # gave up, or cancelled

    async def _run(self, batch: list[_Entry[T, R]], loop: asyncio.AbstractEventLoop) -> None:
        """_run handles one batch on a thread, timed for the stall rule, and answers its callers."""
        items = [item for item, _, _ in batch]
        call = self._stalls.begin(loop.time())
        outcomes: list[R | _Failed] = []
        try:
            outcomes = await loop.run_in_executor(self._executor, self._outcomes, items)
        except Exception as error:  # handle broke its contract (a result per item)
            outcomes = [_Failed(error)] * len(batch)
        finally:
            self._stalls.end(call, answered=not self._unanswered(outcomes))
        for (_, future, _), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its caller gave up meanwhile, or its RPC was cancelled
                continue
            if isinstance(outcome, _Failed):
                future.set_exception(outcome.error)
            else:
                future.set_result(outcome)

    def _unanswered(self, outcomes: list[R | _Failed]) -> bool:
        """_unanswered is true when the whole batch failed for a reason not its items'."""
        return bool(outcomes) and all(
            isinstance(outcome, _Failed) and not self._blames_items(outcome.error)
            for outcome in outcomes
        )

    def _outcomes(self, items: list[T]) -> list[R | _Failed]:
        """_outcomes handles items, bisecting a batch whose error blames its items (in a thread).

        Parts are handled left to right, so items are handled in the order they came.
        """
        outcomes: list[R | _Failed] = []
        parts = [items]  # a stack: the leftmost part on top
        while parts:
            part = parts.pop()
            try:
                results = self._handle(part)
            except Exception as error:
                blamed = self._blames_items(error)
                if blamed and len(part) > 1:
                    if len(part) == len(items):
                        log.warning("%s: batch of %d refused; isolating", self.name, len(part))
                    middle = len(part) // 2
                    parts.extend((part[middle:], part[:middle]))
                    continue
                if blamed:  # this one item is at fault
                    outcomes.append(_Failed(error))
                    continue
                # Not the items' fault: the rest fail with it, untried.
                untried = len(part) + sum(len(waiting) for waiting in parts)
                outcomes.extend([_Failed(error)] * untried)
                break
            if len(results) != len(part):
                raise RuntimeError(f"{self.name}: {len(results)} results for {len(part)} items")
            outcomes.extend(results)
        return outcomes

    async def close(self) -> None:
        """close handles what is queued, then stops the drainers and their threads."""
        self._closing = True
        self._wakeup.set()
        if self._drainers:
            await asyncio.gather(*self._drainers)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
