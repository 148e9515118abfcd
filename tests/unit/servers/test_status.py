"""Tests of servers/status.py: each error's status, message and details, as a client reads them.

The mapping is checked as a pure function and through a real in-process gRPC server, so the
details trailer is proven to reach a client, not just to be built.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pymysql
import pytest
from adplatform.v1.campaign_service_pb2 import GetCampaignRequest
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from servers.errors import (
    DomainError,
    FieldViolation,
    NotFoundError,
    ResourceExhaustedError,
    UnavailableError,
    ValidationError,
)
from servers.status import DETAILS_KEY, RETRY_AFTER_KEY, DomainErrorInterceptor, refusal

BadRequest = error_details_pb2.BadRequest
ResourceInfo = error_details_pb2.ResourceInfo
RetryInfo = error_details_pb2.RetryInfo

FIELD_PATHS = st.from_regex(r"[a-z_][a-z0-9_]{0,12}(\.[a-z_][a-z0-9_]{0,12})?", fullmatch=True)


def _unpacked(status: status_pb2.Status) -> list[Message]:
    """_unpacked is every detail of status as its own message type."""
    kinds: dict[str, type[Message]] = {
        "google.rpc.BadRequest": BadRequest,
        "google.rpc.ResourceInfo": ResourceInfo,
        "google.rpc.RetryInfo": RetryInfo,
    }
    found: list[Message] = []
    for detail in status.details:
        message = kinds[detail.TypeName()]()
        assert detail.Unpack(message)
        found.append(message)
    return found


def test_validation_error_keeps_its_field_message_and_text() -> None:
    error = ValidationError("cpc", "must be a non-negative decimal like 0.00073")
    assert (error.field, error.message) == ("cpc", "must be a non-negative decimal like 0.00073")
    assert str(error) == "cpc: must be a non-negative decimal like 0.00073"
    assert error.violations == (FieldViolation("cpc", error.message),)


def test_validation_error_of_several_violations_names_each() -> None:
    error = ValidationError.of(
        [FieldViolation("cpc", "is required"), FieldViolation("date_range.end", "is too early")]
    )
    assert (error.field, error.message) == ("cpc", "is required")
    assert str(error) == "cpc: is required; date_range.end: is too early"
    answer = refusal(error)
    (bad,) = answer.details
    assert isinstance(bad, BadRequest)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("cpc", "is required"),
        ("date_range.end", "is too early"),
    ]
    with pytest.raises(ValueError):
        ValidationError.of([])


@given(field=FIELD_PATHS, message=st.text(min_size=1, max_size=40))
def test_invalid_argument_names_the_field_in_text_and_detail(field: str, message: str) -> None:
    answer = refusal(ValidationError(field, message))
    assert answer.code == grpc.StatusCode.INVALID_ARGUMENT
    assert answer.message == f"{field}: {message}"
    status = status_pb2.Status.FromString(dict(answer.trailing_metadata())[DETAILS_KEY])  # type: ignore[arg-type]
    assert (status.code, status.message) == (3, answer.message)
    (bad,) = _unpacked(status)
    assert isinstance(bad, BadRequest)
    assert [(v.field, v.description) for v in bad.field_violations] == [(field, message)]
    assert answer.retry_after is None


def test_not_found_names_the_resource() -> None:
    answer = refusal(NotFoundError("campaign", "c-404"))
    assert answer.code == grpc.StatusCode.NOT_FOUND
    assert answer.message == "campaign 'c-404' not found"
    (info,) = answer.details
    assert isinstance(info, ResourceInfo)
    assert (info.resource_type, info.resource_name) == ("campaign", "c-404")
    assert RETRY_AFTER_KEY not in dict(answer.trailing_metadata())


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UnavailableError("Kafka is away; retry"), grpc.StatusCode.UNAVAILABLE),
        (ResourceExhaustedError("too many requests"), grpc.StatusCode.RESOURCE_EXHAUSTED),
    ],
)
def test_retryable_errors_advise_a_wait(error: DomainError, code: grpc.StatusCode) -> None:
    answer = refusal(error)
    assert (answer.code, answer.message) == (code, str(error))
    (retry,) = answer.details
    assert isinstance(retry, RetryInfo)
    assert retry.retry_delay.ToTimedelta().total_seconds() == 1.0
    assert dict(answer.trailing_metadata())[RETRY_AFTER_KEY] == "1"


def test_retry_after_rounds_a_fraction_up_in_the_header() -> None:
    answer = refusal(UnavailableError("busy", retry_after=2.5))
    (retry,) = answer.details
    assert isinstance(retry, RetryInfo)
    assert retry.retry_delay.ToMilliseconds() == 2500
    assert dict(answer.trailing_metadata())[RETRY_AFTER_KEY] == "3"


def test_an_unlisted_domain_error_is_a_bare_failed_precondition() -> None:
    answer = refusal(DomainError("campaign is stopped"))
    assert (answer.code, answer.message, answer.details) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "campaign is stopped",
        (),
    )
    assert answer.trailing_metadata() == ()


# Through a real server: what a gRPC client receives when a method raises.

Raiser = Callable[[bytes, Any], Awaitable[bytes]]


def _raising(error: BaseException) -> Raiser:
    async def behavior(request: bytes, context: Any) -> bytes:
        raise error

    return behavior


async def _call_raising(error: BaseException) -> grpc.aio.AioRpcError:
    """_call_raising calls a method raising error behind the interceptor; returns the refusal."""
    server = grpc.aio.server(interceptors=[DomainErrorInterceptor()])
    handler = grpc.unary_unary_rpc_method_handler(_raising(error))
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("test.Errors", {"Raise": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            method = channel.unary_unary("/test.Errors/Raise")
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await method(b"", timeout=5)
            return raised.value
    finally:
        await server.stop(None)


def _details(refused: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    """_details is the google.rpc.Status a client finds in the trailer, if any."""
    for key, value in refused.trailing_metadata() or ():
        if key == DETAILS_KEY:
            assert isinstance(value, bytes)
            return status_pb2.Status.FromString(value)
    return None


def _trailer(refused: grpc.aio.AioRpcError, name: str) -> str | bytes | None:
    return dict(refused.trailing_metadata() or ()).get(name)


def test_a_client_reads_the_field_violation_from_the_trailer() -> None:
    refused = asyncio.run(_call_raising(ValidationError("cpc", "must be a decimal")))
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.details() == "cpc: must be a decimal"
    status = _details(refused)
    assert status is not None
    assert (status.code, status.message) == (3, "cpc: must be a decimal")
    (bad,) = _unpacked(status)
    assert isinstance(bad, BadRequest)
    assert bad.field_violations[0].field == "cpc"


def test_a_client_reads_the_missing_resource_from_the_trailer() -> None:
    refused = asyncio.run(_call_raising(NotFoundError("served ad", "r-1")))
    assert refused.code() == grpc.StatusCode.NOT_FOUND
    status = _details(refused)
    assert status is not None
    (info,) = _unpacked(status)
    assert isinstance(info, ResourceInfo)
    assert (info.resource_type, info.resource_name) == ("served ad", "r-1")


def test_a_client_reads_the_retry_delay_and_retry_after() -> None:
    refused = asyncio.run(_call_raising(UnavailableError("profiles are unavailable; retry")))
    assert refused.code() == grpc.StatusCode.UNAVAILABLE
    assert refused.details() == "profiles are unavailable; retry"
    status = _details(refused)
    assert status is not None
    (retry,) = _unpacked(status)
    assert isinstance(retry, RetryInfo)
    assert retry.retry_delay.seconds == 1
    assert _trailer(refused, RETRY_AFTER_KEY) == "1"


def test_an_unreachable_database_is_unavailable_with_a_retry_delay() -> None:
    lost = pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
    refused = asyncio.run(_call_raising(OperationalError("SELECT 1", {}, lost)))
    assert refused.code() == grpc.StatusCode.UNAVAILABLE
    assert refused.details() == "database unavailable; retry"
    status = _details(refused)
    assert status is not None
    (retry,) = _unpacked(status)
    assert isinstance(retry, RetryInfo)


def test_a_statement_the_database_refuses_is_internal_not_a_reason_to_retry() -> None:
    refusal = pymysql.err.OperationalError(1366, "Incorrect string value")
    refused = asyncio.run(_call_raising(OperationalError("INSERT", {}, refusal)))
    assert refused.code() == grpc.StatusCode.INTERNAL
    assert _trailer(refused, RETRY_AFTER_KEY) is None


def test_a_crash_is_a_bare_internal_error() -> None:
    refused = asyncio.run(_call_raising(RuntimeError("password=hunter2 in the traceback")))
    assert refused.code() == grpc.StatusCode.INTERNAL
    assert refused.details() == "internal error"
    assert _details(refused) is None
    assert _trailer(refused, RETRY_AFTER_KEY) is None


def test_a_request_that_does_not_decode_is_invalid_argument_not_a_crash() -> None:
    # GetCampaignRequest with campaign_id = b"\xc3": what Envoy makes of GET /v1/campaigns/%C3.
    not_utf8 = b"\x0a\x01\xc3"

    async def echo(request: GetCampaignRequest, context: Any) -> GetCampaignRequest:
        return request

    async def call() -> grpc.aio.AioRpcError:
        server = grpc.aio.server(interceptors=[DomainErrorInterceptor()])
        handler = grpc.unary_unary_rpc_method_handler(
            echo,
            request_deserializer=GetCampaignRequest.FromString,
            response_serializer=GetCampaignRequest.SerializeToString,
        )
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("test.Decode", {"Get": handler})]
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                method = channel.unary_unary("/test.Decode/Get")
                good = GetCampaignRequest(campaign_id="ok").SerializeToString()
                assert await method(good, timeout=5) == good  # a good request still works
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await method(not_utf8, timeout=5)
                return raised.value
        finally:
            await server.stop(None)

    refused = asyncio.run(call())
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request: cannot be decoded" in (refused.details() or "")
    status = _details(refused)
    assert status is not None
    (bad,) = _unpacked(status)
    assert isinstance(bad, BadRequest)
    assert bad.field_violations[0].field == "request"
