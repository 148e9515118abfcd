"""Tests for the Kubernetes manifests: every kustomization renders and validates offline, and
keeps the invariants the platform relies on (probes on the health ports, limits, disruption
budgets, settings that are real Settings fields, the operators' engines wired to the servers).

The tests that render need deploy/k8s/install-tools.sh (kustomize, kubernetes-validate) and
are skipped, saying so, until it ran; the Envoy configuration's are not.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health, health_pb2_grpc

from deploy.k8s import check, envoy_config, writer_alive
from deploy.stack import services
from deploy.stack.envoy import envoy_binary
from deploy.stack.net import free_port
from servers.settings import Settings
from spark import status
from tests.polling import eventually

Manifest = dict[str, Any]
OVERLAYS = {path.relative_to(check.K8S_DIR).as_posix(): path for path in check.kustomizations()}
# The gRPC servers, as the stack defines them: the Deployment of the same name runs each.
SERVERS = {
    part.name: part
    for part in (
        services.CampaignServer,
        services.AdServerProcess,
        services.FeedbackServer,
        services.AdManagerProcess,
    )
}
SERVING = ("campaign-service", "adserver", "feedback-service", "envoy")  # devices wait on these
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def _built(name: str) -> list[Manifest]:
    """_built is kustomization `name` rendered, or a skip naming the tools not installed."""
    missing = check.missing_tools()
    if missing:
        pytest.skip(f"run deploy/k8s/install-tools.sh first: missing {', '.join(missing)}")
    return check.render(OVERLAYS[name])


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def rendered(request: pytest.FixtureRequest) -> list[Manifest]:
    """rendered is one kustomization, built."""
    return _built(request.param)


def _of(items: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {item["metadata"]["name"]: item for item in items if item["kind"] == kind}


def _containers(items: list[Manifest]) -> Iterator[tuple[str, Manifest]]:
    for item in items:
        if item["kind"] in ("Deployment", "Job"):
            for container in item["spec"]["template"]["spec"]["containers"]:
                yield item["metadata"]["name"], container


def _settings(items: list[Manifest], container: Manifest) -> Settings:
    """_settings are what a container's process loads: the ConfigMap, then its literal env."""
    values = dict(_of(items, "ConfigMap")["adplatform-settings"]["data"])
    values |= {env["name"]: env["value"] for env in container.get("env", []) if "value" in env}
    fields = {
        name.removeprefix("ADPLATFORM_").lower(): value
        for name, value in values.items()
        if name.startswith("ADPLATFORM_")
    }
    return Settings.model_validate(fields)  # not the environment of this test


def test_the_base_and_the_operators_overlay_are_checked() -> None:
    assert {"base", "overlays/operators"} <= set(OVERLAYS)


def test_every_object_is_valid_against_its_schema(rendered: list[Manifest]) -> None:
    started = time.monotonic()
    assert list(check.problems(rendered)) == []
    assert time.monotonic() - started < 30


def test_every_setting_is_a_settings_field(rendered: list[Manifest]) -> None:
    names = set(_of(rendered, "ConfigMap")["adplatform-settings"]["data"])
    names |= {env["name"] for _, c in _containers(rendered) for env in c.get("env", [])}
    platform = {name for name in names if name.startswith("ADPLATFORM_")}
    fields = {f"ADPLATFORM_{field.upper()}" for field in Settings.model_fields}
    assert platform - fields == set()
    assert set(_of(rendered, "ConfigMap")["adplatform-settings"]["data"]) <= fields
    for _, container in _containers(rendered):
        _settings(rendered, container)  # refuses a bad value as start-up would


def test_each_server_probes_grpc_health_on_its_settings_port(rendered: list[Manifest]) -> None:
    deployments = _of(rendered, "Deployment")
    for name, part in SERVERS.items():
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        server = part(_settings(rendered, container))
        assert container["command"] == ["python", "-m", part.module]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports == {"grpc": server.port(), "metrics": server.metrics_port()}
        for probe in PROBES:
            assert container[probe]["grpc"] == {"port": server.port()}, (name, probe)


