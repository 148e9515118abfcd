"""Stalls: telling a MySQL that hangs from one that is busy, before its calls time out.

A frozen MySQL (stopped, partitioned, its disk full) answers nothing: each call ends only
when the driver's read timeout fails it (servers/storage/db.py, 10 s), far past the 2 s a
device waits at Envoy. A server cannot tell a hung call from a slow one by looking at it,
but it can see that its workers have all been held by one call each for much longer than a
serving statement takes. The rule, for a pool of `workers` threads doing blocking calls:

    stalled  ⇔  every worker is busy, and each has been on its call for more than
                stalled_after seconds

           or  the last call to end got no answer from MySQL (timed out, connection lost)
                and a call is in flight: that call is the probe, and until MySQL answers
                it, or it too fails, no other is let through

While stalled, new work is refused at once (UNAVAILABLE, 503 with a retry hint through
Envoy) instead of being queued behind calls that will not end soon. After a failure one
call at a time probes whether MySQL is back, so a long freeze holds one worker, not all of
them each time their calls time out, and recovery needs no one: the first call MySQL
answers lifts the refusal. A busy but healthy MySQL never trips it: its calls end in
milliseconds, and one that ends resets its worker's clock.

Pure: the caller passes the time (time.monotonic() or the event loop's clock); a lock keeps
the count right when the workers report from their own threads.
"""

from __future__ import annotations

import itertools
import threading


class Stalls:
    """Stalls tracks when each busy worker started its call and says when all are stuck."""

    def __init__(self, workers: int, stalled_after: float) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.stalled_after = stalled_after
        self._started: dict[int, float] = {}  # call token -> when its worker took it
        self._tokens = itertools.count()
        self._unanswered = False  # the last call to end got no answer from MySQL
        self._lock = threading.Lock()

    def begin(self, now: float) -> int:
        """begin records that a worker took a call at now; returns the token to end it with."""
        with self._lock:
            token = next(self._tokens)
            self._started[token] = now
            return token

    def end(self, token: int, *, answered: bool = True) -> None:
        """end records that the call of token finished; answered is false if MySQL was silent.

        A call MySQL refused (a duplicate key, a bad value) was answered: only a timeout or a
        lost connection is not.
        """
        with self._lock:
            self._started.pop(token, None)
            self._unanswered = not answered

    def stalled(self, now: float) -> bool:
        """stalled is true when every worker has been on one call longer than stalled_after,
        or when MySQL left the last call unanswered and a probe is out."""
        with self._lock:
            if self._unanswered and self._started:
                return True
            if len(self._started) < self.workers:
                return False
            return now - max(self._started.values()) > self.stalled_after

    def busy(self) -> int:
        """busy is how many workers are on a call now."""
        with self._lock:
            return len(self._started)
