"""Tests for deploy.stack.console and its wiring into Envoy's configuration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from deploy.stack import console, envoy
from deploy.stack.errors import StackError
from servers.settings import Settings


def _public_routes(tmp_path: Path) -> list[dict[str, Any]]:
    config = envoy.config(Settings(run_dir=tmp_path))
    listener = config["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    hosts = manager["route_config"]["virtual_hosts"]
    routes: list[dict[str, Any]] = next(h for h in hosts if h["name"] == "public")["routes"]
    return routes


def test_every_page_and_module_is_served_with_its_content_type() -> None:
    served = console.assets()
    assert {"/console/", "/console/campaign", "/console/device"} <= set(served)
    for path, file in served.items():
        assert file.parent == console.CONSOLE_DIR
        assert file.suffix in console.CONTENT_TYPES, path
    assert "/console/package.json" not in served  # only tells Node the modules are modules


def test_what_the_pages_load_is_served() -> None:
    served = set(console.assets())
    wanted: set[str] = set()
    for file in console.CONSOLE_DIR.iterdir():
        text = file.read_text() if file.suffix in (".html", ".js") else ""
        wanted.update(re.findall(r'(?:src|href)="(/console/[^"?#]*)"', text))
        wanted.update(f"/console/{name}" for name in re.findall(r'from "\./([^"]+)"', text))
    assert wanted, "the pattern found no reference at all"
    assert wanted <= served, wanted - served


def test_routes_answer_each_asset_from_its_file_with_safe_headers() -> None:
    routes = console.routes()
    redirect, *pages = routes
    assert redirect == {"match": {"path": "/console"}, "redirect": {"path_redirect": "/console/"}}
    for route in pages:
        path = route["match"]["path"]
        file = Path(route["direct_response"]["body"]["filename"])
        assert console.assets()[path] == file
        headers = {
            h["header"]["key"]: h["header"]["value"] for h in route["response_headers_to_add"]
        }
        assert headers["content-type"] == console.CONTENT_TYPES[file.suffix]
        assert (
            "script-src" not in headers["content-security-policy"]
        )  # default-src 'self' covers it
        assert headers["content-security-policy"].startswith("default-src 'self'")
        assert headers["x-content-type-options"] == "nosniff"


def test_a_missing_or_oversized_asset_stops_the_stack_before_envoy_starts(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"index\.html is missing"):
        console.assets(tmp_path)
    for name in console.PAGES.values():
        (tmp_path / name).write_text("<!doctype html>")
    (tmp_path / "big.js").write_bytes(b"x" * (console.MAX_ASSET_BYTES + 1))
    with pytest.raises(StackError, match=r"big\.js is over"):
        console.assets(tmp_path)


def test_envoy_routes_the_console_before_its_catch_all(tmp_path: Path) -> None:
    routes = _public_routes(tmp_path)
    paths = [route["match"].get("path") or route["match"].get("prefix") for route in routes]
    assert paths[-1] == "/"  # the catch-all 404 stays last
    assert paths.index("/console/") < paths.index("/")
    assert {"/adplatform.v1.CampaignService/", "/adplatform.v1.AdServer/"} <= set(paths)


def test_envoy_keeps_console_bodies_and_lifts_the_direct_response_limit(tmp_path: Path) -> None:
    config = envoy.config(Settings(run_dir=tmp_path))
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    typed = manager["typed_config"]
    assert typed["route_config"]["max_direct_response_body_size_bytes"] >= max(
        file.stat().st_size for file in console.assets().values()
    )
    replies = typed["local_reply_config"]
    assert console.reply_mapper() in replies["mappers"]
    assert "json_format" in replies["body_format"]  # Envoy's own errors are still JSON


def test_the_console_is_not_behind_the_token() -> None:
    assert not any(prefix.startswith(console.PREFIX) for prefix in envoy.AUTHENTICATED_PREFIXES)
