"""Refusals: what Envoy's public listener turns away before a server sees it, and in what words.

Three refusals, each answered as google.rpc.Status JSON like the servers' own errors:
a JSON key or query parameter the route's message does not define (400, BadRequest naming
it, by the Lua filter deploy/stack/strict_json.lua), a body over `max_request_bytes` (413),
and a client address over the device rate limit (429 with `retry-after`, by Envoy's local
rate limit with one token bucket per address). Envoy's own 503s (no healthy server, a call
that failed with no retry left) get the same shape as a server's UNAVAILABLE, with a RetryInfo
and `retry-after`. deploy/stack/envoy.py places them in the filter chain and on the routes;
docs/edge.md explains the choices.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from deploy.stack import request_fields
from servers.settings import Settings

STRICT_JSON = Path(__file__).with_name("strict_json.lua")
# REFUSAL_METADATA is the dynamic metadata namespace the Lua filter marks its replies with,
# so the local reply format passes their body on instead of wrapping it.
REFUSAL_METADATA = "adplatform.refusal"
LOCAL_RATE_LIMIT = "envoy.filters.http.local_ratelimit"
# MAX_CLIENT_BUCKETS is how many client addresses keep a bucket at once (least recent evicted).
MAX_CLIENT_BUCKETS = 10_000
# RETRY_AFTER_SECONDS is the wait a throttled client is told: the bucket refills every second.
RETRY_AFTER_SECONDS = 1
INVALID_ARGUMENT = 3
RESOURCE_EXHAUSTED = 8
UNAVAILABLE = 14


def _typed(extension: str) -> str:
    """_typed is the @type URL of an Envoy extension's configuration message."""
    return f"type.googleapis.com/envoy.extensions.{extension}"


def detail_key(name: str, proto_names: bool) -> str:
    """detail_key is a Status detail's field name as the transcoder prints them.

    With `preserve_proto_field_names` the transcoder writes `field_violations`, without it
    `fieldViolations`; Envoy's own refusals follow whichever it uses.
    """
    if proto_names:
        return name
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def strict_json(
    settings: Settings, descriptor: Path, services: Iterable[str], proto_names: bool
) -> dict[str, Any]:
    """strict_json is the Lua filter refusing unknown JSON keys and query parameters."""
    fields = request_fields.request_fields(request_fields.load(descriptor), services)
    violations = detail_key("field_violations", proto_names)
    prelude = "\n".join(
        [
            f"FIELDS = {request_fields.lua_table(fields)}",
            f"MAX_BODY_BYTES = {settings.max_request_bytes}",
            f"REFUSAL_METADATA = {request_fields.to_lua(REFUSAL_METADATA)}",
            f"VIOLATIONS_KEY = {request_fields.to_lua(violations)}",
        ]
    )
    return {
        "name": "envoy.filters.http.lua",
        "typed_config": {
            "@type": _typed("filters.http.lua.v3.Lua"),
            "default_source_code": {"inline_string": f"{prelude}\n{STRICT_JSON.read_text()}"},
        },
    }


def rate_limit_filter() -> dict[str, Any]:
    """rate_limit_filter is the local rate limit filter; it acts where a route configures it."""
    return {
        "name": LOCAL_RATE_LIMIT,
        "typed_config": {
            "@type": _typed("filters.http.local_ratelimit.v3.LocalRateLimit"),
            "stat_prefix": "device",
        },
    }


def _bucket(settings: Settings) -> dict[str, Any]:
    """_bucket refills the per-second rate each second and holds at most the burst."""
    rate = settings.device_rate_limit_per_second
    return {
        "max_tokens": max(rate, settings.device_rate_limit_burst),
        "tokens_per_fill": rate,
        "fill_interval": "1s",
    }


