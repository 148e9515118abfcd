"""Prometheus metrics of the platform's servers, each exported on the server's metrics port.

Names start with `adplatform_`. RPC counts and latencies are recorded for every method by
MetricsInterceptor; the business metrics (auctions, charges, spend, outbox lag, instructions)
are recorded where they happen. A server whose workers are separate processes (the AdServer)
exports their sum through prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import time
from typing import Any

import grpc
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from servers.interception import Context, UnaryBehavior, UnaryInterceptor

RPC_REQUESTS = Counter(
    "adplatform_rpc_requests_total",
    "gRPC calls handled, by method and status code",
    ["method", "code"],
)
RPC_SHED = Counter(
    "adplatform_rpc_shed_total",
    "gRPC calls refused UNAVAILABLE at once because the server was full, by method",
    ["method"],
)
RPC_SECONDS = Histogram(
    "adplatform_rpc_seconds",
    "gRPC call latency in seconds, by method",
    ["method"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
AUCTIONS = Counter(
    "adplatform_auctions_total", "ad requests by outcome (filled or no_fill)", ["outcome"]
)
BIDDERS = Histogram(
    "adplatform_auction_bidders",
    "eligible campaigns per auction",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
CHARGES = Counter("adplatform_charges_total", "feedback recorded, by user action", ["action"])
DUPLICATES = Counter("adplatform_feedback_duplicates_total", "feedback retries answered")
SPEND = Counter(
    "adplatform_spend_total", "expenditure charged (a monitoring figure; the ledger is MySQL)"
)
OUTBOX_LAG = Gauge(
    "adplatform_outbox_lag_seconds",
    "age of the oldest feedback event not yet on Kafka",
    multiprocess_mode="max",
)
OUTBOX_PUBLISHED = Counter("adplatform_outbox_published_total", "feedback events published")
INSTRUCTIONS = Counter(
    "adplatform_instructions_total",
    "campaign instructions consumed, by result",
    ["result"],
)
CONSUMER_REPLACEMENTS = Counter(
    "adplatform_consumer_replacements_total",
    "instruction consumers replaced for owning no partition too long (stuck outside the group)",
)


def serve(host: str, port: int) -> None:
    """serve exports this process's metrics over HTTP at http://host:port/metrics.

    The AdServer's parent exports its workers' sum itself (servers/adserving/exporter.py).
    """
    start_http_server(port, addr=host)


class MetricsInterceptor(UnaryInterceptor):
    """MetricsInterceptor counts and times every unary call by method and status code."""

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """wrap adds the counter and histogram of the method's short name."""
        return _timed(method.rsplit("/", 1)[-1], behavior)


def _timed(method: str, behavior: UnaryBehavior) -> UnaryBehavior:
    """_timed wraps one behaviour with its counter and histogram (children resolved once)."""
    seconds = RPC_SECONDS.labels(method)
    ok = RPC_REQUESTS.labels(method, "OK")

    async def call(request: Any, context: Context) -> Any:
        started = time.perf_counter()
        try:
            reply = await behavior(request, context)
        except BaseException:
            code = context.code()
            RPC_REQUESTS.labels(method, code.name if code else "UNKNOWN").inc()
            raise
        finally:
            seconds.observe(time.perf_counter() - started)
        code = context.code()
        if code is None or code == grpc.StatusCode.OK:
            ok.inc()
        else:
            RPC_REQUESTS.labels(method, code.name).inc()
        return reply

    return call
