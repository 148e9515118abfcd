"""`adplatform bench ads`: whole ads per second through Envoy, charged and archived, in one run.

    adplatform bench ads [--duration 12] [--warmup 3] [--connections 32] [--json]

A whole ad is what a device costs the platform: a ServeAd and, for a filled ad, its
SubmitFeedback. Against the running stack (seeded as `bench serve` seeds it), with the
request mix of mix.py, it measures back to back:

1. the no-op RPC: grpc.health.v1.Health/Check on the AdServer's port (h2load);
2. ServeAd alone as JSON through Envoy (wrk), whose served ads it then removes;
3. the closed loop (clients/bench/adsload, a small Go program built once into .tools/bin):
   each device POSTs /v1/ads:serve, then for a filled ad /v1/feedback with the classic
   simulator's actions (a view always, an acquisition and a click by the user's age weight),
   then asks again.

Then it waits for the pipeline (Kafka → Spark writer → Hive) and checks the books
for its own traffic: Σ acknowledged expenditure = Σ the feedback table's expenditure for its
request ids (= the campaigns' Δspent when nobody else charged meanwhile) = Σ Hive billed for
its request ids. Exits 1 when they differ. Its charged ads are real business and stay (served
ads, feedback, spent, the archive); served ads it never charged are removed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from grpc_health.v1 import health_pb2
from sqlalchemy import Engine, delete, func, select

from clients.bench import cpu, loadgen, serve
from clients.bench.mix import AdAsk, request_mix, shares
from clients.simulator.behaviour import action_probability
from deploy.paths import TOOLS_DIR
from deploy.stack.errors import StackError
from servers.settings import Settings
from servers.storage.db import TOOL_TIMEOUT_SECONDS, engine
from servers.storage.schema import campaigns, feedback, served_ads, users

TARGETS = {"whole_ads_per_second": 1000.0, "pair_p99_ms": 60.0}
SOURCE = Path(__file__).with_name("adsload")
CALL_TIMEOUT_SECONDS = 5.0
CHUNK = 2000  # request ids per MySQL query or delete
Say = serve.Say


def adsload(say: Say) -> Path:
    """adsload returns the closed-loop generator, built from its source the first time.

    The binary's name carries a hash of the source, so a changed generator is rebuilt.
    """
    digest = hashlib.sha256()
    for name in ("go.mod", "main.go"):
        digest.update((SOURCE / name).read_bytes())
    binary = TOOLS_DIR / "bin" / f"adsload-{digest.hexdigest()[:12]}"
    return loadgen.go_build(binary, ["build", "-o", str(binary), "."], say, cwd=SOURCE)


def plan(
    asks: Sequence[AdAsk],
    ages: Mapping[str, int],
    settings: Settings,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """plan is what adsload reads: URLs, the mix with each user's action chance, the timing.

    A user without an age (the privacy id) acts with the mean weight's chance, as the
    classic simulator's users do (clients/simulator/behaviour.py).
    """
    return {
        "serve_url": f"{settings.envoy_url}/v1/ads:serve",
        "feedback_url": f"{settings.envoy_url}/v1/feedback",
        "asks": [
            {
                "body": json.dumps(ask.fields()),
                "probability": action_probability(ages.get(ask.user_id)),
            }
            for ask in asks
        ],
        "seed": args.seed,
        "warmup_seconds": args.warmup,
        "seconds": args.duration,
        "connections": args.connections,
        "timeout_seconds": CALL_TIMEOUT_SECONDS,
    }


def latency(name: str, micros: Iterable[int], errors: int, seconds: float) -> loadgen.Measurement:
    """latency is the measurement of one call (or the pair) from its latencies in µs."""
    ordered = sorted(micros)
    return loadgen.Measurement(
        name=name,
        requests=len(ordered),
        errors=errors,
        seconds=seconds,
        p50_ms=loadgen.percentile(ordered, 0.50) / 1000,
        p99_ms=loadgen.percentile(ordered, 0.99) / 1000,
    )


def summarise(raw: Mapping[str, Any]) -> dict[str, Any]:
    """summarise turns adsload's result into whole ads/s, fill rate and the three latencies."""
    seconds = float(raw["seconds"])
    calls = [
        latency("ads-serve", raw["serve_us"], raw["serve_errors"], seconds),
        latency("ads-feedback", raw["feedback_us"], raw["feedback_errors"], seconds),
        latency("ads-pair", raw["pair_us"], raw["serve_errors"] + raw["feedback_errors"], seconds),
    ]
    return {
        "whole_ads": raw["whole_ads"],
        "whole_ads_per_second": raw["whole_ads"] / seconds if seconds else 0.0,
        "served": raw["served"],
        "filled": raw["filled"],
        "fill_rate": raw["filled"] / raw["served"] if raw["served"] else 0.0,
        "errors": raw["serve_errors"] + raw["feedback_errors"],
        "unacknowledged": len(raw["uncharged"]),  # feedback refused on every attempt
        "client_cpu_ms_per_whole_ad": 1000
        * raw.get("cpu_seconds", 0.0)
        / max(len(raw["charges"]), 1),
        "error_samples": raw["error_samples"],
        "calls": [asdict(call) | {"throughput": call.throughput} for call in calls],
    }


