"""Reads the servers' Prometheus metrics for `stack status`: the few numbers an operator wants."""

from __future__ import annotations

import urllib.request
from collections import defaultdict
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from deploy.stack.services import GrpcService


@dataclass(frozen=True)
class KeyMetrics:
    """KeyMetrics is one server's headline numbers, summed over its label values."""

    part: str
    requests: float
    errors: float
    p99_ms: float | None
    extra: dict[str, float]


# The business counters worth a glance, by metric sample name and how to label them.
_EXTRA = {
    "adplatform_auctions_total": "outcome",
    "adplatform_charges_total": "action",
    "adplatform_spend_total": "",
    "adplatform_feedback_duplicates_total": "",
    "adplatform_outbox_lag_seconds": "",
    "adplatform_outbox_published_total": "",
    "adplatform_instructions_total": "result",
}


def _p99(buckets: dict[float, float]) -> float | None:
    """_p99 is the upper bound of the bucket holding the 99th percentile, in milliseconds."""
    if not buckets:
        return None
    total = buckets.get(float("inf"), 0.0)
    if total == 0:
        return None
    for bound in sorted(buckets):
        if buckets[bound] >= 0.99 * total:
            return bound * 1000
    return None


def parse(part: str, text: str) -> KeyMetrics:
    """parse reduces a /metrics page to the part's KeyMetrics."""
    requests = errors = 0.0
    buckets: dict[float, float] = defaultdict(float)
    extra: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "adplatform_rpc_requests_total":
                if sample.labels.get("method") in ("Check", "Watch"):
                    continue  # health checks are not traffic
                requests += sample.value
                if sample.labels.get("code") != "OK":
                    errors += sample.value
            elif sample.name == "adplatform_rpc_seconds_bucket":
                if sample.labels.get("method") not in ("Check", "Watch"):
                    buckets[float(sample.labels["le"])] += sample.value
            elif sample.name in _EXTRA:
                label = _EXTRA[sample.name]
                short = sample.name.removeprefix("adplatform_").removesuffix("_total")
                key = f"{short}:{sample.labels[label]}" if label else short
                extra[key] += sample.value
    return KeyMetrics(part, requests, errors, _p99(dict(buckets)), dict(extra))


def scrape(service: GrpcService) -> KeyMetrics | None:
    """scrape reads one server's metrics, or None when it does not answer."""
    url = f"http://{service.settings.host}:{service.metrics_port()}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return parse(service.name, reply.read().decode())
    except OSError:
        return None
