"""The console's pages as the browser tests drive them: sign in, fill forms, read the table."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Locator, Page, expect


def sign_in(page: Page, token: str) -> None:
    """sign_in opens the campaign table and signs in with token."""
    page.goto("/console/")
    page.get_by_label("Bearer token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Campaigns", level=1)).to_be_visible()


def fill(form: Locator, values: dict[str, str]) -> None:
    """fill types values into a form's inputs by API field name (selects are chosen)."""
    for name, value in values.items():
        field = form.locator(f'[name="{name}"]')
        if field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def created_id(form: Locator) -> str:
    """created_id reads the new campaign's id from the create form's confirmation link."""
    link = form.locator(".form-status a")
    expect(link).to_be_visible()
    href = link.get_attribute("href") or ""
    return parse_qs(urlparse(href).query)["id"][0]


def show_only(page: Page, filter_terms: str) -> None:
    """show_only filters the campaign table with the API's filter terms."""
    page.get_by_label("Filter", exact=True).fill(filter_terms)
    page.get_by_role("button", name="Apply").click()


def row(page: Page, campaign_id: str) -> Locator:
    """row is the campaign's row in the table."""
    return page.locator(f'#campaigns tr[data-campaign-id="{campaign_id}"]')


def request_ad(page: Page, **fields: str) -> dict[str, Any]:
    """request_ad asks for an ad on the device page and returns the API's answer."""
    form = page.locator("#request")
    fill(form, fields)
    with page.expect_response(lambda reply: reply.url.endswith("/v1/ads:serve")) as answer:
        form.get_by_role("button", name="Request an ad").click()
    reply: dict[str, Any] = answer.value.json()
    return reply


def request_until(
    page: Page, wanted: Callable[[dict[str, Any]], bool], timeout: float = 15.0, **fields: str
) -> dict[str, Any]:
    """request_until asks for ads until an answer is wanted (the ad index refreshes each second)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = request_ad(page, **fields)
        if wanted(reply):
            return reply
        assert time.monotonic() < deadline, f"no wanted ad within {timeout}s; last: {reply}"
        page.wait_for_timeout(200)  # paces the retries; each one waits for its own answer
