"""scrape.parse reduces a Prometheus page to the numbers `stack status` shows."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from deploy.stack.scrape import parse


def test_parse_sums_traffic_errors_and_business_counters() -> None:
    registry = CollectorRegistry()
    requests = Counter("adplatform_rpc_requests_total", "", ["method", "code"], registry=registry)
    seconds = Histogram(
        "adplatform_rpc_seconds", "", ["method"], buckets=(0.001, 0.01, 0.1), registry=registry
    )
    charges = Counter("adplatform_charges_total", "", ["action"], registry=registry)
    spend = Counter("adplatform_spend_total", "", registry=registry)
    requests.labels("SubmitFeedback", "OK").inc(98)
    requests.labels("SubmitFeedback", "NOT_FOUND").inc(2)
    requests.labels("Check", "OK").inc(1000)  # health checks are not traffic
    for _ in range(99):
        seconds.labels("SubmitFeedback").observe(0.0005)
    seconds.labels("SubmitFeedback").observe(0.05)
    charges.labels("click").inc(3)
    spend.inc(0.25)

    seen = parse("feedback-service", generate_latest(registry).decode())

    assert (seen.requests, seen.errors) == (100, 2)
    assert seen.p99_ms == 1.0
    assert seen.extra == {"charges:click": 3, "spend": 0.25}


def test_parse_of_an_idle_server() -> None:
    seen = parse("campaign-service", "")
    assert (seen.requests, seen.errors, seen.p99_ms, seen.extra) == (0, 0, None, {})
