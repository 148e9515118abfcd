"""A killed AdServer worker under steady ServeAd traffic through Envoy: replaced, nothing lost.

Clients call `POST /v1/ads:serve` through Envoy for at most 20 s; a few seconds in, one
AdServer worker is SIGKILLed. The parent forks a replacement, Envoy retries the calls the
dead worker dropped, and at least 99% of the calls answer 200. Nothing else restarts: the
AdServer parent and every other part keep their PIDs, and the merged metrics keep counting.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from adplatform.v1 import campaign_service_pb2

from clients import channels
from servers.settings import Settings
from tests.integration import campaigns, parts
from tests.polling import eventually

pytestmark = pytest.mark.integration

SERVE = {"user_id": "u-1", "device_type": "iPhone", "city": "Pune", "state": "Maharashtra"}
CLIENTS = 4
RUN_SECONDS = 20.0
MAX_CALLS_PER_CLIENT = 20_000
MIN_SUCCESS = 0.99
SERVED_OK = re.compile(r'^adplatform_rpc_requests_total\{code="OK",method="ServeAd"\} (\S+)$', re.M)


def _workers(parent: int) -> set[int]:
    """_workers are the AdServer parent's children: its workers."""
    children: set[int] = set()
    for task in Path(f"/proc/{parent}/task").iterdir():
        children |= {int(pid) for pid in (task / "children").read_text().split()}
    return children


def _retries(stack: Settings) -> dict[str, int]:
    """_retries are Envoy's retry counters for the AdServer cluster."""
    url = f"http://{stack.host}:{stack.envoy_admin_port}/stats?filter=adserver.upstream_rq_retry"
    with urllib.request.urlopen(url, timeout=5) as reply:
        pairs = [line.split(": ") for line in reply.read().decode().splitlines()]
    return {name.rsplit(".", 1)[-1]: int(value) for name, value in pairs}


def _served_ok(stack: Settings) -> float:
    """_served_ok is the merged export's count of ServeAd calls answered OK."""
    url = f"http://{stack.host}:{stack.adserver_metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as reply:
        assert reply.status == 200
        found = SERVED_OK.search(reply.read().decode())
    return float(found.group(1)) if found else 0.0


class Traffic:
    """Traffic is CLIENTS devices calling ServeAd through Envoy until stopped (or RUN_SECONDS)."""

    def __init__(self, stack: Settings) -> None:
        self.stack = stack
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.outcomes: list[tuple[float, str]] = []  # (monotonic time, "200" or what failed)
        self.deadline = time.monotonic() + RUN_SECONDS
        self.threads = [threading.Thread(target=self._client) for _ in range(CLIENTS)]

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def count(self) -> int:
        """count is how many calls have been answered (either way) so far."""
        with self.lock:
            return len(self.outcomes)

    def _client(self) -> None:
        body = json.dumps(SERVE).encode()
        headers = {"content-type": "application/json"}
        connection = http.client.HTTPConnection(self.stack.host, self.stack.envoy_port, timeout=10)
        for _ in range(MAX_CALLS_PER_CLIENT):
            if self.stop.is_set() or time.monotonic() >= self.deadline:
                break
            try:
                connection.request("POST", "/v1/ads:serve", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                outcome = str(response.status)
            except (OSError, http.client.HTTPException) as error:
                outcome = type(error).__name__
                connection.close()
                connection = http.client.HTTPConnection(
                    self.stack.host, self.stack.envoy_port, timeout=10
                )
            with self.lock:
                self.outcomes.append((time.monotonic(), outcome))
        connection.close()


@pytest.fixture
def live_ad(stack: Settings) -> Iterator[str]:
    """live_ad is an untargeted campaign that fills the calls; stopped afterwards."""
    campaign = campaigns.create(stack)
    yield campaign.campaign_id
    channels.campaigns(stack).StopCampaign(
        campaign_service_pb2.StopCampaignRequest(campaign_id=campaign.campaign_id), timeout=10
    )


def test_a_killed_worker_is_replaced_while_serve_ad_keeps_answering(
    stack: Settings, live_ad: str
) -> None:
    before = parts.processes(stack)
    parent = before["adserver"]
    assert parent is not None
    workers = _workers(parent)
    assert len(workers) == stack.adserver_workers >= 2
    victim = min(workers)

    with Traffic(stack) as traffic:
        eventually(lambda: traffic.count() >= 200, timeout=10)
        served_before, retries_before = _served_ok(stack), _retries(stack)
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)

        def replaced() -> set[int]:
            now = _workers(parent)
            return now - workers if len(now) == len(workers) and victim not in now else set()

        replacement = eventually(replaced, timeout=15)
        replaced_at = time.monotonic()
        # Serve on past the replacement, so calls that land on the new worker are counted.
        eventually(lambda: time.monotonic() - replaced_at >= 3 or traffic.stop.is_set(), timeout=20)

    retries = {name: n - retries_before.get(name, 0) for name, n in _retries(stack).items()}
    outcomes = Counter(outcome for _, outcome in traffic.outcomes)
    around = Counter(outcome for at, outcome in traffic.outcomes if at >= killed_at)
    total, ok = sum(outcomes.values()), outcomes["200"]
    print(
        f"\nServeAd through Envoy: {ok}/{total} = {ok / total:.4%} answered 200"
        f" ({around['200']}/{sum(around.values())} from the kill on); outcomes {dict(outcomes)};"
        f" worker {victim} replaced by {sorted(replacement)} in {replaced_at - killed_at:.2f} s;"
        f" Envoy retries {retries}"
    )
    assert sum(around.values()) >= 100, around  # enough calls across the kill to judge
    assert ok / total >= MIN_SUCCESS, outcomes
    assert around["200"] / sum(around.values()) >= MIN_SUCCESS, around

    # Nothing else died: not the AdServer's parent, not any other part.
    parts.unchanged_except(stack, before)
    assert _workers(parent) == (workers - {victim}) | replacement
    # The merged export still sums the dead worker's calls: every 200 since the first reading
    # is on top of it (give or take the calls in flight at that reading).
    assert _served_ok(stack) >= served_before + around["200"] - CLIENTS
