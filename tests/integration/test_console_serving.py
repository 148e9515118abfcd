"""The console's pages as Envoy serves them: same origin as the API, public, byte for byte."""

from __future__ import annotations

import pytest

from deploy.stack import console
from servers.settings import Settings
from tests.integration import envoy

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("path", sorted(console.assets()))
def test_every_asset_is_served_as_it_is_with_its_type(stack: Settings, path: str) -> None:
    reply = envoy.call(stack, "GET", path)
    assert reply.status == 200, reply.raw
    file = console.assets()[path]
    assert reply.raw == file.read_bytes()  # not wrapped in Envoy's JSON local-reply format
    assert reply.headers["content-type"] == console.CONTENT_TYPES[file.suffix]
    assert reply.headers["content-security-policy"] == console.HEADERS["content-security-policy"]
    assert reply.headers["x-content-type-options"] == "nosniff"


def test_pages_keep_their_query_strings(stack: Settings) -> None:
    reply = envoy.call(stack, "GET", "/console/campaign?id=some-campaign")
    assert reply.status == 200
    assert reply.raw == (console.CONSOLE_DIR / "campaign.html").read_bytes()


def test_console_without_the_slash_redirects(stack: Settings) -> None:
    reply = envoy.call(stack, "GET", "/console")
    assert reply.status == 301
    assert reply.headers["location"].endswith("/console/")


def test_unknown_console_paths_are_404_json(stack: Settings) -> None:
    reply = envoy.call(stack, "GET", "/console/secrets.txt")
    assert reply.status == 404
    assert reply.json()["http_status"] == 404


def test_the_api_behind_the_console_still_needs_the_token(stack: Settings) -> None:
    assert envoy.call(stack, "GET", "/console/").status == 200
    assert envoy.call(stack, "GET", "/v1/campaigns").status == 401
