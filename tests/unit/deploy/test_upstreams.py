"""Tests for how Envoy treats its upstreams: health checks, retries and their budget."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deploy.stack import auth, envoy, refusals
from servers.settings import Settings

SERVE_AD = "/adplatform.v1.AdServer/ServeAd"
SUBMIT_FEEDBACK = "/adplatform.v1.FeedbackService/SubmitFeedback"
GET_CAMPAIGN = "/adplatform.v1.CampaignService/GetCampaign"


def _config(settings: Settings) -> dict[str, Any]:
    return envoy.config(settings)


def _hosts(settings: Settings) -> list[dict[str, Any]]:
    listener = _config(settings)["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    hosts: list[dict[str, Any]] = manager["route_config"]["virtual_hosts"]
    return hosts


def _routes(settings: Settings, host: str) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = next(h for h in _hosts(settings) if h["name"] == host)["routes"]
    return routes


def _policy(routes: list[dict[str, Any]], **match: str) -> dict[str, Any]:
    route = next(r for r in routes if r["match"] == match)
    policy: dict[str, Any] = route["route"]["retry_policy"]
    return policy


def _every_policy(settings: Settings) -> list[dict[str, Any]]:
    return [
        route["route"]["retry_policy"]
        for host in _hosts(settings)
        for route in host["routes"]
        if "route" in route
    ]


def test_every_upstream_has_grpc_health_checks_and_no_outlier_ejection(tmp_path: Path) -> None:
    clusters = _config(Settings(run_dir=tmp_path))["static_resources"]["clusters"]
    assert {c["name"] for c in clusters} == {"campaign-service", "adserver", "feedback-service"}
    for cluster in clusters:
        (check,) = cluster["health_checks"]
        assert "grpc_health_check" in check
        # One address per cluster: Envoy would eject it whole when a worker's death resets
        # the calls on its connection, and every device would get 503 for the ejection time.
        assert "outlier_detection" not in cluster


def test_retries_are_bounded_by_a_budget_on_every_cluster(tmp_path: Path) -> None:
    for cluster in _config(Settings(run_dir=tmp_path))["static_resources"]["clusters"]:
        (thresholds,) = cluster["circuit_breakers"]["thresholds"]
        budget = thresholds["retry_budget"]
        assert 0 < budget["budget_percent"]["value"] <= 25
        assert budget["min_retry_concurrency"] >= 1


@pytest.mark.parametrize("host", ["public", "adserver", "feedback-service"])
def test_device_calls_are_retried_once_after_a_reset_within_the_deadline(
    tmp_path: Path, host: str
) -> None:
    settings = Settings(run_dir=tmp_path, device_timeout_seconds=2)
    for path in (SERVE_AD, SUBMIT_FEEDBACK):
        if host != "public" and host not in envoy.DEVICE_METHODS[path]:
            continue
        policy = _policy(_routes(settings, host), path=path)
        assert set(policy["retry_on"].split(",")) == {"reset", "connect-failure", "refused-stream"}
        assert policy["num_retries"] == 1
        assert "per_try_timeout" not in policy  # the server's own 503 is never cut off


def test_campaign_reads_are_retried_after_a_reset(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path, campaign_timeout_seconds=15)
    for host in ("public", "campaign-service"):
        policy = _policy(_routes(settings, host), path=GET_CAMPAIGN)
        assert "reset" in policy["retry_on"].split(",")
        assert "per_try_timeout" not in policy


def test_campaign_writes_are_retried_only_when_they_never_reached_a_server(
    tmp_path: Path,
) -> None:
    # CreateCampaign without a campaign_id is not idempotent: a reset after it was sent may
    # have published the instruction already.
    settings = Settings(run_dir=tmp_path)
    public = _policy(_routes(settings, "public"), prefix="/adplatform.v1.CampaignService/")
    pinned = _policy(_routes(settings, "campaign-service"), prefix="/")
    for policy in (public, pinned):
        assert set(policy["retry_on"].split(",")) == {
            "connect-failure",
            "refused-stream",
            "reset-before-request",
        }
        assert "per_try_timeout" not in policy


def test_no_route_retries_a_servers_own_answer(tmp_path: Path) -> None:
    # UNAVAILABLE (load shed, MySQL stuck) reaches the client with its retry hint, once.
    for policy in _every_policy(Settings(run_dir=tmp_path)):
        conditions = set(policy["retry_on"].split(","))
        assert not conditions & {"5xx", "gateway-error", "retriable-status-codes"}
        assert "retry_grpc_on" not in policy
        assert not conditions & {"unavailable", "cancelled", "resource-exhausted", "internal"}


def test_envoys_own_503_carries_a_retry_hint(tmp_path: Path) -> None:
    mappers = refusals.reply_mappers(Settings(run_dir=tmp_path), proto_names=True)
    unavailable = [m for m in mappers if "503" in json.dumps(m["filter"])]
    assert unavailable
    for mapper in unavailable:
        assert {"key": "retry-after", "value": "1"} in [
            h["header"] for h in mapper["headers_to_add"]
        ]
    body = next(m for m in unavailable if "body_format_override" in m)
    status = body["body_format_override"]["json_format"]
    assert status["code"] == 14
    assert status["details"][0]["retry_delay"] == "1s"


def test_the_real_envoy_accepts_the_configuration(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path)
    auth.ensure_keys(settings)
    config = tmp_path / "envoy.json"
    config.write_text(json.dumps(envoy.config(settings)))
    argv = [envoy.envoy_binary(), "--mode", "validate", "-c", str(config)]
    checked = subprocess.run(
        [*argv, "--use-dynamic-base-id"], capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK" in checked.stdout + checked.stderr


def _clusters(settings: Settings) -> dict[str, dict[str, Any]]:
    return {found["name"]: found for found in _config(settings)["static_resources"]["clusters"]}


def _addresses(cluster: dict[str, Any]) -> list[tuple[str, int]]:
    endpoints = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    return [
        (
            e["endpoint"]["address"]["socket_address"]["address"],
            e["endpoint"]["address"]["socket_address"]["port_value"],
        )
        for e in endpoints
    ]


def test_several_serving_hosts_are_balanced_pinged_and_ejected_on_connection_failures(
    tmp_path: Path,
) -> None:
    settings = Settings(
        run_dir=tmp_path,
        adserver_addr="10.77.0.41:17002,10.77.0.42:17002",
        feedback_addr="10.77.0.41:17003, 10.77.0.42:17003",
        campaign_addr="10.77.0.51:17001",
    )
    clusters = _clusters(settings)
    assert _addresses(clusters["adserver"]) == [("10.77.0.41", 17002), ("10.77.0.42", 17002)]
    assert _addresses(clusters["feedback-service"]) == [
        ("10.77.0.41", 17003),
        ("10.77.0.42", 17003),
    ]
    assert _addresses(clusters["campaign-service"]) == [("10.77.0.51", 17001)]
    for name in ("adserver", "feedback-service"):
        detection = clusters[name]["outlier_detection"]
        assert detection["consecutive_local_origin_failure"] == 2
        assert detection["split_external_local_origin_errors"] is True
        # A server's own answers (503 while MySQL is stuck) never eject it.
        assert detection["enforcing_consecutive_5xx"] == 0
        assert detection["enforcing_consecutive_gateway_failure"] == 0
        assert detection["max_ejection_percent"] <= 50
        options = clusters[name]["typed_extension_protocol_options"]
        h2 = next(iter(options.values()))["explicit_http_config"]["http2_protocol_options"]
        assert h2["connection_keepalive"] == {"interval": "1s", "timeout": "1s"}
    # One address (the campaign service; every cluster of the local stack): no ejection, as before.
    assert "outlier_detection" not in clusters["campaign-service"]
    assert all("outlier_detection" not in c for c in _clusters(Settings(run_dir=tmp_path)).values())


def test_envoy_accepts_the_configuration_of_several_serving_hosts(tmp_path: Path) -> None:
    settings = Settings(
        run_dir=tmp_path,
        adserver_addr="10.77.0.41:17002,10.77.0.42:17002",
        feedback_addr="10.77.0.41:17003,10.77.0.42:17003",
    )
    auth.ensure_keys(settings)
    config = tmp_path / "envoy.json"
    config.write_text(json.dumps(_config(settings)))
    checked = subprocess.run(
        [envoy.envoy_binary(), "--mode", "validate", "-c", str(config), "--use-dynamic-base-id"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr[-2000:]
