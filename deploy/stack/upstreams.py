"""Upstreams: how Envoy finds a server dead and what it retries when one dies mid-call.

deploy/stack/envoy.py places these on its clusters and routes; docs/reliability.md, "Serving
through a dead worker", says why each number is what it is.

- Active gRPC health checks (grpc.health.v1) on every cluster: a server that stops answering
  SERVING leaves the load-balancing set after two failed checks.
- No outlier detection. Each cluster is one address (the AdServer's workers share one port),
  and Envoy ejects at least one host whatever max_ejection_percent says: a dead worker resets
  every call on its connection at once, which is five consecutive failures, and ejecting the
  only address answered every device 503 for the ejection time (measured in CI: 88% of ServeAd
  refused across one worker's death). Health checks and retries cover a dead worker; outlier
  detection belongs to clusters of several hosts.
- Retries, only where replaying is harmless. ServeAd: the device got no answer, so a second
  auction is what it would have asked for anyway. SubmitFeedback: charged at most once per
  request id; a replay returns the first result. Campaign reads: no effect. These are retried
  after a reset, a refused stream or a connect failure. Campaign writes
  publish instructions to Kafka, and a create without a client-chosen campaign_id is not
  idempotent: they are retried only when the request never reached the server (connect
  failure, REFUSED_STREAM, reset before the request was sent). An UNAVAILABLE answer (load
  shed, MySQL stuck) is never retried by Envoy: it reaches the client with its retry hint.
- Several hosts behind one cluster (a cluster's serving hosts): HTTP/2 pings on every
  connection (CONNECTION_KEEPALIVE), so a connection to a host whose network is gone is
  closed within two seconds and its calls are retried on another host; and outlier
  detection on connection failures only (local-origin: refused, reset, timed out), which
  ejects such a host at its second failure, well before two failed health checks (4 s).
  A server's own answers (its 503s while MySQL is stuck) never eject it, and at most half
  of the hosts are ejected at once.
- A retry budget per cluster: retries at most RETRY_BUDGET_PERCENT of the requests in flight,
  so retries cannot multiply an overload.
"""

from __future__ import annotations

from typing import Any

# Methods whose replay after a reset is harmless (see the module docstring).
REPLAYABLE_METHODS = (
    "/adplatform.v1.AdServer/ServeAd",
    "/adplatform.v1.FeedbackService/SubmitFeedback",
    "/adplatform.v1.CampaignService/GetCampaign",
    "/adplatform.v1.CampaignService/ListCampaigns",
    "/adplatform.v1.CampaignService/GetCampaignKpis",
)
# RETRY_ON_REPLAYABLE: the attempt failed without an answer, however far it got.
RETRY_ON_REPLAYABLE = "reset,connect-failure,refused-stream"
# RETRY_ON_UNSENT: the request provably never reached the server's application.
RETRY_ON_UNSENT = "connect-failure,refused-stream,reset-before-request"
# Retries per request: a dead worker drops a call once; a second failure is not that.
REPLAYABLE_RETRIES = 1
UNSENT_RETRIES = 2
RETRY_BACKOFF = {"base_interval": "0.025s", "max_interval": "0.250s"}
RETRY_BUDGET_PERCENT = 20.0
# HTTP/2 pings on a connection to one of several hosts: one a second, closed unanswered after 1 s.
CONNECTION_KEEPALIVE = {"interval": "1s", "timeout": "1s"}
MIN_RETRY_CONCURRENCY = 10


def health_checks() -> list[dict[str, Any]]:
    """health_checks: grpc.health.v1 every 2 s; 2 failures make a host unhealthy, 1 healthy."""
    return [
        {
            "timeout": "1s",
            "interval": "2s",
            "no_traffic_interval": "2s",
            "unhealthy_threshold": 2,
            "healthy_threshold": 1,
            "grpc_health_check": {},
        }
    ]


def outlier_detection() -> dict[str, Any]:
    """outlier_detection ejects one of several hosts whose connections fail, for 5 s at first."""
    return {
        "split_external_local_origin_errors": True,
        "consecutive_local_origin_failure": 2,
        "enforcing_consecutive_local_origin_failure": 100,
        # Only connection failures eject: a server's own 5xx answers are its to give.
        "enforcing_consecutive_5xx": 0,
        "enforcing_consecutive_gateway_failure": 0,
        "enforcing_success_rate": 0,
        "enforcing_local_origin_success_rate": 0,
        "interval": "1s",
        "base_ejection_time": "5s",
        "max_ejection_percent": 50,
    }


def retry_budget() -> dict[str, Any]:
    """retry_budget is the clusters' circuit-breaker budget: retries <= 20% of active requests."""
    return {
        "budget_percent": {"value": RETRY_BUDGET_PERCENT},
        "min_retry_concurrency": MIN_RETRY_CONCURRENCY,
    }


def retry_policy(path: str | None) -> dict[str, Any]:
    """retry_policy is the route's retry policy for the gRPC method `path` (None: any method).

    A replayable method is retried once after any failure without an answer; anything else
    only when it never reached a server. No attempt has a timeout shorter than the route's:
    the servers refuse a call they cannot answer in time (MySQL stuck: UNAVAILABLE within
    about a second, docs/reliability.md), and a shorter per-try timeout would cut that answer
    off, retry it into the same stuck server and end in Envoy's 504 at the deadline.
    """
    policy: dict[str, Any] = {
        "retry_back_off": RETRY_BACKOFF,
        # With several hosts, the retry goes to another one when there is one.
        "retry_host_predicate": [
            {
                "name": "envoy.retry_host_predicates.previous_hosts",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts"
                    ".v3.PreviousHostsPredicate"
                },
            }
        ],
        "host_selection_retry_max_attempts": 3,
    }
    if path in REPLAYABLE_METHODS:
        policy["retry_on"] = RETRY_ON_REPLAYABLE
        policy["num_retries"] = REPLAYABLE_RETRIES
    else:
        policy["retry_on"] = RETRY_ON_UNSENT
        policy["num_retries"] = UNSENT_RETRIES
    return policy
