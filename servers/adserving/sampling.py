"""Sampling: what one ad request's auction looked like, for delivery diagnostics.

The serving path (serving.py) builds a DeliverySample for one request in
settings.diagnostics_sample_every and hands it to a SampleSink; the diagnostics counters
(diagnostics.py) add it up per campaign and minute. Pure data: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeliverySample:
    """DeliverySample is one sampled request: which campaigns got how far, and who won at what."""

    at: datetime  # UTC instant of the request
    matched: Sequence[str]  # campaigns whose targeting matched the viewer (servable or not)
    frequency_capped: Sequence[str]  # matched and servable, but the user is at their cap
    below_floor: Sequence[str]  # matched and servable, but bidding under the request's floor
    entered: Sequence[str]  # campaigns that entered the auction (eligible after floor and caps)
    winner: str | None  # the campaign served; None on no fill
    clearing_cpm: Decimal | None  # what the winner paid per thousand; None on no fill


class SampleSink(Protocol):
    """SampleSink takes sampled requests; observe must not block or raise."""

    def observe(self, sample: DeliverySample) -> None:
        """observe adds one sampled request to the counters."""
