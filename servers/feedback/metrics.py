"""The FeedbackService's business metrics: charges by its flow object, the outbox by its relay.

FeedbackRecording (recording.py) counts what the ledger recorded; the relay (relay.py), the
door between the outbox and Kafka, reports what it published and how far behind it is. The
rule for what is recorded where is in servers/metrics.py.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CHARGES = Counter("adplatform_charges_total", "feedback recorded, by user action", ["action"])
DUPLICATES = Counter("adplatform_feedback_duplicates_total", "feedback retries answered")
SPEND = Counter(
    "adplatform_spend_total", "expenditure charged (a monitoring figure; the ledger is MySQL)"
)
OUTBOX_LAG = Gauge(
    "adplatform_outbox_lag_seconds",
    "age of the oldest feedback event not yet on Kafka",
    multiprocess_mode="livemax",
)
OUTBOX_PUBLISHED = Counter("adplatform_outbox_published_total", "feedback events published")
