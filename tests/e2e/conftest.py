"""Fixtures for the browser tests: one Chromium per session, a fresh context per test.

A test's page fails the test on any uncaught script error or console error, so a broken
module, a refused Content-Security-Policy or a 404 asset cannot pass unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from deploy.stack import auth
from servers.settings import Settings
from tests.e2e.browser import CHROMIUM_FLAGS, chromium

API_PATH = re.compile(r"//[^/]+/(v1|ad)/")  # the JSON API, as opposed to /console/ assets
TIMEOUT_MS = 20_000  # the longest any single step may take on a busy 2-core machine


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """browser is headless Debian Chromium for a test module.

    Module scope: Playwright's sync API keeps an event loop running in the main thread
    until it stops, which would break any later test that runs asyncio itself.
    """
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium(), args=list(CHROMIUM_FLAGS), headless=True
        )
        expect.set_options(timeout=TIMEOUT_MS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, stack: Settings) -> Iterator[Page]:
    """page is a tab in a fresh context (no storage) whose relative URLs go to Envoy."""
    context = browser.new_context(base_url=stack.envoy_url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))

    def on_console(message: ConsoleMessage) -> None:
        # An API call the page answers (a 400 shown beside a field) is the page's business;
        # anything else logged as an error (a missing asset, a CSP refusal) is a failure.
        url = message.location.get("url", "")
        answered = message.text.startswith("Failed to load resource") and (
            API_PATH.search(url) is not None
        )
        if message.type == "error" and not answered:
            problems.append(f"console: {message.text} at {url}")

    tab.on("console", on_console)
    try:
        yield tab
    finally:
        context.close()
    assert not problems, problems


@pytest.fixture(scope="session")
def token(stack: Settings) -> str:
    """token is a bearer token for the stack's campaign routes."""
    return auth.mint_token(stack, subject="console-e2e")


@pytest.fixture(scope="session")
def screenshots(stack: Settings) -> Path:
    """screenshots is where the browser tests save what they saw: <run_dir>/screenshots."""
    directory = stack.run_dir / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory
