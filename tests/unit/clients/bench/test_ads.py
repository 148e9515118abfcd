"""Tests for clients.bench.ads: the plan adsload reads, and how its result is summarised."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path

from clients.bench.ads import acknowledged, plan, summarise
from clients.bench.mix import AdAsk
from clients.simulator.behaviour import action_probability
from servers.identifiers import PRIVACY_USER_ID
from servers.settings import Settings

ARGS = argparse.Namespace(seed=7, warmup=2, duration=5, connections=8)


def _raw(**changes: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "seconds": 4.0,
        "served": 10,
        "filled": 8,
        "whole_ads": 8,
        "serve_errors": 0,
        "feedback_errors": 0,
        "serve_us": [1000 * n for n in range(1, 11)],
        "feedback_us": [2000] * 8,
        "pair_us": [3000] * 7 + [9000],
        "charges": [],
        "uncharged": [],
        "error_samples": [],
        "cpu_seconds": 0.004,
    }
    return raw | changes


def test_the_plan_gives_each_ask_its_users_action_chance(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path, envoy_port=18080)
    asks = [
        AdAsk("u1", "iOS", "Mumbai", "Maharashtra"),
        AdAsk(PRIVACY_USER_ID, "Android Mobile", "Delhi", "Delhi"),
    ]
    planned = plan(asks, {"u1": 22}, settings, ARGS)
    assert planned["serve_url"] == f"{settings.envoy_url}/v1/ads:serve"
    assert planned["feedback_url"] == f"{settings.envoy_url}/v1/feedback"
    assert [json.loads(ask["body"]) for ask in planned["asks"]] == [a.fields() for a in asks]
    chances = [ask["probability"] for ask in planned["asks"]]
    assert chances == [action_probability(22), action_probability(None)]  # no age: the mean
    assert (planned["seed"], planned["warmup_seconds"], planned["seconds"]) == (7, 2, 5)
    assert planned["connections"] == 8
    assert planned["timeout_seconds"] > 0


def test_the_summary_counts_whole_ads_fill_and_each_calls_percentiles() -> None:
    summary = summarise(_raw())
    assert summary["whole_ads_per_second"] == 2.0
    assert summary["fill_rate"] == 0.8
    serve, feedback, pair = summary["calls"]
    assert (serve["name"], serve["requests"], serve["throughput"]) == ("ads-serve", 10, 2.5)
    assert (serve["p50_ms"], serve["p99_ms"]) == (5.0, 10.0)  # nearest rank
    assert (feedback["p50_ms"], pair["p50_ms"], pair["p99_ms"]) == (2.0, 3.0, 9.0)
    assert summary["errors"] == 0


def test_the_generators_cpu_is_shared_over_every_acknowledged_feedback() -> None:
    charges = [{"request_id": str(n), "expenditure": "0.0001"} for n in range(8)]
    assert summarise(_raw(charges=charges))["client_cpu_ms_per_whole_ad"] == 0.5


def test_errors_of_either_call_are_errors_of_the_pair() -> None:
    summary = summarise(_raw(serve_errors=2, feedback_errors=3, served=0, whole_ads=0))
    serve, feedback, pair = summary["calls"]
    assert (serve["errors"], feedback["errors"], pair["errors"]) == (2, 3, 5)
    assert summary["errors"] == 5
    assert summary["fill_rate"] == 0.0  # nothing answered: no division by zero


def test_acknowledged_expenditures_are_exact_decimals() -> None:
    charges = [
        {"request_id": "a", "expenditure": "0.0000280"},
        {"request_id": "b", "expenditure": "0.0217"},
    ]
    found = acknowledged(_raw(charges=charges))
    assert found == {"a": Decimal("0.000028"), "b": Decimal("0.0217")}
    assert sum(found.values(), Decimal(0)) == Decimal("0.0217280")