def acknowledged(raw: Mapping[str, Any]) -> dict[str, Decimal]:
    """acknowledged maps every acknowledged feedback's request id to its expenditure."""
    return {charge["request_id"]: Decimal(charge["expenditure"]) for charge in raw["charges"]}


def ledger(database: Engine) -> tuple[int, Decimal]:
    """ledger is the feedback table's last id and the campaigns' Σ spent, read together."""
    with database.begin() as connection:
        last = connection.execute(select(func.coalesce(func.max(feedback.c.id), 0))).scalar_one()
        spent = connection.execute(select(func.coalesce(func.sum(campaigns.c.spent), 0)))
        return int(last), Decimal(spent.scalar_one())


def recorded(database: Engine, request_ids: Sequence[str]) -> tuple[int, Decimal]:
    """recorded is how many of the request ids the feedback table holds, and their Σ spent."""
    count, total = 0, Decimal(0)
    with database.connect() as connection:
        for first in range(0, len(request_ids), CHUNK):
            chunk = request_ids[first : first + CHUNK]
            query = select(func.count(), func.coalesce(func.sum(feedback.c.expenditure), 0))
            rows, amount = connection.execute(query.where(feedback.c.request_id.in_(chunk))).one()
            count, total = count + int(rows), total + Decimal(amount)
    return count, total


def charged_since(database: Engine, last_id: int) -> int:
    """charged_since is how many feedbacks anyone recorded after the feedback id last_id."""
    with database.connect() as connection:
        query = select(func.count()).where(feedback.c.id > last_id)
        return int(connection.execute(query).scalar_one())


def remove_uncharged(database: Engine, request_ids: Sequence[str]) -> int:
    """remove_uncharged deletes served ads whose feedback never got through and has no row.

    A feedback refused in time may still have been recorded (its batch committed after the
    answer): such an ad was charged and stays.
    """
    removed = 0
    charged = select(feedback.c.id).where(feedback.c.request_id == served_ads.c.request_id)
    for first in range(0, len(request_ids), CHUNK):
        chunk = request_ids[first : first + CHUNK]
        never = delete(served_ads).where(served_ads.c.request_id.in_(chunk), ~charged.exists())
        with database.begin() as connection:
            removed += connection.execute(never).rowcount
    return removed


def hive_billed(
    settings: Settings, request_ids: Sequence[str], since: datetime, timeout: float, say: Say
) -> tuple[int, Decimal]:
    """hive_billed waits until Hive bills every request id (or timeout); returns count and Σ.

    The archive is the Spark writer's, a trigger or two behind MySQL; the ids travel to Spark
    as a small table joined with the billing archive's partitions since the run began.
    """
    from pyspark.sql import functions

    from spark.session import hive_session
    from spark.tables import Tables

    spark = hive_session(settings, "bench-ads")
    try:
        table = Tables(settings.hive_database).billing
        mine = spark.createDataFrame(
            [(request_id,) for request_id in request_ids], "request_id STRING"
        )
        deadline = time.monotonic() + timeout
        while True:
            spark.catalog.refreshTable(table)
            billed = spark.table(table).where(functions.col("dt") >= since.date().isoformat())
            row = (
                billed.join(mine, "request_id")
                .agg(
                    functions.count("*").alias("rows"), functions.sum("expenditure").alias("total")
                )
                .collect()[0]
            )
            count, total = int(row["rows"]), Decimal(row["total"] or 0)
            if count >= len(request_ids) or time.monotonic() > deadline:
                return count, total
            say(f"  Hive bills {count:,} of {len(request_ids):,} so far …")
            time.sleep(3)
    finally:
        spark.stop()


