"""Maps domain errors to gRPC status codes, in one place, for every servicer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import grpc
from sqlalchemy.exc import OperationalError

from servers.errors import DomainError, NotFoundError, UnavailableError, ValidationError

log = logging.getLogger(__name__)

_CODES: tuple[tuple[type[DomainError], grpc.StatusCode], ...] = (
    (ValidationError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (UnavailableError, grpc.StatusCode.UNAVAILABLE),
)


def status_code(error: DomainError) -> grpc.StatusCode:
    """status_code is the gRPC status for a domain error (FAILED_PRECONDITION if unlisted)."""
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.FAILED_PRECONDITION


Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
UnaryBehavior: TypeAlias = Callable[[Any, Context], Awaitable[Any]]
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


class DomainErrorInterceptor(grpc.aio.ServerInterceptor):
    """DomainErrorInterceptor turns DomainError into the matching status and hides crashes.

    Unexpected exceptions become INTERNAL with a logged traceback, never a leaked message.
    """

    def __init__(self) -> None:
        self._wrapped: dict[str, Handler] = {}

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
            _mapping_errors(method, handler.unary_unary),  # type: ignore[arg-type]
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._wrapped[method] = wrapped
        return wrapped


def _mapping_errors(method: str, behavior: UnaryBehavior) -> UnaryBehavior:
    """_mapping_errors wraps one unary behaviour with the error mapping."""

    async def call(request: Any, context: Context) -> Any:
        try:
            return await behavior(request, context)
        except DomainError as error:
            await context.abort(status_code(error), str(error))
        except grpc.aio.AbortError:
            raise
        except OperationalError as error:  # MySQL unreachable or failing over: retryable
            log.warning("database unavailable in %s: %s", method, error.orig)
            await context.abort(grpc.StatusCode.UNAVAILABLE, "database unavailable; retry")
        except Exception:
            log.exception("unexpected error in %s", method)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return call
