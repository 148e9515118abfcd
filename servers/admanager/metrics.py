"""The Ad Manager's metrics: instructions by their result, and consumers replaced.

The applier, its flow object, counts what applying did (`applied`, `replay`); the consumer,
its Kafka door, counts the records it refused (`dead_letter`) and the consumers it replaced
for being stuck outside the group. The rule for what is recorded where is in
servers/metrics.py.
"""

from __future__ import annotations

from prometheus_client import Counter

INSTRUCTIONS = Counter(
    "adplatform_instructions_total",
    "campaign instructions consumed, by result",
    ["result"],
)
CONSUMER_REPLACEMENTS = Counter(
    "adplatform_consumer_replacements_total",
    "instruction consumers replaced for owning no partition too long (stuck outside the group)",
)
