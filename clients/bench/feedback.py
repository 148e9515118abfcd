"""`adplatform bench feedback`: sustained feedback/s and p99, gRPC and through Envoy, vs a no-op.

Against the running stack, in one run: it creates a few campaigns with budgets no run can
exhaust (ids `bench-feedback-…`), records served ads for them (as the AdServer would), and
drives, closed loop with a warm-up and a bounded duration each:

- a no-op RPC: grpc.health.v1.Health/Check on the FeedbackService's port (ghz);
- SubmitFeedback over gRPC, every request a different served ad (ghz);
- SubmitFeedback as JSON through Envoy (`POST /v1/feedback`, wrk rotating the bodies).

Each measurement starts once the Spark writer has archived the previous one's events.
Actions follow the classic simulator (a view always, acquisitions and clicks with the mean
age weight's w/(w+256)). Every feedback is real: charged once in MySQL, published through
the outbox and archived, so the stack's books still reconcile afterwards.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import grpc
from adplatform.v1 import campaign_pb2, campaign_service_pb2, feedback_service_pb2
from google.protobuf.descriptor import FileDescriptor
from grpc_health.v1 import health_pb2
from rich.console import Console
from rich.table import Table

from clients import channels
from clients.bench import ghz, loadgen
from clients.simulator.behaviour import action_probability
from servers.ads.served import ServedAd, record
from servers.settings import Settings
from servers.storage.db import TOOL_TIMEOUT_SECONDS, engine
from spark import status

BUDGET = "10000000"  # no benchmark run can exhaust it: every feedback is a full charge
CAMPAIGNS = 4
MEASUREMENTS = ("noop-grpc", "feedback-grpc", "feedback-envoy")


def _campaigns(settings: Settings, run_id: str) -> list[campaign_pb2.Campaign]:
    """_campaigns creates the run's campaigns through CampaignService and waits until ACTIVE."""
    stub = channels.campaigns(settings)
    today = datetime.now(UTC).date()
    created = []
    for number in range(CAMPAIGNS):
        campaign = campaign_pb2.Campaign(
            campaign_id=f"bench-feedback-{run_id}-{number}",
            text="Benchmark campaign",
            category="Benchmark",
            target_gender="All",
            target_age_range=campaign_pb2.AgeRange(start=0, end=0),
            target_city="Benchmark City",
            target_state="All",
            target_country="India",
            target_income_bucket="All",
            target_device="All",
            cpc="0.0004",
            cpa="0.05",
            budget=BUDGET,
            date_range=campaign_pb2.DateRange(
                start=(today - timedelta(days=1)).isoformat(),
                end=(today + timedelta(days=1)).isoformat(),
            ),
            time_range=campaign_pb2.TimeRange(start="0:00:00", end="0:00:00"),
        )
        stub.CreateCampaign(campaign_service_pb2.CreateCampaignRequest(campaign=campaign))
        created.append(campaign)
    deadline = time.monotonic() + 30
    for campaign in created:
        while True:
            try:
                stored = stub.GetCampaign(
                    campaign_service_pb2.GetCampaignRequest(campaign_id=campaign.campaign_id)
                ).campaign
                if stored.status == "ACTIVE":
                    break
            except grpc.RpcError as error:  # NOT_FOUND until the Ad Manager has applied it
                if error.code() is not grpc.StatusCode.NOT_FOUND:
                    raise
            if time.monotonic() > deadline:
                raise RuntimeError(f"campaign {campaign.campaign_id} did not become ACTIVE")
            time.sleep(0.1)
    return created


def _served(settings: Settings, campaigns: list[campaign_pb2.Campaign], count: int) -> list[str]:
    """_served records count served ads over the campaigns; returns their request ids."""
    now = datetime.now(UTC)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    database = engine(settings.database_url, pool_size=1, timeout_seconds=TOOL_TIMEOUT_SECONDS)
    try:
        for first in range(0, count, 2000):
            ads = [
                ServedAd(
                    request_id=request_id,
                    campaign_id=campaigns[index % len(campaigns)].campaign_id,
                    user_id=f"bench-user-{index % 5000}",
                    device_type="Android Mobile",
                    city="Benchmark City",
                    state="All",
                    country="India",
                    auction_cpm=Decimal("0.0000280"),
                    auction_cpc=Decimal("0.0004"),
                    auction_cpa=Decimal("0.05"),
                    bid_cpm=Decimal("0.0000280"),
                    bidders=1,
                    target_age_start=0,
                    target_age_end=0,
                    target_location="Benchmark City, All, India",
                    target_gender="All",
                    target_income_bucket="All",
                    target_device="All",
                    campaign_start_time=now - timedelta(days=1),
                    campaign_end_time=now + timedelta(days=1),
                    served_at=now,
                )
                for index, request_id in enumerate(ids[first : first + 2000], start=first)
            ]
            with database.begin() as connection:
                record(connection, ads)
    finally:
        database.dispose()
    return ids


def _feedback(request_ids: list[str], rng: random.Random) -> list[dict[str, Any]]:
    """_feedback is one SubmitFeedback message per served ad, with the classic actions."""
    chance = action_probability(None)
    messages = []
    for request_id in request_ids:
        acquisition = int(rng.random() < chance)
        click = 1 if acquisition else int(rng.random() < chance)
        messages.append(
            {"request_id": request_id, "view": 1, "click": click, "acquisition": acquisition}
        )
    return messages