def device_rate_limit(settings: Settings) -> dict[str, Any] | None:
    """device_rate_limit is a route's typed_per_filter_config: a token bucket per client address.

    None when `device_rate_limit_per_second` is 0 (off). The `remote_address` action names
    the client address (Envoy's own view of it: use_remote_address); the descriptor with an
    empty value gives every address a bucket of its own, kept for the MAX_CLIENT_BUCKETS
    most recent addresses.
    """
    if settings.device_rate_limit_per_second <= 0:
        return None
    always = {"numerator": 100, "denominator": "HUNDRED"}
    config = {
        "@type": _typed("filters.http.local_ratelimit.v3.LocalRateLimit"),
        "stat_prefix": "device",
        "token_bucket": _bucket(settings),
        "filter_enabled": {"runtime_key": "device_rate_limit.enabled", "default_value": always},
        "filter_enforced": {"runtime_key": "device_rate_limit.enforced", "default_value": always},
        "rate_limits": [{"actions": [{"remote_address": {}}]}],
        "descriptors": [
            {"entries": [{"key": "remote_address", "value": ""}], "token_bucket": _bucket(settings)}
        ],
        "max_dynamic_descriptors": MAX_CLIENT_BUCKETS,
        "always_consume_default_token_bucket": False,
        "rate_limited_as_resource_exhausted": True,
        "response_headers_to_add": [
            {
                "header": {"key": "retry-after", "value": str(RETRY_AFTER_SECONDS)},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ],
    }
    return {LOCAL_RATE_LIMIT: config}


def _marked(key: str) -> dict[str, Any]:
    """_marked is a local reply filter: the Lua filter set `key` in its metadata."""
    return {
        "metadata_filter": {
            "matcher": {
                "filter": REFUSAL_METADATA,
                "path": [{"key": key}],
                "value": {"string_match": {"exact": "true"}},
            },
            "match_if_key_not_found": False,
        }
    }


def _status_is(code: int) -> dict[str, Any]:
    """_status_is is a local reply filter matching one HTTP status."""
    return {
        "status_code_filter": {
            "comparison": {
                "op": "EQ",
                "value": {"default_value": code, "runtime_key": f"refusals.status_{code}"},
            }
        }
    }


def _json_reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """_json_reply words a JSON route's local reply of `status` as `body`."""
    return {
        "filter": {"and_filter": {"filters": [_status_is(status), _marked("json")]}},
        "body_format_override": {"json_format": body, "content_type": "application/json"},
    }


def _grpc_reply(status: int, message: str) -> dict[str, Any]:
    """_grpc_reply words any other local reply of `status` (native gRPC: its grpc-message)."""
    return {
        "filter": _status_is(status),
        "body_format_override": {"text_format_source": {"inline_string": message}},
    }


def reply_mappers(settings: Settings, proto_names: bool) -> list[dict[str, Any]]:
    """reply_mappers word Envoy's 400, 413, 429 and 503 replies as google.rpc.Status JSON.

    The Lua filter marks requests on JSON routes (`json`) and its own refusals (`refused`,
    whose body is already the Status); native gRPC calls get the message as grpc-message.
    """
    passed_on = {
        "filter": _marked("refused"),
        "body_format_override": {
            "text_format_source": {"inline_string": "%LOCAL_REPLY_BODY%"},
            "content_type": "application/json",
        },
    }
    too_large = f"request body is over the {settings.max_request_bytes}-byte limit"
    throttled = (
        f"too many requests from this address: at most {settings.device_rate_limit_per_second}"
        f" a second; retry after {RETRY_AFTER_SECONDS} s"
    )
    retry_info = {
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        detail_key("retry_delay", proto_names): f"{RETRY_AFTER_SECONDS}s",
    }
    # Envoy's own 503 (no healthy server, a reset with no retry left, a full retry budget) is
    # as passing as a server's: it says when to retry as a server's UNAVAILABLE does.
    unavailable = {
        "code": UNAVAILABLE,
        "message": "%LOCAL_REPLY_BODY%; retry",
        "details": [retry_info],
    }
    retry_after = [
        {
            "header": {"key": "retry-after", "value": str(RETRY_AFTER_SECONDS)},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        }
    ]
    return [
        passed_on,
        _json_reply(413, {"code": INVALID_ARGUMENT, "message": too_large, "details": []}),
        _json_reply(
            429, {"code": RESOURCE_EXHAUSTED, "message": throttled, "details": [retry_info]}
        ),
        {**_json_reply(503, unavailable), "headers_to_add": retry_after},
        _grpc_reply(413, too_large),
        _grpc_reply(429, throttled),
        {"filter": _status_is(503), "headers_to_add": retry_after},
    ]
