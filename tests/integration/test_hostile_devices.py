"""Hostile devices: no request can fail another's, and every spelling of an id is one id.

The finding: a device_type of 32 "İ" fit its column as sent, but canonicalising it doubled
it; the group-committed INSERT of served ads then failed as a whole and every request of
that batch got UNAVAILABLE. Here a hostile request rides in the same batch as 50 good ones,
through native gRPC to one AdServer worker; the recorder is also fed a refused row directly,
bypassing validation, against the real MariaDB; and feedback in other spellings of a real
served ad's request id charges it once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import grpc
import pytest
from adplatform.v1 import ad_server_pb2, ad_server_pb2_grpc, feedback_service_pb2
from sqlalchemy import Engine, delete, func, select

from clients import channels
from servers.adserving.recorder import Recorder, ServedAdRefusedError
from servers.settings import Settings
from servers.storage.schema import feedback, served_ads
from tests.fixtures.database import served_rows
from tests.integration import campaigns, served
from tests.polling import eventually

pytestmark = pytest.mark.integration

GOOD_REQUESTS = 50
HOSTILE_DEVICE = "İ" * 32  # 32 characters as sent, 64 once lower-cased


async def _serve_together(
    stack: Settings, country: str, campaign_id: str
) -> tuple[list[ad_server_pb2.ServeAdResponse], BaseException | ad_server_pb2.ServeAdResponse]:
    """_serve_together sends 50 good requests and a hostile one at once on one connection.

    One connection reaches one AdServer worker, hence one served-ads writer: the requests
    share its group commits.
    """
    async with grpc.aio.insecure_channel(stack.adserver_target) as channel:
        stub = ad_server_pb2_grpc.AdServerStub(channel)

        async def ask(number: int, device_type: str) -> ad_server_pb2.ServeAdResponse:
            request = ad_server_pb2.ServeAdRequest(
                user_id=f"hostile-test-{number}", device_type=device_type, country=country
            )
            return await stub.ServeAd(request, timeout=10)

        async def indexed() -> None:  # this worker serves the campaign before the burst
            deadline = asyncio.get_running_loop().time() + 10
            while (await ask(-1, "iPhone")).campaign_id != campaign_id:
                assert asyncio.get_running_loop().time() < deadline, "campaign never served"
                await asyncio.sleep(0.05)

        await indexed()
        calls = [ask(number, "iPhone") for number in range(GOOD_REQUESTS)]
        calls.insert(GOOD_REQUESTS // 2, ask(GOOD_REQUESTS, HOSTILE_DEVICE))
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
    hostile = outcomes.pop(GOOD_REQUESTS // 2)
    good = []
    for outcome in outcomes:
        assert not isinstance(outcome, BaseException), f"a good request failed: {outcome!r}"
        good.append(outcome)
    return good, hostile


def test_a_hostile_device_fails_no_other_request(stack: Settings, database: Engine) -> None:
    country = f"Testland-{uuid.uuid4().hex[:10]}"
    campaign = campaigns.create(stack, target_country=country)
    for _ in range(3):  # several bursts: each mixes the hostile request into a batch
        good, hostile = asyncio.run(_serve_together(stack, country, campaign.campaign_id))
        assert all(answer.campaign_id == campaign.campaign_id for answer in good)
        rows = served_rows(database, [answer.request_id for answer in good])
        assert len(rows) == GOOD_REQUESTS, "every good ad is recorded before it is answered"
        assert all(row["device_type"] == "iPhone" for row in rows.values())
        if isinstance(hostile, grpc.aio.AioRpcError):
            assert hostile.code() == grpc.StatusCode.INVALID_ARGUMENT, hostile
            assert "device_type" in (hostile.details() or "")
        else:  # served: then stored as canonicalised, within its column
            assert isinstance(hostile, ad_server_pb2.ServeAdResponse)
            stored = served_rows(database, [hostile.request_id])[hostile.request_id]
            assert len(stored["device_type"]) <= 32


def test_rows_mariadb_refuses_fail_alone_and_the_rest_of_their_batch_commits(
    database: Engine,
) -> None:
    campaign_id = f"recorder-{uuid.uuid4()}"
    ads = [served.served_ad(campaign_id, user_id="recorder-test") for _ in range(60)]
    # Each bypasses validation and is refused by MariaDB or its driver for one reason:
    refused: dict[int, dict[str, Any]] = {
        7: {"device_type": "x" * 33},  # longer than VARCHAR(32): strict mode's DataError
        19: {"request_id": ads[3].request_id},  # served before: the unique key's IntegrityError
        31: {"city": "Pune\udc80"},  # a lone surrogate: bytes MariaDB refuses as not UTF-8
        43: {"state": "\ud800"},  # a lone surrogate the driver cannot encode at all
    }
    for number, fields in refused.items():
        ads[number] = dataclasses.replace(ads[number], **fields)

    async def record_together() -> list[BaseException | None]:
        recorder = Recorder(database, linger=0.2)  # one batch: all arrive while it lingers
        outcomes = await asyncio.gather(
            *(recorder.record(ad) for ad in ads), return_exceptions=True
        )
        await recorder.close()
        return outcomes

    try:
        outcomes = asyncio.run(record_together())
        failed = {number for number, outcome in enumerate(outcomes) if outcome is not None}
        assert failed == set(refused), outcomes
        assert all(isinstance(outcomes[number], ServedAdRefusedError) for number in refused)
        with database.connect() as connection:
            stored = connection.execute(
                select(served_ads.c.request_id).where(served_ads.c.campaign_id == campaign_id)
            ).scalars()
            assert sorted(stored) == sorted(
                ad.request_id for number, ad in enumerate(ads) if number not in refused
            )
    finally:
        with database.begin() as connection:
            connection.execute(delete(served_ads).where(served_ads.c.campaign_id == campaign_id))


def _feedback(stack: Settings, request_id: str) -> feedback_service_pb2.SubmitFeedbackResponse:
    return channels.feedback(stack).SubmitFeedback(
        feedback_service_pb2.SubmitFeedbackRequest(
            request_id=request_id, view=1, click=1, acquisition=1
        ),
        timeout=10,
    )


def test_feedback_in_any_spelling_of_a_request_id_charges_the_ad_once(
    stack: Settings, database: Engine
) -> None:
    country = f"Testland-{uuid.uuid4().hex[:10]}"
    campaign = campaigns.create(stack, target_country=country, cpa="0.05")
    request = ad_server_pb2.ServeAdRequest(user_id="hostile-feedback", country=country)

    def served() -> ad_server_pb2.ServeAdResponse | None:
        answer = channels.ads(stack).ServeAd(request, timeout=5)
        return answer if answer.campaign_id == campaign.campaign_id else None

    answer = eventually(served, timeout=10)
    assert answer is not None
    request_id = answer.request_id
    spellings = [f"  {request_id.upper()}\t", request_id, request_id.upper(), f"\n{request_id} "]
    with ThreadPoolExecutor(len(spellings) * 2) as pool:  # at once, and each spelling twice
        replies = list(pool.map(lambda spelling: _feedback(stack, spelling), spellings * 2))
    assert sum(1 for reply in replies if not reply.duplicate) == 1
    assert {reply.request_id for reply in replies} == {request_id}  # answered canonically
    assert {(reply.user_action, reply.expenditure) for reply in replies} == {
        ("acquisition", "0.05")
    }
    stored = campaigns.get(stack, campaign.campaign_id)
    assert stored is not None and Decimal(stored.spent) == Decimal("0.05")
    with database.connect() as connection:
        rows = connection.execute(
            select(feedback.c.request_id, func.count())
            .where(func.lower(feedback.c.request_id) == request_id)
            .group_by(feedback.c.request_id)
        ).all()
    assert [tuple(row) for row in rows] == [(request_id, 1)]  # one row, the canonical id
