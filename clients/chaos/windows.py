"""Window accounting: what the devices sent while a fault lasted, and how much of it succeeded.

Every call a device makes (each attempt, retries included) is counted in a 100 ms bucket by
the moment it was sent, its kind (serve or feedback) and whether it was answered; memory
stays bounded by the run's length, not its traffic. A fault's window runs from the moment
it was injected until its part served again. Pure: no clock is read here.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

SERVE = "serve"
FEEDBACK = "feedback"
KINDS = (SERVE, FEEDBACK)
BUCKET_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class Tally:
    """Tally is how many calls of one kind were sent in a window and how many were answered."""

    sent: int
    answered: int

    @property
    def success_rate(self) -> float | None:
        """success_rate is answered / sent (None when nothing was sent)."""
        return self.answered / self.sent if self.sent else None


class CallLog:
    """CallLog counts calls per 100 ms bucket since origin (seconds on the run's clock)."""

    def __init__(self, origin: float) -> None:
        self.origin = origin
        self.counts: Counter[tuple[int, str, bool]] = Counter()

    def _bucket(self, at: float) -> int:
        return math.floor((at - self.origin) / BUCKET_SECONDS)

    def add(self, at: float, kind: str, answered: bool) -> None:
        """add counts one call of kind sent at `at`, answered or not."""
        self.counts[(self._bucket(at), kind, answered)] += 1

    def tally(self, kind: str, start: float, end: float) -> Tally:
        """tally counts the calls of kind sent in [start, end), whole buckets only."""
        first, last = self._bucket(start), self._bucket(end)
        sent = answered = 0
        for (bucket, seen_kind, ok), count in self.counts.items():
            if seen_kind == kind and first <= bucket < max(last, first + 1):
                sent += count
                answered += count if ok else 0
        return Tally(sent, answered)

    def total(self, kind: str) -> Tally:
        """total counts every call of kind in the run."""
        sent = sum(n for (_, k, _), n in self.counts.items() if k == kind)
        answered = sum(n for (_, k, ok), n in self.counts.items() if k == kind and ok)
        return Tally(sent, answered)


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """FaultWindow is when one fault struck and when its part served again (None: never)."""

    name: str
    injected_at: float
    released_at: float  # the end of the hold (the injection itself for a kill)
    recovered_at: float | None
    pid_before: int | None
    pid_after: int | None
    note: str = ""

    @property
    def back_after(self) -> float | None:
        """back_after is how many seconds after the injection the part served again."""
        return None if self.recovered_at is None else self.recovered_at - self.injected_at

    def end(self, run_end: float) -> float:
        """end closes the window: recovery, or the end of the run when the part never came back."""
        return self.recovered_at if self.recovered_at is not None else run_end


@dataclass(frozen=True, slots=True)
class FaultReport:
    """FaultReport is one row of the per-fault table."""

    window: FaultWindow
    serve: Tally
    feedback: Tally


def report(log: CallLog, windows: list[FaultWindow], run_end: float) -> list[FaultReport]:
    """report tallies each fault's window; a window shorter than one bucket still gets one."""
    rows = []
    for window in windows:
        end = window.end(run_end)
        rows.append(
            FaultReport(
                window,
                log.tally(SERVE, window.injected_at, end),
                log.tally(FEEDBACK, window.injected_at, end),
            )
        )
    return rows