def test_workers_share_a_metrics_directory_that_exists(rendered: list[Manifest]) -> None:
    for name in ("adserver", "feedback-service"):
        pod = _of(rendered, "Deployment")[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {item["name"]: item.get("value") for item in container["env"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volume = mounts[env["PROMETHEUS_MULTIPROC_DIR"]]
        assert "emptyDir" in {v["name"]: v for v in pod["volumes"]}[volume], name


def test_every_container_has_requests_limits_and_probes(rendered: list[Manifest]) -> None:
    for owner, container in _containers(rendered):
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"].get(bound, {})), owner
    for name, deployment in _of(rendered, "Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert "livenessProbe" in container, name
            assert "readinessProbe" in container or name == "feedback-writer", name


def test_a_disruption_budget_keeps_each_serving_deployment_up(rendered: list[Manifest]) -> None:
    deployments = _of(rendered, "Deployment")
    budgets = _of(rendered, "PodDisruptionBudget").values()
    scaled = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa["spec"]["minReplicas"]
        for hpa in _of(rendered, "HorizontalPodAutoscaler").values()
    }
    for name in SERVING:
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        (budget,) = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        # An autoscaled Deployment leaves its count to the autoscaler (an apply keeps it).
        assert (name in scaled) != ("replicas" in deployments[name]["spec"]), name
        fewest = scaled.get(name) or deployments[name]["spec"]["replicas"]
        # At least one pod serves through a drain, and a drain can still evict one.
        assert 1 <= budget["spec"]["minAvailable"] < fewest


def test_envoy_reaches_each_server_through_its_service(rendered: list[Manifest]) -> None:
    deployments = _of(rendered, "Deployment")
    services_ = _of(rendered, "Service")
    for name, port in envoy_config.UPSTREAM_PORTS.items():
        service = services_[name]
        assert service["spec"]["clusterIP"] == "None"  # Envoy sees every pod
        assert service["spec"]["ports"] == [
            {"name": "grpc", "port": port, "targetPort": "grpc", "appProtocol": "kubernetes.io/h2c"}
        ]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert SERVERS[name](_settings(rendered, container)).port() == port


def test_the_executors_run_the_drivers_image(rendered: list[Manifest]) -> None:
    (writer,) = _of(rendered, "Deployment")["feedback-writer"]["spec"]["template"]["spec"][
        "containers"
    ]
    env = {item["name"]: item.get("value") for item in writer["env"]}
    assert env["SPARK_EXECUTOR_IMAGE"] == writer["image"]
    assert "$(SPARK_EXECUTOR_IMAGE)" in env["PYSPARK_SUBMIT_ARGS"]
    assert env["ADPLATFORM_SPARK_MASTER"].startswith("k8s://")


def test_envoy_config_is_rendered_from_the_stack_generator() -> None:
    assert envoy_config.CONFIG_FILE.read_text() == envoy_config.render(), (
        "stale: run .venv/bin/python -m deploy.k8s.envoy_config"
    )


def test_envoy_accepts_its_config() -> None:
    assert check.envoy_problems(envoy_config.CONFIG_FILE.read_text()) is None


def test_envoy_refuses_a_broken_config() -> None:
    broken = envoy_config.render().replace('"STRICT_DNS"', '"NO_SUCH_TYPE"')
    assert check.envoy_problems(broken) is not None


def test_envoy_resolves_each_service_by_name_and_health_checks_it(tmp_path: Path) -> None:
    # One gRPC health server stands for every Service; "localhost" for their DNS names.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    config = json.loads(envoy_config.render())
    (listener,) = config["static_resources"]["listeners"]
    listener["address"]["socket_address"] |= {"address": "127.0.0.1", "port_value": free_port()}
    admin = free_port()
    config["admin"]["address"]["socket_address"]["port_value"] = admin
    for cluster in config["static_resources"]["clusters"]:
        for group in cluster["load_assignment"]["endpoints"]:
            for endpoint in group["lb_endpoints"]:
                address = endpoint["endpoint"]["address"]["socket_address"]
                assert address["address"] in envoy_config.UPSTREAM_PORTS
                address |= {"address": "localhost", "port_value": port}
    config_file = check.local_envoy_config(json.dumps(config), tmp_path)
    # The Deployment's own command line, with this checkout's binary and configuration.
    (deployment, *_) = yaml.safe_load_all((check.K8S_DIR / "base" / "envoy.yaml").read_text())
    (_, *arguments) = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    arguments[arguments.index("-c") + 1] = str(config_file)
    argv = [envoy_binary(), *arguments]
    envoy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def healthy_clusters() -> set[str]:
        assert envoy.poll() is None, "envoy exited"
        url = f"http://127.0.0.1:{admin}/clusters"
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                lines = reply.read().decode().splitlines()
        except OSError:  # not listening yet
            return set()
        return {
            line.split("::")[0]
            for line in lines
            if line.endswith("::health_flags::healthy") and f"127.0.0.1:{port}::" in line
        }

    def every_cluster_healthy() -> bool:
        healthy = healthy_clusters()
        assert healthy == set(envoy_config.UPSTREAM_PORTS), f"healthy so far: {healthy}"
        return True

    try:
        eventually(every_cluster_healthy, timeout=30)
    finally:
        envoy.terminate()
        envoy.wait(timeout=10)
        server.stop(grace=0)


def test_the_operators_engines_are_the_ones_the_servers_use() -> None:
    items = _built("overlays/operators")
    (container,) = _of(items, "Deployment")["adserver"]["spec"]["template"]["spec"]["containers"]
    settings = _settings(items, container)
    (kafka,) = _of(items, "Kafka").values()
    (plain,) = [item for item in kafka["spec"]["kafka"]["listeners"] if not item["tls"]]
    assert settings.bootstrap_servers == f"{kafka['metadata']['name']}-kafka-bootstrap:9092"
    assert plain["port"] == 9092
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    (pool,) = _of(items, "KafkaNodePool").values()
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}  # KRaft, no ZooKeeper
    topics = _of(items, "KafkaTopic")
    wanted = {settings.instructions_topic, settings.feedback_topic, settings.dead_letter_topic}
    assert set(topics) == wanted
    for topic in topics.values():
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["partitions"] == settings.topic_partitions
        assert topic["spec"]["config"]["min.insync.replicas"] == 2
    (database,) = _of(items, "MariaDB").values()
    assert database["spec"]["replication"]["enabled"] and database["spec"]["replicas"] == 2
    name = database["metadata"]["name"]
    connections = {c["spec"]["secretName"]: c["spec"] for c in _of(items, "Connection").values()}
    refs = {
        (env["valueFrom"]["secretKeyRef"]["name"], env["valueFrom"]["secretKeyRef"]["key"])
        for _, c in _containers(items)
        for env in c.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    assert refs == {(s, spec["secretTemplate"]["key"]) for s, spec in connections.items()}
    services_ = {s: spec["serviceName"] for s, spec in connections.items()}
    assert services_ == {
        "adplatform-database": f"{name}-primary",
        "adplatform-database-replica": f"{name}-secondary",
    }


def test_writer_alive_follows_the_status_file(tmp_path: Path) -> None:
    settings = Settings.model_validate({"run_dir": tmp_path})
    assert not writer_alive.alive(settings)  # no status yet
    status.write_json(status.status_file(settings), {"pid": 1})
    assert writer_alive.alive(settings)
    stale = time.time() - writer_alive.STALE_AFTER_SECONDS - 1
    os.utime(status.status_file(settings), (stale, stale))
    assert not writer_alive.alive(settings)
