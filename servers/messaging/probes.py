"""A logger for Kafka clients that only probe: their failure is their answer, not log lines.

librdkafka logs every refused connection (to stderr unless given a logger). A probe that asks
whether a broker is up, or how far a consumer is behind, reports a broker that is down through
its own exception; the per-attempt lines would only flood the terminal of whoever asked.
"""

from __future__ import annotations

import logging

QUIET = logging.getLogger("adplatform.kafka-probe")
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False