def _quiet(settings: Settings, say: Any, timeout: float = 180.0) -> None:
    """_quiet waits until the archive has caught up, so one run's events do not slow the next.

    The feedback writer archives every charged feedback; on a small machine its micro-batches
    compete with the servers for CPU, so each measurement starts with no backlog.
    """

    deadline = time.monotonic() + timeout
    while status.lag(settings).records > 0:
        if time.monotonic() > deadline:
            say("the feedback writer still has a backlog; measuring anyway")
            return
        time.sleep(1)


def run(settings: Settings, args: argparse.Namespace, say: Any) -> dict[str, Any]:
    """run prepares the campaigns and served ads, then measures the three back to back."""
    ghz.ensure_ghz(say)
    run_id = uuid.uuid4().hex[:8]
    say("creating the benchmark's campaigns …")
    campaigns = _campaigns(settings, run_id)
    # Enough distinct served ads that no request repeats, even at several thousand a second.
    per_run = args.ads_per_second * (args.duration + args.warmup)
    say(f"recording {2 * per_run:,} served ads to give feedback for …")
    request_ids = _served(settings, campaigns, 2 * per_run)
    messages = _feedback(request_ids, random.Random(args.seed))
    grpc_messages, envoy_messages = messages[:per_run], messages[per_run:]
    runs: dict[str, loadgen.Measurement] = {}
    with tempfile.TemporaryDirectory(prefix="bench-feedback-") as scratch:
        workdir = Path(scratch)
        protoset = ghz.write_protoset(
            workdir / "feedback.protoset",
            cast(FileDescriptor, health_pb2.DESCRIPTOR),  # its stubs name the upb class
            feedback_service_pb2.DESCRIPTOR,
        )

        def grpc(name: str, method: str, messages: Any, seconds: int) -> loadgen.Measurement:
            return ghz.run(
                name,
                settings.feedback_target,
                method,
                messages,
                connections=args.connections,
                seconds=seconds,
                workdir=workdir,
                protoset=protoset,
            )

        _quiet(settings, say)
        say("measuring the no-op RPC (Health/Check on the FeedbackService) …")
        check = [{"service": ""}]
        grpc("warmup", "grpc.health.v1.Health.Check", check, args.warmup)
        runs["noop-grpc"] = grpc("noop-grpc", "grpc.health.v1.Health.Check", check, args.duration)
        _quiet(settings, say)
        say("measuring SubmitFeedback over gRPC …")
        runs["feedback-grpc"] = grpc(
            "feedback-grpc",
            "adplatform.v1.FeedbackService.SubmitFeedback",
            grpc_messages,
            args.duration,
        )
        _quiet(settings, say)
        say("measuring SubmitFeedback as JSON through Envoy …")
        runs["feedback-envoy"] = loadgen.wrk_json(
            "feedback-envoy",
            f"{settings.envoy_url}/v1/feedback",
            [json.dumps(message) for message in envoy_messages],
            connections=args.connections,
            duration=args.duration,
            warmup=args.warmup,
            workdir=workdir,
        )
    noop, direct, envoy = (runs[name] for name in MEASUREMENTS)
    return {
        "command": f"adplatform bench feedback --duration {args.duration} "
        f"--connections {args.connections}",
        "campaigns": [campaign.campaign_id for campaign in campaigns],
        "measurements": [asdict(m) | {"throughput": m.throughput} for m in (noop, direct, envoy)],
        "ratios": {
            "feedback_vs_noop": direct.throughput / noop.throughput if noop.throughput else 0.0,
            "envoy_vs_grpc": envoy.throughput / direct.throughput if direct.throughput else 0.0,
        },
    }


def _print(console: Any, result: dict[str, Any]) -> None:

    labels = {
        "noop-grpc": "no-op RPC (Health/Check), gRPC",
        "feedback-grpc": "SubmitFeedback, gRPC",
        "feedback-envoy": "SubmitFeedback, JSON through Envoy",
    }
    table = Table("measurement", "req/s", "p50 ms", "p99 ms", "errors")
    for m in result["measurements"]:
        table.add_row(labels[m["name"]], *loadgen.cells(m))
    console.print(table)
    ratios = result["ratios"]
    console.print(f"SubmitFeedback gRPC / no-op: {ratios['feedback_vs_noop']:.0%}")
    console.print(f"SubmitFeedback Envoy / gRPC: {ratios['envoy_vs_grpc']:.0%}")


def _feedback_command(args: argparse.Namespace, settings: Settings) -> int:
    console = Console()
    result = run(settings, args, (lambda *_: None) if args.json else console.print)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(console, result)
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds `bench feedback` to the bench area's sub-commands."""
    bench = commands.add_parser(
        "feedback", help="SubmitFeedback vs a no-op RPC, direct and via Envoy"
    )
    bench.add_argument("--duration", type=int, default=10, help="measured seconds (default 10)")
    bench.add_argument("--warmup", type=int, default=3, help="warm-up seconds (default 3)")
    bench.add_argument("--connections", type=int, default=32, help="connections (default 32)")
    bench.add_argument(
        "--ads-per-second",
        type=int,
        default=3000,
        help="served ads prepared per second of each run (default 3000)",
    )
    bench.add_argument("--seed", type=int, default=7)
    bench.add_argument("--json", action="store_true", help="print the result as JSON")
    bench.set_defaults(handler=_feedback_command)
