"""Tests for the edge's refusals and deadlines in Envoy's generated configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deploy.stack import envoy, refusals
from servers.settings import Settings

LIMIT = refusals.LOCAL_RATE_LIMIT


def _manager(settings: Settings) -> dict[str, Any]:
    listener = envoy.config(settings)["static_resources"]["listeners"][0]
    manager: dict[str, Any] = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return manager


def _host(settings: Settings, name: str) -> list[dict[str, Any]]:
    hosts = _manager(settings)["route_config"]["virtual_hosts"]
    routes: list[dict[str, Any]] = next(h for h in hosts if h["name"] == name)["routes"]
    return routes


def _route(routes: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    return next(r for r in routes if r["match"].get(key) == value)


def test_refusals_come_before_the_transcoder_and_the_limit_after(tmp_path: Path) -> None:
    names = [f["name"] for f in _manager(Settings(run_dir=tmp_path))["http_filters"]]
    assert names == [
        "envoy.filters.http.jwt_authn",
        "envoy.filters.http.lua",
        "envoy.filters.http.grpc_json_transcoder",
        LIMIT,
        "envoy.filters.http.router",
    ]


def test_lua_filter_carries_the_route_table_and_the_limit(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path, max_request_bytes=1234)
    lua = next(f for f in _manager(settings)["http_filters"] if f["name"].endswith(".lua"))
    source = lua["typed_config"]["default_source_code"]["inline_string"]
    assert source.startswith("FIELDS = {")
    assert "MAX_BODY_BYTES = 1234" in source
    assert 'VIOLATIONS_KEY = "field_violations"' in source  # the transcoder keeps proto names
    assert "function envoy_on_request(handle)" in source


def test_device_methods_have_a_per_address_limit_and_a_short_deadline(tmp_path: Path) -> None:
    settings = Settings(
        run_dir=tmp_path,
        device_rate_limit_per_second=7,
        device_rate_limit_burst=11,
        device_timeout_seconds=1.5,
    )
    for path in envoy.DEVICE_METHODS:
        route = _route(_host(settings, "public"), "path", path)
        assert route["route"]["timeout"] == "1.500s"
        limit = route["typed_per_filter_config"][LIMIT]
        assert limit["rate_limits"] == [{"actions": [{"remote_address": {}}]}]
        (per_address,) = limit["descriptors"]
        assert per_address["entries"] == [{"key": "remote_address", "value": ""}]
        assert per_address["token_bucket"] == {
            "max_tokens": 11,
            "tokens_per_fill": 7,
            "fill_interval": "1s",
        }
        assert limit["always_consume_default_token_bucket"] is False
        assert {"key": "retry-after", "value": "1"} in [
            h["header"] for h in limit["response_headers_to_add"]
        ]


def test_pinned_authorities_do_not_escape_the_limit(tmp_path: Path) -> None:
    routes = _host(Settings(run_dir=tmp_path), "adserver")
    serve = _route(routes, "path", "/adplatform.v1.AdServer/ServeAd")
    assert LIMIT in serve["typed_per_filter_config"]
    assert routes[-1]["match"] == {"prefix": "/"}


def test_campaign_routes_have_the_longer_deadline_and_no_limit(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path, campaign_timeout_seconds=20)
    route = _route(_host(settings, "public"), "prefix", "/adplatform.v1.CampaignService/")
    assert route["route"]["timeout"] == "20.000s"
    assert "typed_per_filter_config" not in route
    pinned = _host(settings, "campaign-service")
    assert {r["route"]["timeout"] for r in pinned} == {"20.000s"}  # reads have routes too


def test_zero_rate_turns_the_limit_off(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path, device_rate_limit_per_second=0)
    route = _route(_host(settings, "public"), "path", "/adplatform.v1.AdServer/ServeAd")
    assert "typed_per_filter_config" not in route


def test_default_limit_leaves_room_for_the_benchmarks(tmp_path: Path) -> None:
    # bench serve drove ~2,900 ServeAd/s through Envoy from one address (docs/benchmarks.md).
    settings = Settings(run_dir=tmp_path)
    assert settings.device_rate_limit_per_second >= 5000
    assert settings.device_rate_limit_burst >= settings.device_rate_limit_per_second


def test_refusals_are_worded_as_status_json(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path, max_request_bytes=999, device_rate_limit_per_second=3)
    mappers = refusals.reply_mappers(settings, proto_names=False)
    bodies = [m.get("body_format_override", {}).get("json_format") for m in mappers]
    too_large, throttled, unavailable = (b for b in bodies if b)
    assert unavailable["code"] == 14
    assert too_large["code"] == 3 and "999-byte" in too_large["message"]
    assert throttled["code"] == 8 and "at most 3 a second" in throttled["message"]
    assert throttled["details"][0]["retryDelay"] == "1s"


def test_detail_keys_follow_the_transcoders_naming() -> None:
    assert refusals.detail_key("field_violations", proto_names=True) == "field_violations"
    assert refusals.detail_key("field_violations", proto_names=False) == "fieldViolations"
