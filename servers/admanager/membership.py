"""Membership: when the instruction consumer has lost its place in the group for good.

A consumer whose group session times out (the broker unreachable longer than
`session.timeout.ms`) gives up its partitions and rejoins. Seen once after a 30 s Kafka
outage: librdkafka's rejoin failed on a timed-out request and never tried again, and the
consumer sat subscribed, owning no partition, applying nothing, while the process answered
health checks (every chaos run's Kafka freeze did it). The rule here notices: subscribed and
owning no partition for longer than PATIENCE_SECONDS means the consumer is stuck, and the Ad
Manager closes it and subscribes a fresh one, which joins at once and resumes from the
committed offsets (consumer.py).

A consumer group with more Ad Managers than partitions would leave one owning nothing, and this
rule would replace it every PATIENCE_SECONDS, harmlessly; the platform runs one per group.
"""

from __future__ import annotations

from dataclasses import dataclass

PATIENCE_SECONDS = 30.0  # three session timeouts: a rebalance takes a few seconds at most


@dataclass
class Membership:
    """Membership tracks since when the consumer owns no partition (monotonic seconds)."""

    unassigned_since: float | None
    patience: float = PATIENCE_SECONDS

    def assigned(self, partitions: int, now: float) -> None:
        """assigned records a new assignment of `partitions` partitions."""
        if partitions > 0:
            self.unassigned_since = None
        elif self.unassigned_since is None:
            self.unassigned_since = now

    def revoked(self, now: float) -> None:
        """revoked records that the consumer gave up (or lost) its partitions."""
        if self.unassigned_since is None:
            self.unassigned_since = now

    def stuck(self, now: float) -> bool:
        """stuck tells whether the consumer has owned nothing for longer than the patience."""
        return self.unassigned_since is not None and now - self.unassigned_since > self.patience