def books(
    database: Engine,
    settings: Settings,
    raw: Mapping[str, Any],
    *,
    before: tuple[int, Decimal],
    since: datetime,
    timeout: float,
    say: Say,
) -> dict[str, Any]:
    """books checks Σ acknowledged = Σ MySQL spent = Σ Hive billed for the run's request ids.

    The campaigns' Δspent counts too when no other feedback was recorded during the run;
    otherwise it includes others' charges and is reported, not compared.
    """
    charges = acknowledged(raw)
    request_ids = sorted(charges)
    expected = sum(charges.values(), Decimal(0))
    rows, mysql_total = recorded(database, request_ids)
    last_id, spent_before = before
    _, spent_after = ledger(database)
    others = charged_since(database, last_id) - rows
    say(f"waiting for Hive to bill the run's {len(request_ids):,} feedbacks …")
    hive_rows, hive_total = hive_billed(settings, request_ids, since, timeout, say)
    delta = spent_after - spent_before
    checks = {
        "mysql": rows == len(request_ids) and mysql_total == expected,
        "hive": hive_rows == len(request_ids) and hive_total == expected,
        "spent": (delta == expected) if others == 0 else None,
    }
    return {
        "feedbacks": len(request_ids),
        "acknowledged": str(expected),
        "mysql_feedbacks": rows,
        "mysql_spent": str(mysql_total),
        "campaigns_delta_spent": str(delta),
        "others_charged_meanwhile": others,
        "hive_billed_rows": hive_rows,
        "hive_billed": str(hive_total),
        "checks": checks,
        "exact": all(check is not False for check in checks.values()),
    }


def baselines(
    settings: Settings, args: argparse.Namespace, asks: Sequence[AdAsk], workdir: Path, say: Say
) -> list[loadgen.Measurement]:
    """baselines measures the no-op RPC and ServeAd alone through Envoy, as bench serve does."""
    run = {"duration": args.duration, "warmup": args.warmup, "connections": args.connections}
    say("measuring the no-op RPC (grpc.health.v1.Health/Check on the AdServer) …")
    noop_body = loadgen.grpc_frame(health_pb2.HealthCheckRequest().SerializeToString())
    noop = loadgen.h2load_grpc(
        "noop-grpc",
        f"http://{settings.adserver_target}/grpc.health.v1.Health/Check",
        [noop_body] * args.connections,  # one h2load per connection, as bench serve runs it
        workdir=workdir,
        **run,
    )
    say("measuring ServeAd alone as JSON through Envoy …")
    alone = loadgen.wrk_json(
        "serve-envoy",
        f"{settings.envoy_url}/v1/ads:serve",
        [json.dumps(ask.fields()) for ask in asks],
        workdir=workdir,
        **run,
    )
    return [noop, alone]


