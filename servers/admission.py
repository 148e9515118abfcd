"""ConcurrencyLimitInterceptor: a bounded number of calls in flight per server process.

A server that is full answers a new call at once, UNAVAILABLE with a RetryInfo and a
`retry-after` trailer (503 with Retry-After through Envoy), built by servers/status.py like
every other refusal; a client learns to back off in microseconds instead of waiting for
Envoy's deadline while the call queues behind thousands of others. The refused call's
behaviour never runs. grpc.health.v1 and reflection are never limited, so a health check
tells the truth about the process even while it sheds load.

grpc.aio's own `maximum_concurrent_rpcs` is not used: it answers RESOURCE_EXHAUSTED (429,
"slow down, you") without a retry hint, and it counts health checks too.
"""

from __future__ import annotations

from typing import Any

from servers import metrics
from servers.errors import DEFAULT_RETRY_AFTER, UnavailableError
from servers.interception import Context, UnaryBehavior, UnaryInterceptor
from servers.status import refusal

# NEVER_LIMITED are the method prefixes answered however full the server is.
NEVER_LIMITED = ("/grpc.health.v1.", "/grpc.reflection.")

# OVERLOADED answers a call that arrives while the server is full.
OVERLOADED = refusal(
    UnavailableError(
        "server is at its limit of calls in flight; retry", retry_after=DEFAULT_RETRY_AFTER
    )
)


class ConcurrencyLimitInterceptor(UnaryInterceptor):
    """ConcurrencyLimitInterceptor refuses a unary call at once when limit calls are in flight.

    It is the outermost interceptor: a refused call costs a counter and a trailer, not the
    metrics and error mapping of a call that runs. Refusals are counted apart, in
    `adplatform_rpc_shed_total`, rather than in `adplatform_rpc_requests_total`, so the
    latency histogram keeps describing work done. A limit of 0 turns it off. One server's
    calls all run on one event loop, so a plain count needs no lock.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.in_flight = 0

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """wrap counts the method's calls against the limit (health and reflection: never)."""
        if self.limit <= 0 or method.startswith(NEVER_LIMITED):
            return behavior
        shed = metrics.RPC_SHED.labels(method.rsplit("/", 1)[-1])

        async def call(request: Any, context: Context) -> Any:
            if self.in_flight >= self.limit:
                shed.inc()
                await context.abort(
                    OVERLOADED.code, OVERLOADED.message, OVERLOADED.trailing_metadata()
                )
            self.in_flight += 1
            try:
                return await behavior(request, context)
            finally:  # a crash, an abort or a cancelled call frees its place too
                self.in_flight -= 1

        return call
