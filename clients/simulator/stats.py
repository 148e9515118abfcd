"""Stats: what a simulation did, counted exactly (money as Decimal) and summarised."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

RESERVOIR = 20_000


@dataclass
class Latencies:
    """Latencies keeps a uniform sample of call durations (seconds) for percentiles."""

    seen: int = 0
    sample: list[float] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def add(self, seconds: float) -> None:
        """add records one duration (reservoir sampling keeps memory bounded)."""
        self.seen += 1
        if len(self.sample) < RESERVOIR:
            self.sample.append(seconds)
        else:
            slot = self.rng.randrange(self.seen)
            if slot < RESERVOIR:
                self.sample[slot] = seconds

    def percentile(self, fraction: float) -> float | None:
        """percentile is the duration below which fraction of calls finished, in ms."""
        if not self.sample:
            return None
        ordered = sorted(self.sample)
        return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)] * 1000


@dataclass
class Stats:
    """Stats counts requests, fills, feedback, money, errors and latencies of one run."""

    started: float = field(default_factory=time.monotonic)
    requests: int = 0
    filled: int = 0
    feedback: int = 0
    duplicates: int = 0
    clicks: int = 0
    acquisitions: int = 0
    spend: Decimal = Decimal(0)
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    serve_latency: Latencies = field(default_factory=Latencies)
    feedback_latency: Latencies = field(default_factory=Latencies)
    campaigns: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        """summary is the run as plain values (the CLI prints it and writes it as JSON)."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "seconds": round(elapsed, 1),
            "requests": self.requests,
            "requests_per_second": round(self.requests / elapsed, 1),
            "filled": self.filled,
            "fill_rate": round(self.filled / self.requests, 4) if self.requests else 0.0,
            "feedback": self.feedback,
            "duplicates": self.duplicates,
            "clicks": self.clicks,
            "acquisitions": self.acquisitions,
            "spend": str(self.spend),
            "campaigns_charged": sum(1 for n in self.campaigns.values() if n),
            "retries": self.retries,
            "errors": dict(self.errors),
            "serve_p50_ms": _round(self.serve_latency.percentile(0.5)),
            "serve_p99_ms": _round(self.serve_latency.percentile(0.99)),
            "feedback_p50_ms": _round(self.feedback_latency.percentile(0.5)),
            "feedback_p99_ms": _round(self.feedback_latency.percentile(0.99)),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
