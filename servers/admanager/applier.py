"""Applier: one campaign instruction, one MySQL transaction (docs/design.md rule 8).

Reads the campaign's row under lock, resolves and applies the instruction with the pure
rules in servers.campaigns.instructions, and writes the new state. A replay (a record at or
before the stored position, see instructions.already_applied) changes nothing, so redelivery after
a crash is harmless. The applier is the Ad Manager's flow object: it counts what applying did
(`adplatform_instructions_total`, applied or replay); its door, the consumer, counts only
the records it refuses (servers/metrics.py has the rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from servers.admanager import metrics
from servers.campaigns import store
from servers.campaigns.instructions import already_applied, apply, resolve
from servers.campaigns.pricing import Weights
from servers.campaigns.wire import Message


@dataclass(frozen=True, slots=True)
class Position:
    """Position is where a record sits in the instruction log."""

    offset: int
    partition: int
    timestamp_ms: int


class Applier:
    """Applier writes instructions into the campaigns table."""

    def __init__(self, engine: Engine, weights: Weights, tz: ZoneInfo) -> None:
        self.engine = engine
        self.weights = weights
        self.tz = tz

    def apply(self, message: Message, position: Position) -> None:
        """apply runs one instruction in its own transaction and counts it, applied or replay.

        Raises ValidationError for a message that cannot be applied (nothing is written).
        """
        with self.engine.begin() as connection:
            applied = self._apply(connection, message, position)
        # Counted once committed: a transaction MySQL refused is retried, and counted then.
        metrics.INSTRUCTIONS.labels("applied" if applied else "replay").inc()

    def _apply(self, connection: Connection, message: Message, position: Position) -> bool:
        """_apply resolves and writes the instruction; False when it was a replay."""
        now = datetime.now(UTC)
        current = store.load_for_update(connection, message.campaign_id)
        if already_applied(current, position.offset, position.partition, position.timestamp_ms):
            return False
        instruction = resolve(
            current,
            message.action,
            message.fields,
            sequence=position.offset,
            partition=position.partition,
            record_ms=position.timestamp_ms,
            mask=message.mask,
            reason=message.reason,
            allow_blank_text=message.from_feed,
        )
        outcome = apply(current, instruction, now, self.tz)
        store.save(connection, store.to_row(outcome.state, self.weights, self.tz, now))
        return True
