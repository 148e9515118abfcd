"""An HTTP/1.1 JSON client for Envoy's public listener, as a device or curl would call it.

`extra_envoy` starts a second Envoy in front of a running stack's servers, with settings of
its own (a low rate limit, say), for the few tests that need them without a whole stack.
"""

from __future__ import annotations

import http.client
import json
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deploy.stack import envoy as envoy_part
from deploy.stack.net import free_port
from servers.settings import Settings
from tests.integration.parts import stop_process
from tests.polling import eventually


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
    """call sends one request to Envoy's public listener and reads the whole answer.

    A body of bytes is sent as it is; any other body as JSON.
    """
    sent = {"content-type": "application/json", **(headers or {})}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection(settings.host, settings.envoy_port, timeout=10)
    try:
        payload = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


@contextmanager
def extra_envoy(stack: Settings, directory: Path, **changes: Any) -> Iterator[Settings]:
    """extra_envoy runs another Envoy with `changes` in front of the stack's servers.

    It listens on ports of its own and uses the stack's key; yields its settings once it
    sees every upstream healthy, and stops it (by its PID) afterwards.
    """
    settings = stack.model_copy(
        update={"envoy_port": free_port(), "envoy_admin_port": free_port(), **changes}
    )
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "envoy.json"
    config.write_text(json.dumps(envoy_part.config(settings)))
    log = (directory / "envoy.log").open("wb")
    argv = [envoy_part.envoy_binary(), "-c", str(config), "--use-dynamic-base-id"]
    argv += ["--log-level", "warn", "--concurrency", "1"]
    process = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        part = envoy_part.Envoy(settings)

        def ready() -> bool:
            assert process.poll() is None, (directory / "envoy.log").read_text()
            try:
                return part.healthy()
            except OSError:
                return False

        eventually(ready, timeout=30, interval=0.2)
        yield settings
    finally:
        stop_process(process, grace=10)
        log.close()
