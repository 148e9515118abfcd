"""Renders the Envoy configuration of the Kubernetes manifests from the stack's own generator.

Run after a change to deploy/stack/envoy.py (the unit tests fail while the file is stale):

    .venv/bin/python -m deploy.k8s.envoy_config            # rewrites base/envoy/envoy.json
    .venv/bin/python -m deploy.k8s.envoy_config --check    # exits 1 if it is stale

The configuration is deploy/stack/envoy.py's, with the settings of a pod: the upstreams are
the Services' DNS names (headless, so Envoy sees every pod and balances over them), the paths
are those of the image (the checkout at /app), and the admin interface listens on loopback
only. Upstreams named by DNS need STRICT_DNS clusters (the stack's are STATIC, by address),
and since a name stands for several pods each cluster also gets what the stack gives a
cluster of several hosts: pings on idle connections and ejection on connection failures.
Envoy resolves the names again every 5 s (its default): a new pod joins within that, once
its health check says SERVING.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from deploy.paths import REPO_ROOT
from deploy.stack import envoy, upstreams
from servers.settings import Settings

IMAGE_ROOT = "/app"  # where the image holds the checkout (deploy/k8s/README.md, "The image")
RUN_DIR = "/var/run/adplatform"  # an emptyDir; the JWKS ConfigMap is mounted at RUN_DIR/auth
CONFIG_FILE = Path(__file__).resolve().parent / "base" / "envoy" / "envoy.json"
UPSTREAM_PORTS = {"campaign-service": 17001, "adserver": 17002, "feedback-service": 17003}


def pod_settings() -> Settings:
    """pod_settings are the settings Envoy's configuration is rendered with inside a pod.

    The defaults and these, never this machine's environment: the file must not depend on
    who renders it.
    """
    return Settings.model_validate(
        {
            "host": "0.0.0.0",
            "run_dir": Path(RUN_DIR),
            "campaign_addr": f"campaign-service:{UPSTREAM_PORTS['campaign-service']}",
            "adserver_addr": f"adserver:{UPSTREAM_PORTS['adserver']}",
            "feedback_addr": f"feedback-service:{UPSTREAM_PORTS['feedback-service']}",
        }
    )


def _by_dns(cluster: dict[str, Any]) -> dict[str, Any]:
    """_by_dns turns a STATIC cluster into one that resolves its Service to every pod."""
    h2 = cluster["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]["explicit_http_config"]["http2_protocol_options"]
    h2["connection_keepalive"] = upstreams.CONNECTION_KEEPALIVE
    return {
        **cluster,
        "type": "STRICT_DNS",
        "dns_lookup_family": "V4_PREFERRED",
        "outlier_detection": upstreams.outlier_detection(),
    }


def render() -> str:
    """render is the configuration as the ConfigMap holds it (JSON, paths of the image)."""
    config = envoy.config(pod_settings())
    resources = config["static_resources"]
    resources["clusters"] = [_by_dns(cluster) for cluster in resources["clusters"]]
    config["admin"]["address"]["socket_address"]["address"] = "127.0.0.1"
    text = json.dumps(config, indent=1, sort_keys=True) + "\n"
    return text.replace(str(REPO_ROOT), IMAGE_ROOT)


def main(argv: list[str] | None = None) -> int:
    """main writes the configuration, or with --check tells whether the written one is current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    fresh = render()
    if args.check:
        current = CONFIG_FILE.read_text() if CONFIG_FILE.exists() else ""
        if current != fresh:
            print(f"{CONFIG_FILE} is stale: run python -m deploy.k8s.envoy_config")
            return 1
        return 0
    CONFIG_FILE.parent.mkdir(parents=True, exist_ok=True)
    CONFIG_FILE.write_text(fresh)
    print(f"wrote {CONFIG_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
