"""Maps domain errors to gRPC status codes, in one place, for every servicer."""

from __future__ import annotations

import logging
from typing import Any

import grpc
from sqlalchemy.exc import OperationalError

from servers.errors import DomainError, NotFoundError, UnavailableError, ValidationError
from servers.interception import Context, UnaryBehavior, UnaryInterceptor

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


class DomainErrorInterceptor(UnaryInterceptor):
    """DomainErrorInterceptor turns DomainError into the matching status and hides crashes.

    Unexpected exceptions become INTERNAL with a logged traceback, never a leaked message.
    """

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """wrap adds the error mapping to one method."""
        return _mapping_errors(method, behavior)


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
