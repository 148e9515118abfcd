"""Prometheus metrics every server shares: its RPCs, counted and timed at its door.

Names start with `adplatform_`; each process exports only the metrics it defines, on its own
metrics port. One rule says where a metric is recorded:

- a server's business outcomes (auctions, charges, spend, instructions applied) are
  recorded by its flow object, the one that holds its use case (AdServing, FeedbackRecording,
  Applier), and defined beside it in `servers/<server>/metrics.py`, so only that server's
  process registers and exports them;
- its doors count only refusals and transport: the RPC metrics here, recorded for every
  method by MetricsInterceptor (and refusals by the ConcurrencyLimitInterceptor), and the
  Ad Manager's consumer for the records it dead-letters and the consumers it replaces.

A server whose workers are separate processes (the AdServer) exports their sum through
prometheus_client's multiprocess mode (servers/exporter.py).
"""

from __future__ import annotations

import time
from typing import Any

import grpc
from prometheus_client import Counter, Histogram, start_http_server

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


def serve(host: str, port: int) -> None:
    """serve exports this process's metrics over HTTP at http://host:port/metrics.

    The AdServer's parent exports its workers' sum itself (servers/exporter.py).
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
