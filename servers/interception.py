"""UnaryInterceptor: the shared shape of the servers' interceptors.

Each wraps every unary method's behaviour once, on its first call, and reuses the wrapped
handler afterwards, so the per-call cost is just the wrapper itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import grpc

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
UnaryBehavior: TypeAlias = Callable[[Any, Context], Awaitable[Any]]
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Deserializer: TypeAlias = Callable[[bytes], Any]


class UnaryInterceptor(grpc.aio.ServerInterceptor):
    """UnaryInterceptor wraps unary behaviours with `wrap`, which subclasses define."""

    def __init__(self) -> None:
        self._wrapped: dict[str, Handler] = {}

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """wrap returns the behaviour to run instead of behavior for the full method name."""
        raise NotImplementedError

    def read_with(self, deserializer: Deserializer | None) -> Deserializer | None:
        """read_with is the request deserializer to use instead of deserializer (the same)."""
        return deserializer

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        """intercept_service wraps each unary method once and reuses the wrapper."""
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None:
            return cached
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        wrapped = grpc.unary_unary_rpc_method_handler(
            self.wrap(method, handler.unary_unary),  # type: ignore[arg-type]
            request_deserializer=self.read_with(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
        self._wrapped[method] = wrapped
        return wrapped