def whole_ads(binary: Path, the_plan: Mapping[str, Any], workdir: Path) -> dict[str, Any]:
    """whole_ads runs adsload on the plan; returns its raw result and the CPU it spent."""
    plan_file, result_file = workdir / "ads-plan.json", workdir / "ads-result.json"
    plan_file.write_text(json.dumps(the_plan))
    bound = the_plan["warmup_seconds"] + the_plan["seconds"] + loadgen.OVERRUN_SECONDS
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(
            [str(binary), str(plan_file), str(result_file)],
            capture_output=True,
            text=True,
            timeout=bound,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise StackError(f"adsload ran over its {bound:.0f}s bound") from None
    if done.returncode != 0:
        raise StackError(f"adsload failed: {done.stderr.strip()[-500:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # adsload's own, once reaped
    raw: dict[str, Any] = json.loads(result_file.read_text())
    raw["cpu_seconds"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return raw


def ages(database: Engine, user_ids: Iterable[str]) -> dict[str, int]:
    """ages are the users' ages (the privacy id has none)."""
    wanted = sorted(set(user_ids))
    with database.connect() as connection:
        query = select(users.c.id, users.c.age).where(users.c.id.in_(wanted))
        return {user_id: int(age) for user_id, age in connection.execute(query)}


def run(settings: Settings, args: argparse.Namespace, say: Say) -> dict[str, Any]:
    """run sets the stack up, measures the baselines and the loop, then checks the books."""
    binary = adsload(say)
    database = engine(settings.database_url, pool_size=1, timeout_seconds=TOOL_TIMEOUT_SECONDS)
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    try:
        user_rows = serve.ensure_users(settings, database, args.users, say)
        live = serve.ensure_feed(settings, database, today, say)
        asks = request_mix(
            serve.residents(database, limit=50_000), args.bodies, random.Random(args.seed)
        )
        the_plan = plan(asks, ages(database, (ask.user_id for ask in asks)), settings, args)
        with tempfile.TemporaryDirectory(prefix="bench-ads-") as scratch:
            workdir = Path(scratch)
            began = datetime.now(UTC)
            noop, alone = baselines(settings, args, asks, workdir, say)
            say("removing ServeAd alone's served ads (never charged) …")
            removed = serve.remove_served(database, asks, began)
            say("measuring whole ads: ServeAd then its feedback, through Envoy …")
            before = ledger(database)
            since = datetime.now(UTC)
            cpu_before = cpu.snapshot(settings)
            raw = whole_ads(binary, the_plan, workdir)
        removed += remove_uncharged(database, raw["uncharged"])
        summary = summarise(raw)
        checked = books(
            database,
            settings,
            raw,
            before=before,
            since=since,
            timeout=args.pipeline_timeout,
            say=say,
        )
        # Up to the moment Hive holds the run's events: serve, charge, publish and archive.
        by_part = cpu.per_unit(cpu_before, cpu.snapshot(settings), checked["feedbacks"])
    finally:
        database.dispose()
    pair = summary["calls"][2]
    return {
        "command": f"adplatform bench ads --duration {args.duration} --warmup {args.warmup} "
        f"--connections {args.connections}",
        "setup": {"users": user_rows, "feed_campaigns_live": live, "mix_requests": len(asks)},
        "mix_cities": shares(asks, "city"),
        "baselines": [asdict(m) | {"throughput": m.throughput} for m in (noop, alone)],
        **summary,
        "ratios": {
            "whole_ads_vs_noop": _ratio(summary["whole_ads_per_second"], noop.throughput),
            "whole_ads_vs_serve_alone": _ratio(summary["whole_ads_per_second"], alone.throughput),
            "loop_serve_vs_serve_alone": _ratio(
                summary["calls"][0]["throughput"], alone.throughput
            ),
        },
        "platform_cpu_ms_per_whole_ad": {share.part: share.ms_per_unit for share in by_part},
        "served_ads_removed": removed,
        "books": checked,
        "targets": TARGETS,
        "met": {
            "whole_ads_per_second": summary["whole_ads_per_second"]
            >= TARGETS["whole_ads_per_second"],
            "pair_p99_ms": pair["p99_ms"] < TARGETS["pair_p99_ms"],
        },
    }


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _print_report(console: Any, result: dict[str, Any]) -> None:
    from rich.table import Table

    labels = {
        "noop-grpc": "no-op RPC (Health/Check), gRPC",
        "serve-envoy": "ServeAd alone, JSON through Envoy",
        "ads-serve": "ServeAd in the loop",
        "ads-feedback": "SubmitFeedback in the loop",
        "ads-pair": "whole ad (ServeAd + SubmitFeedback)",
    }
    table = Table("measurement", "req/s", "p50 ms", "p99 ms", "errors")
    for m in result["baselines"] + result["calls"]:
        table.add_row(labels[m["name"]], *loadgen.cells(m))
    console.print(table)
    ratios = result["ratios"]
    console.print(
        f"whole ads: {result['whole_ads_per_second']:,.0f}/s "
        f"({result['whole_ads']:,} in {result['calls'][2]['seconds']:.0f} s), "
        f"fill rate {result['fill_rate']:.0%}; "
        f"{ratios['whole_ads_vs_noop']:.0%} of the no-op, "
        f"{ratios['whole_ads_vs_serve_alone']:.0%} of ServeAd alone "
        f"(ServeAd in the loop: {ratios['loop_serve_vs_serve_alone']:.0%} of alone); "
        f"the load generator spent {result['client_cpu_ms_per_whole_ad']:.2f} ms CPU a whole ad"
    )
    parts = result["platform_cpu_ms_per_whole_ad"]
    console.print(
        f"platform CPU a whole ad, until archived: {sum(parts.values()):.2f} ms ("
        + ", ".join(f"{part} {ms:.2f}" for part, ms in parts.items())
        + ")"
    )
    met = result["met"]
    for label, ok, target in (
        ("whole ads/s", met["whole_ads_per_second"], "≥ 1,000"),
        ("pair p99", met["pair_p99_ms"], "< 60 ms"),
    ):
        console.print(f"{label}: target {target} {'[green]met[/]' if ok else '[red]missed[/]'}")
    if result["errors"]:
        console.print(
            f"[red]{result['errors']:,} errors[/] (failed calls; a refused feedback is retried "
            f"twice, a second apart): {result['unacknowledged']:,} ads never acknowledged"
        )
    for sample in result["error_samples"]:
        console.print(f"[red]error:[/] {sample}")
    b = result["books"]
    spent = {True: "= acknowledged", False: "[red]differs[/]", None: "not compared"}
    console.print(
        f"books for the run's {b['feedbacks']:,} feedbacks: acknowledged {b['acknowledged']}; "
        f"MySQL feedback {b['mysql_spent']} ({b['mysql_feedbacks']:,} rows); "
        f"Hive billed {b['hive_billed']} ({b['hive_billed_rows']:,} rows); "
        f"campaigns' Δspent {b['campaigns_delta_spent']} {spent[b['checks']['spent']]}"
        + (
            f" ({b['others_charged_meanwhile']:,} other feedbacks charged meanwhile)"
            if b["others_charged_meanwhile"]
            else ""
        )
    )
    console.print("books: [green]exact[/]" if b["exact"] else "books: [red]DIFFER[/]")
    console.print(
        f"removed {result['served_ads_removed']:,} never-charged served ads; "
        f"load average {os.getloadavg()[0]:.2f}"
    )


def _ads(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    console = Console(stderr=args.json)
    load = os.getloadavg()[0]
    result = run(settings, args, console.print)
    result["machine"] = {
        "cpus": os.cpu_count(),
        "load_average_1m": load,
        "load_average_1m_after": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_report(console, result)
    return 0 if result["books"]["exact"] else 1


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds `bench ads` to the bench area's sub-commands."""
    ads = commands.add_parser(
        "ads",
        help="whole ads/s (ServeAd + feedback) through Envoy vs the no-op and ServeAd alone; "
        "checks the books",
        description="Whole ads through Envoy, then the books: Σ acknowledged = MySQL = Hive. "
        "The run's charged ads are real business and stay (served ads, feedback, campaigns' "
        "spent, the Hive archive); served ads it never charged are removed.",
    )
    ads.add_argument("--duration", type=serve._positive, default=12, help="seconds measured (12)")
    ads.add_argument("--warmup", type=int, default=3, help="seconds before measuring (3)")
    ads.add_argument("--connections", type=serve._positive, default=32, help="devices at once (32)")
    ads.add_argument(
        "--bodies", type=serve._positive, default=1000, help="distinct requests in the mix (1000)"
    )
    ads.add_argument("--users", type=serve._positive, default=20_000, help="users to seed if none")
    ads.add_argument("--seed", type=int, default=7, help="random seed of the mix and actions")
    ads.add_argument(
        "--pipeline-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for Hive to bill the run (300)",
    )
    ads.add_argument("--json", action="store_true", help="machine-readable output")
    ads.set_defaults(handler=_ads)
