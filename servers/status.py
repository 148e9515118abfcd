"""Maps domain errors to gRPC statuses with structured details, in one place, for every servicer.

Each refusal carries, beside the human message, a google.rpc.Status in the
`grpc-status-details-bin` trailer: INVALID_ARGUMENT a BadRequest naming each wrong field,
NOT_FOUND a ResourceInfo, UNAVAILABLE and RESOURCE_EXHAUSTED a RetryInfo (and a `retry-after`
trailer that Envoy passes on as an HTTP header). Envoy's transcoder renders the Status as the
JSON error body. docs/errors.md shows both forms.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]  # no py.typed

from servers.errors import (
    DEFAULT_RETRY_AFTER,
    DomainError,
    FieldViolation,
    NotFoundError,
    ResourceExhaustedError,
    UnavailableError,
    ValidationError,
)
from servers.interception import Context, Deserializer, UnaryBehavior, UnaryInterceptor
from servers.storage.faults import is_transient

log = logging.getLogger(__name__)

# DETAILS_KEY is the trailer gRPC clients read the google.rpc.Status from.
DETAILS_KEY = "grpc-status-details-bin"
# RETRY_AFTER_KEY is the trailer (and, through Envoy, HTTP header) with the wait in seconds.
RETRY_AFTER_KEY = "retry-after"

Metadata: TypeAlias = tuple[tuple[str, str | bytes], ...]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Refusal is how a failed call is answered: code, human message and structured details."""

    code: grpc.StatusCode
    message: str
    details: tuple[Message, ...] = ()
    retry_after: float | None = None

    def status(self) -> status_pb2.Status:
        """status is the google.rpc.Status sent in the details trailer."""
        packed = []
        for detail in self.details:
            any_detail = any_pb2.Any()
            any_detail.Pack(detail)
            packed.append(any_detail)
        return status_pb2.Status(code=self.code.value[0], message=self.message, details=packed)

    def trailing_metadata(self) -> Metadata:
        """trailing_metadata is the details trailer, plus retry-after when a wait is advised."""
        metadata: list[tuple[str, str | bytes]] = []
        if self.details:
            metadata.append((DETAILS_KEY, self.status().SerializeToString()))
        if self.retry_after is not None:
            metadata.append((RETRY_AFTER_KEY, str(math.ceil(self.retry_after))))
        return tuple(metadata)


def bad_request(violations: Sequence[FieldViolation]) -> error_details_pb2.BadRequest:
    """bad_request is the BadRequest detail naming each wrong field and why."""
    return error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in violations
        ]
    )


def retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    """retry_info is the RetryInfo detail advising a wait of seconds before retrying."""
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(round(seconds * 1e9))
    return error_details_pb2.RetryInfo(retry_delay=delay)


def _retryable(code: grpc.StatusCode, message: str, seconds: float) -> Refusal:
    """_retryable is a refusal worth retrying after seconds."""
    return Refusal(code, message, (retry_info(seconds),), retry_after=seconds)


def refusal(error: DomainError) -> Refusal:
    """refusal is the answer to a domain error (FAILED_PRECONDITION, bare, if unlisted)."""
    message = str(error)
    match error:
        case ValidationError():
            return Refusal(
                grpc.StatusCode.INVALID_ARGUMENT, message, (bad_request(error.violations),)
            )
        case NotFoundError():
            resource = error_details_pb2.ResourceInfo(
                resource_type=error.kind, resource_name=error.key, description=message
            )
            return Refusal(grpc.StatusCode.NOT_FOUND, message, (resource,))
        case UnavailableError():
            return _retryable(grpc.StatusCode.UNAVAILABLE, message, error.retry_after)
        case ResourceExhaustedError():
            return _retryable(grpc.StatusCode.RESOURCE_EXHAUSTED, message, error.retry_after)
    return Refusal(grpc.StatusCode.FAILED_PRECONDITION, message)


# DATABASE_UNAVAILABLE answers a call whose database is unreachable or failing over.
DATABASE_UNAVAILABLE = _retryable(
    grpc.StatusCode.UNAVAILABLE, "database unavailable; retry", DEFAULT_RETRY_AFTER
)
# INTERNAL_ERROR answers a crash: no message or detail that could leak what went wrong.
INTERNAL_ERROR = Refusal(grpc.StatusCode.INTERNAL, "internal error")


class DomainErrorInterceptor(UnaryInterceptor):
    """DomainErrorInterceptor turns DomainError into the matching status and hides crashes.

    Unexpected exceptions become INTERNAL with a logged traceback, never a leaked message.
    """

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """wrap adds the error mapping to one method."""
        return _mapping_errors(method, behavior)

    def read_with(self, deserializer: Deserializer | None) -> Deserializer | None:
        """read_with keeps a request that does not decode for the behaviour to refuse.

        gRPC would answer such a request (a string field that is not UTF-8, which Envoy
        passes on from a percent-encoded path) with a bare INTERNAL or UNKNOWN.
        """
        if deserializer is None:
            return None
        read = deserializer

        def tolerant(data: bytes) -> Any:
            try:
                return read(data)
            except DecodeError as error:
                return Undecodable(str(error))

        return tolerant


@dataclass(frozen=True, slots=True)
class Undecodable:
    """Undecodable stands for a request whose bytes are not its message."""

    reason: str

    def refusal(self) -> Refusal:
        """refusal names the whole request: protobuf does not say which field was wrong."""
        problem = self.reason.rpartition(": ")[2] or "malformed"
        return refusal(ValidationError("request", f"cannot be decoded: {problem}"))


async def _abort(context: Context, answer: Refusal) -> None:
    """_abort ends the call with the refusal's status, message and trailers."""
    await context.abort(answer.code, answer.message, answer.trailing_metadata())


def _mapping_errors(method: str, behavior: UnaryBehavior) -> UnaryBehavior:
    """_mapping_errors wraps one unary behaviour with the error mapping."""

    async def call(request: Any, context: Context) -> Any:
        if isinstance(request, Undecodable):
            await _abort(context, request.refusal())
        try:
            return await behavior(request, context)
        except DomainError as error:
            await _abort(context, refusal(error))
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            if is_transient(error):  # MySQL unreachable or failing over: retryable
                log.warning("database unavailable in %s: %s", method, error)
                await _abort(context, DATABASE_UNAVAILABLE)
            else:
                log.exception("unexpected error in %s", method)
                await _abort(context, INTERNAL_ERROR)

    return call
