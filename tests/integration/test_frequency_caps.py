"""Frequency caps end to end: a platform default cap held across two AdServer workers.

The module runs an AdServer of its own with two workers and the platform default cap
ADPLATFORM_FREQUENCY_CAP=2/day on the stack's MariaDB, beside the stack's AdServer, and an
Envoy of its own in front of it; campaigns come through the real pipeline (CampaignService,
Kafka, the Ad Manager) and target a country of their own. Every request is a new HTTP
connection to Envoy, which spreads its calls over both workers, so the counts the workers
share in MySQL are what holds the cap. The last test holds a campaign's own cap on the
stack's AdServer, which has no default cap.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest
from adplatform.v1 import campaign_pb2
from sqlalchemy import Engine, select

from deploy.stack.net import free_port
from deploy.stack.services import check_health
from servers.campaigns.frequency import overshoot_bound, period_start
from servers.campaigns.model import Period
from servers.identifiers import PRIVACY_USER_ID
from servers.settings import Settings
from servers.storage.schema import frequency_counts, naive_utc
from tests.integration import campaigns, envoy, parts
from tests.polling import eventually

pytestmark = pytest.mark.integration

CAP = 2
START_SECONDS = 90.0
CONCURRENT = 8  # one user's requests in flight at once
BIDS = ({"cpc": "0.002", "cpa": "0.05"}, {"cpc": "0.001", "cpa": "0.03"})


def _workers(parent: int) -> set[int]:
    """_workers are the AdServer parent's children: its workers."""
    children: set[int] = set()
    for task in Path(f"/proc/{parent}/task").iterdir():
        children |= {int(pid) for pid in (task / "children").read_text().split()}
    return children


@pytest.fixture(scope="module")
def capped(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """capped is an Envoy in front of a two-worker AdServer whose default cap is 2/day."""
    settings = stack.model_copy(
        update={
            "adserver_port": free_port(),
            "adserver_metrics_port": free_port(),
            "adserver_addr": None,
            "adserver_workers": 2,
            "frequency_cap": f"{CAP}/day",
        }
    )
    run_dir = tmp_path_factory.mktemp("capped-adserver")
    (run_dir / "metrics").mkdir()
    log_file = run_dir / "adserver.log"
    env = {
        **os.environ,
        **settings.child_environment(),
        "PROMETHEUS_MULTIPROC_DIR": str(run_dir / "metrics"),
    }
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "servers.adserving.server"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=run_dir,
        )
    try:

        def serving() -> bool:
            assert process.poll() is None, log_file.read_text()[-2000:]
            try:
                healthy = check_health(settings.adserver_target)
            except grpc.RpcError:
                return False  # not listening yet
            return healthy and len(_workers(process.pid)) == 2

        eventually(serving, timeout=START_SECONDS, interval=0.2)
        with envoy.extra_envoy(
            settings, run_dir / "envoy", device_rate_limit_per_second=0
        ) as front:
            yield front
    finally:
        parts.stop_process(process, grace=30)


@pytest.fixture
def country() -> str:
    """country is a place only this test's campaigns target."""
    return f"Testland-{uuid.uuid4().hex[:10]}"


def serve(front: Settings, user_id: str, country: str) -> str:
    """serve asks for an ad over a new connection; the campaign served, or "" on no fill."""
    body = {"user_id": user_id, "device_type": "iPhone", "country": country}
    reply = envoy.call(front, "POST", "/v1/ads:serve", body)
    assert reply.status == 200, (reply.status, reply.raw)
    answer: dict[str, Any] = reply.json()
    return str(answer.get("campaign_id", ""))


def two_campaigns(stack: Settings, front: Settings, country: str) -> list[str]:
    """two_campaigns stores a dear and a cheaper campaign and waits until both workers serve."""
    ids = [campaigns.create(stack, target_country=country, **bid).campaign_id for bid in BIDS]

    def indexed() -> bool:
        # Fresh users, a new connection each request: both workers hold both campaigns once
        # every probe user gets the dear one twice, then the cheaper one.
        for _ in range(4):
            probe = f"probe-{uuid.uuid4()}"
            if [serve(front, probe, country) for _ in range(CAP + 1)] != [ids[0]] * CAP + ids[1:]:
                return False
        return True

    eventually(indexed, timeout=20)
    return ids


def test_a_user_gets_n_ads_of_each_campaign_a_day_across_both_workers(
    stack: Settings, capped: Settings, database: Engine, country: str
) -> None:
    dear, cheaper = two_campaigns(stack, capped, country)
    user = f"capped-{uuid.uuid4()}"

    served = [serve(capped, user, country) for _ in range(CAP * 2 + 6)]

    # One request at a time: exactly the cap, the dear one first, then the cheaper one serves.
    assert served == [dear] * CAP + [cheaper] * CAP + [""] * 6
    with database.connect() as connection:
        rows = connection.execute(
            select(frequency_counts).where(frequency_counts.c.user_id == user)
        ).mappings()
        stored = {row["campaign_id"]: (row["period_start"], row["impressions"]) for row in rows}
    today = naive_utc(period_start(Period.DAY, datetime.now(UTC), ZoneInfo(stack.timezone)))
    assert stored == {dear: (today, CAP), cheaper: (today, CAP)}
    # Another user is not capped by this one's count.
    assert serve(capped, f"other-{uuid.uuid4()}", country) == dear


def test_concurrent_requests_of_one_user_stay_within_the_bound(
    stack: Settings, capped: Settings, country: str
) -> None:
    dear, cheaper = two_campaigns(stack, capped, country)
    user = f"racing-{uuid.uuid4()}"

    with ThreadPoolExecutor(CONCURRENT) as pool:
        served = Counter(pool.map(lambda _: serve(capped, user, country), range(CONCURRENT * 4)))

    bound = CAP + overshoot_bound(CONCURRENT)
    assert 0 < served[dear] <= bound, served
    assert served[cheaper] <= bound, served
    assert served[""] >= CONCURRENT * 4 - 2 * bound  # the rest is no fill
    # Once the race is over, the counts hold: nothing more for this user.
    assert [serve(capped, user, country) for _ in range(4)] == [""] * 4


def test_the_privacy_id_never_gets_a_capped_campaign(
    stack: Settings, capped: Settings, country: str
) -> None:
    two_campaigns(stack, capped, country)
    assert [serve(capped, PRIVACY_USER_ID, country) for _ in range(10)] == [""] * 10
    # The stack's own AdServer has no default cap: there the privacy id gets the ad.
    eventually(lambda: serve(stack, PRIVACY_USER_ID, country) != "", timeout=20)


def test_a_campaigns_own_cap_holds_on_the_stacks_workers(stack: Settings, country: str) -> None:
    # The stack's AdServer has no default cap: only the campaign's own cap applies.
    cap = {"max_impressions": 1, "period": "HOUR"}
    own = campaigns.create(
        stack, target_country=country, frequency_cap=campaign_pb2.FrequencyCap(**cap), **BIDS[0]
    ).campaign_id
    free = campaigns.create(stack, target_country=country, **BIDS[1]).campaign_id

    def indexed() -> bool:
        for _ in range(4):
            probe = f"probe-{uuid.uuid4()}"
            if [serve(stack, probe, country) for _ in range(2)] != [own, free]:
                return False
        return True

    eventually(indexed, timeout=20)
    user = f"own-cap-{uuid.uuid4()}"
    assert [serve(stack, user, country) for _ in range(6)] == [own] + [free] * 5
    # The privacy id cannot be counted: it never gets the capped one, only the other.
    assert {serve(stack, PRIVACY_USER_ID, country) for _ in range(6)} == {free}
