"""Tests for clients/bench/adsload (the Go closed loop) and the helper that builds it.

The loop runs for two seconds against a small HTTP server in this process that fills every
other ServeAd and refuses some feedbacks: no stack, but the real program.
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from clients.bench import ads, loadgen
from deploy.stack.errors import StackError

needs_go = pytest.mark.skipif(
    shutil.which("go") is None and not Path(loadgen.GO_FALLBACK).exists(), reason="needs Go"
)


class _Stand(BaseHTTPRequestHandler):
    """_Stand fills every other ServeAd; refuses the feedback of ad r(4k+1), always (400),
    and of ad r3 once (503, which the device retries a second later)."""

    protocol_version = "HTTP/1.1"  # keep-alive, as Envoy

    counter: ClassVar[Iterator[int]] = itertools.count()
    feedbacks: ClassVar[list[dict[str, Any]]] = []
    refused_once: ClassVar[set[str]] = set()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.path == "/serve":
            number = next(self.counter)
            self._reply(200, {"request_id": f"r{number // 2}" if number % 2 else ""})
            return
        request_id = body["request_id"]
        if int(request_id[1:]) % 4 == 1:
            self._reply(400, {"message": "refused"})
        elif request_id == "r3" and request_id not in self.refused_once:
            self.refused_once.add(request_id)
            self._reply(503, {"message": "not recorded in time; retry"})
        else:
            self.feedbacks.append(body)
            self._reply(200, {"request_id": request_id, "expenditure": "0.0001"})

    def _reply(self, status: int, answer: dict[str, Any]) -> None:
        text = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *_: object) -> None:
        """log_message keeps the test's output quiet."""


@pytest.fixture
def stand() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stand)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@needs_go
def test_the_loop_charges_filled_ads_and_keeps_the_failed_ones_apart(
    stand: str, tmp_path: Path
) -> None:
    plan = {
        "serve_url": f"{stand}/serve",
        "feedback_url": f"{stand}/feedback",
        "asks": [{"body": json.dumps({"user_id": "u"}), "probability": 1.0}],
        "seed": 7,
        "warmup_seconds": 0.1,
        "seconds": 1.5,
        "connections": 4,
        "timeout_seconds": 5,
    }
    raw = ads.whole_ads(ads.adsload(lambda *_: None), plan, tmp_path)
    assert raw["whole_ads"] > 0
    assert raw["served"] == len(raw["serve_us"]) >= raw["filled"] >= raw["whole_ads"]
    assert len(raw["pair_us"]) == len(raw["feedback_us"]) == raw["whole_ads"]
    charged = {charge["request_id"] for charge in raw["charges"]}
    assert charged == {body["request_id"] for body in _Stand.feedbacks}
    assert raw["uncharged"] and all(int(rid[1:]) % 4 == 1 for rid in raw["uncharged"])
    assert _Stand.refused_once == {"r3"} and "r3" in charged  # retried, then acknowledged
    assert raw["feedback_errors"] == len(raw["uncharged"]) + len(_Stand.refused_once)
    assert all(  # probability 1: an acquisition, so a click too, and always a view
        (b["view"], b["click"], b["acquisition"]) == (1, 1, 1) for b in _Stand.feedbacks
    )
    assert raw["error_samples"] and all("HTTP" in sample for sample in raw["error_samples"])


def test_a_built_generator_is_not_built_again(tmp_path: Path) -> None:
    binary = tmp_path / "bin" / "tool"
    binary.parent.mkdir()
    binary.write_text("")
    assert loadgen.go_build(binary, ["build"], lambda *_: None) == binary


def test_without_go_the_build_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loadgen.shutil, "which", lambda name: None)
    monkeypatch.setattr(loadgen, "GO_FALLBACK", str(tmp_path / "no-go"))
    with pytest.raises(StackError, match="needs Go"):
        loadgen.go_build(tmp_path / "tool", ["build"], lambda *_: None)
