"""The FeedbackService's workers: both serve one port, and money is charged once across them.

The FeedbackService forks settings.feedback_workers workers that share its port
(servers/workers.py); the kernel spreads connections over them. The first test runs a
FeedbackService of its own with two workers on the stack's MariaDB and Kafka, whatever the
stack's setting, and opens many connections so both workers hold some: a request id submitted
at once over every connection (so both workers race for it) is charged once. The second
SIGKILLs a worker of the stack's FeedbackService under load: the parent replaces it while
devices retry its dropped calls — Σ acknowledged = Σ spent, every event on Kafka, and nothing
else died.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from adplatform.v1 import feedback_service_pb2, feedback_service_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import Engine

from deploy.stack.net import free_port
from deploy.stack.services import check_health
from servers.settings import Settings
from tests.fixtures.database import feedback_count, money
from tests.integration import campaigns, parts, served
from tests.integration.test_feedback_faults import _run_with_fault
from tests.polling import eventually

pytestmark = pytest.mark.integration

CONNECTIONS = 16  # all on one of two workers by chance: 2 in 2^16
REQUESTS = 12  # request ids, each submitted once over every connection at the same moment
TCP_ESTABLISHED = "01"
START_SECONDS = 90.0


def _workers(parent: int) -> set[int]:
    """_workers are the FeedbackService parent's children: its workers."""
    children: set[int] = set()
    for task in Path(f"/proc/{parent}/task").iterdir():
        children |= {int(pid) for pid in (task / "children").read_text().split()}
    return children


def _parent(stack: Settings) -> int:
    """_parent is the FeedbackService's supervised process, the workers' parent."""
    pid = parts.processes(stack)["feedback-service"]
    assert pid is not None
    return pid


def _connections(pid: int, port: int) -> int:
    """_connections counts the established TCP connections process pid accepted on port."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed while listed
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == TCP_ESTABLISHED and fields[9] in inodes:
                count += 1
    return count


@dataclass(frozen=True)
class Running:
    """Running is a FeedbackService the test started: its settings and its parent's PID."""

    settings: Settings
    parent: int


@pytest.fixture(scope="module")
def two_workers(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """two_workers runs a FeedbackService with two workers beside the stack's own.

    It charges into the stack's MariaDB and its relays publish to the stack's Kafka, beside
    the stack's FeedbackService and its relays (they claim with SKIP LOCKED).
    """
    settings = stack.model_copy(
        update={
            "feedback_port": free_port(),
            "feedback_metrics_port": free_port(),
            "feedback_addr": None,
            "feedback_workers": 2,
        }
    )
    run_dir = tmp_path_factory.mktemp("feedback-workers")
    (run_dir / "metrics").mkdir()
    log_file = run_dir / "feedback-service.log"
    env = {
        **os.environ,
        **settings.child_environment(),
        "PROMETHEUS_MULTIPROC_DIR": str(run_dir / "metrics"),
    }
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "servers.feedback.server"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=run_dir,
        )
    try:

        def serving() -> bool:
            assert process.poll() is None, log_file.read_text()[-2000:]
            try:
                healthy = check_health(settings.feedback_target)
            except grpc.RpcError:
                return False  # not listening yet
            return healthy and len(_workers(process.pid)) == 2

        eventually(serving, timeout=START_SECONDS, interval=0.2)
        yield Running(settings, process.pid)
    finally:
        parts.stop_process(process, grace=30)


@contextmanager
def _channels(stack: Settings, count: int) -> Iterator[list[grpc.Channel]]:
    """_channels are count channels to the FeedbackService, each on a connection of its own.

    gRPC shares one connection between channels to the same target unless each channel has its
    own subchannel pool; a health check makes each one connect now.
    """
    options = [("grpc.use_local_subchannel_pool", 1)]
    with ExitStack() as stack_of_channels:
        channels = [
            stack_of_channels.enter_context(grpc.insecure_channel(stack.feedback_target, options))
            for _ in range(count)
        ]
        for channel in channels:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        yield channels


def test_both_workers_hold_connections_and_a_raced_request_id_is_charged_once(
    stack: Settings, database: Engine, two_workers: Running
) -> None:
    workers = _workers(two_workers.parent)
    campaign = campaigns.create(stack, budget="10", cpa="0.05")
    request_ids = served.serve(stack, campaign, count=REQUESTS, auction_cpa="0.05")

    with _channels(two_workers.settings, CONNECTIONS) as channels:
        port = two_workers.settings.feedback_port
        held = {pid: _connections(pid, port) for pid in workers}
        assert all(held[pid] > 0 for pid in workers), f"connections by worker: {held}"
        stubs = [feedback_service_pb2_grpc.FeedbackServiceStub(channel) for channel in channels]
        replies: list[feedback_service_pb2.SubmitFeedbackResponse] = []
        with ThreadPoolExecutor(CONNECTIONS) as pool:
            for request_id in request_ids:
                start = threading.Barrier(CONNECTIONS)
                request = feedback_service_pb2.SubmitFeedbackRequest(
                    request_id=request_id, view=1, click=1, acquisition=1
                )

                def submit(
                    stub: feedback_service_pb2_grpc.FeedbackServiceStub,
                    request: feedback_service_pb2.SubmitFeedbackRequest = request,
                    start: threading.Barrier = start,
                ) -> feedback_service_pb2.SubmitFeedbackResponse:
                    start.wait(timeout=30)
                    reply: feedback_service_pb2.SubmitFeedbackResponse = stub.SubmitFeedback(
                        request, timeout=30
                    )
                    return reply

                replies += pool.map(submit, stubs)
    print(f"\nconnections by worker {held}; {len(replies)} submissions of {REQUESTS} request ids")

    firsts = [reply for reply in replies if not reply.duplicate]
    assert sorted(reply.request_id for reply in firsts) == sorted(request_ids)
    assert {(reply.user_action, reply.expenditure) for reply in replies} == {
        ("acquisition", "0.05")
    }
    assert feedback_count(database, request_ids) == REQUESTS
    assert money(database, campaign.campaign_id).spent == Decimal("0.05") * REQUESTS


def _worker_killed_and_replaced(stack: Settings) -> Callable[[], None]:
    """_worker_killed_and_replaced is a fault: SIGKILL one feedback worker; it is replaced."""

    def fault() -> None:
        before = parts.processes(stack)
        parent = _parent(stack)
        workers = _workers(parent)
        assert len(workers) == stack.feedback_workers
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)

        def replaced() -> set[int]:
            now = _workers(parent)
            return now - workers if len(now) == len(workers) and victim not in now else set()

        replacement = eventually(replaced, timeout=15)
        # Nothing else died: not the FeedbackService's parent, nor its other workers, nor a part.
        parts.unchanged_except(stack, before)
        assert _workers(parent) == (workers - {victim}) | replacement

    return fault


def test_sigkill_one_feedback_worker_under_load(stack: Settings, database: Engine) -> None:
    _run_with_fault(stack, database, _worker_killed_and_replaced(stack))
