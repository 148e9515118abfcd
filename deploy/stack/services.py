"""The platform's own processes: the three gRPC servers and the Ad Manager consumer."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.stack.part import Part


class GrpcService(Part):
    """GrpcService is a Python server process that answers grpc.health.v1 on its port."""

    module = ""

    def port(self) -> int:
        """port is where the server listens."""
        raise NotImplementedError

    def metrics_port(self) -> int:
        """metrics_port is where the server exports Prometheus metrics."""
        raise NotImplementedError

    def ports(self) -> Sequence[int]:
        """ports are the gRPC and metrics ports."""
        return (self.port(), self.metrics_port())

    def endpoint(self) -> str:
        """endpoint is the gRPC address."""
        return f"grpc://{self.settings.host}:{self.port()}"

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command runs the server module with the stack's settings in its environment."""
        env = {**os.environ, **self.settings.child_environment()}
        env["PYTHONUNBUFFERED"] = "1"
        return [sys.executable, "-m", self.module], env

    def healthy(self) -> bool:
        """healthy asks the server's grpc.health.v1 service for the overall status."""
        return check_health(f"{self.settings.host}:{self.port()}")


def check_health(target: str, authority: str | None = None, service: str = "") -> bool:
    """check_health calls grpc.health.v1.Health/Check and tells whether it says SERVING."""
    options = [("grpc.default_authority", authority)] if authority else []
    with grpc.insecure_channel(target, options=options) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=service)
        reply = stub.Check(request, timeout=2)  # type: ignore[attr-defined]
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


class CampaignServer(GrpcService):
    """CampaignServer runs CampaignService for campaign managers."""

    name = "campaign-service"
    module = "servers.campaign_service.server"

    def port(self) -> int:
        """port is ADPLATFORM_CAMPAIGN_PORT."""
        return self.settings.campaign_port

    def metrics_port(self) -> int:
        """metrics_port is ADPLATFORM_CAMPAIGN_METRICS_PORT."""
        return self.settings.campaign_metrics_port


class WorkersService(GrpcService):
    """WorkersService is a server whose parent forks workers sharing its port (servers/workers.py).

    The workers record metrics into files in metrics_dir (prometheus_client multiprocess mode)
    and the parent exports their sum on the metrics port. The stack supervises the parent, so
    its PID is the part's; the parent replaces a dead worker itself.
    """

    @property
    def metrics_dir(self) -> Path:
        """metrics_dir holds the workers' metric files (prometheus_client multiprocess mode)."""
        return self.settings.run_dir / "metrics" / self.name

    def prepare(self) -> None:
        """prepare empties the metric files a previous run left, so counters start at 0."""
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir(parents=True)

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command is the server's, with the workers' shared metrics directory."""
        argv, env = super().command()
        return argv, {**env, "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir)}


class AdServerProcess(WorkersService):
    """AdServerProcess runs the AdServer auction for devices."""

    name = "adserver"
    module = "servers.adserving.server"

    def port(self) -> int:
        """port is ADPLATFORM_ADSERVER_PORT."""
        return self.settings.adserver_port

    def metrics_port(self) -> int:
        """metrics_port is ADPLATFORM_ADSERVER_METRICS_PORT."""
        return self.settings.adserver_metrics_port


class FeedbackServer(WorkersService):
    """FeedbackServer runs FeedbackService, which charges budgets."""

    name = "feedback-service"
    module = "servers.feedback.server"

    def port(self) -> int:
        """port is ADPLATFORM_FEEDBACK_PORT."""
        return self.settings.feedback_port

    def metrics_port(self) -> int:
        """metrics_port is ADPLATFORM_FEEDBACK_METRICS_PORT."""
        return self.settings.feedback_metrics_port


class AdManagerProcess(GrpcService):
    """AdManagerProcess runs the Ad Manager consumer (its port answers health checks only)."""

    name = "ad-manager"
    module = "servers.admanager.server"

    def port(self) -> int:
        """port is ADPLATFORM_ADMANAGER_PORT."""
        return self.settings.admanager_port

    def metrics_port(self) -> int:
        """metrics_port is ADPLATFORM_ADMANAGER_METRICS_PORT."""
        return self.settings.admanager_metrics_port
