"""Exporter: the AdServer parent's /metrics, the sum over its workers, with no thread.

The workers record metrics into files under PROMETHEUS_MULTIPROC_DIR (prometheus_client's
multiprocess mode); MergedExporter answers each scrape with their sum. It is served from the
parent's supervising loop (workers.supervise) one request at a time, because the parent must
stay single-threaded to fork replacement workers safely. A dead worker's files stay: its
counters keep their counts, so totals never go backwards; `mark_dead` drops what only describes
a live process (live gauges).
"""

from __future__ import annotations

from http.server import HTTPServer
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import MetricsHandler
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

# CLIENT_TIMEOUT_SECONDS bounds how long one slow scraper can hold the parent's loop.
CLIENT_TIMEOUT_SECONDS = 1.0


class _QuietHandler(MetricsHandler):
    """_QuietHandler answers a scrape without a log line per request, and times out."""

    timeout = CLIENT_TIMEOUT_SECONDS

    def log_message(self, format: str, *args: Any) -> None:
        """log_message is silent: scrapes every few seconds are not news."""


class MergedExporter:
    """MergedExporter listens on host:port and answers one scrape per handle()."""

    def __init__(self, host: str, port: int) -> None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        handler = type("Handler", (_QuietHandler,), {"registry": registry})
        self._server = HTTPServer((host, port), handler)
        self._server.timeout = 0  # handle() is called when a request is already waiting

    def fileno(self) -> int:
        """fileno is the listening socket."""
        return self._server.fileno()

    def handle(self) -> None:
        """handle answers the scrape waiting on the socket."""
        self._server.handle_request()

    def close(self) -> None:
        """close stops listening."""
        self._server.server_close()

    @property
    def address(self) -> tuple[str, int]:
        """address is where it listens (the port, when 0 was asked for)."""
        host, port = self._server.socket.getsockname()[:2]
        return str(host), int(port)


def mark_dead(pid: int) -> None:
    """mark_dead drops a dead worker's live-gauge files; its counters stay in the sum."""
    mark_process_dead(pid)  # type: ignore[no-untyped-call]
