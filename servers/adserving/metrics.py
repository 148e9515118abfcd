"""The AdServer's business metrics, recorded by its flow object (serving.AdServing).

Each worker records into its own files (multiprocess mode); the parent exports their sum
(exporter.py). The rule for what is recorded where is in servers/metrics.py.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

AUCTIONS = Counter(
    "adplatform_auctions_total", "ad requests by outcome (filled or no_fill)", ["outcome"]
)
BIDDERS = Histogram(
    "adplatform_auction_bidders",
    "eligible campaigns per auction",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
FREQUENCY_READS = Counter(
    "adplatform_frequency_reads_total",
    "ad requests that read their user's frequency counts (some eligible campaign is capped)",
)
