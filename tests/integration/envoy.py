"""An HTTP/1.1 JSON client for Envoy's public listener, as a device or curl would call it."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from typing import Any

from servers.settings import Settings


class Reply:
    """Reply is an HTTP answer from Envoy: status, headers and the raw body."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.raw = body

    def json(self) -> Any:
        """json is the body as JSON (fails the test if it is not)."""
        return json.loads(self.raw)


def call(
    settings: Settings,
    method: str,
    path: str,
    body: object = None,
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """call sends one request to Envoy's public listener and reads the whole answer."""
    sent = {"content-type": "application/json", **(headers or {})}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection(settings.host, settings.envoy_port, timeout=10)
    try:
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()
