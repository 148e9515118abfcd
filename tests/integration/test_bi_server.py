"""Spark's Thrift JDBC server (`stack up --bi`) answers HiveServer2 clients over the archive."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest
from adplatform.v1 import feedback_service_pb2

from clients import channels
from deploy.stack.net import free_port
from deploy.stack.spark_jobs import BiServer
from servers.settings import Settings
from tests.integration import campaigns, served
from tests.polling import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bi(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BiServer]:
    settings = stack.model_copy(
        update={"bi_port": free_port(), "run_dir": tmp_path_factory.mktemp("bi")}
    )
    server = BiServer(settings)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.process.stop()


def _beeline(server: BiServer, sql: str) -> str:
    """_beeline runs one statement with the beeline client bundled in the pyspark wheel."""
    home = Path(pyspark.__file__).parent
    result = subprocess.run(
        [
            str(home / "bin" / "beeline"),
            "-u",
            server.endpoint(),
            "--outputformat=csv2",
            "--silent=true",
            "-e",
            sql,
        ],
        env={**os.environ, "SPARK_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _charged_request(stack: Settings) -> tuple[str, str]:
    """_charged_request serves one ad of a new campaign and charges a click; (campaign, request)."""
    campaign = campaigns.create(stack)
    (request_id,) = served.serve(stack, campaign)
    channels.feedback(stack).SubmitFeedback(
        feedback_service_pb2.SubmitFeedbackRequest(request_id=request_id, view=1, click=1),
        timeout=10,
    )
    return campaign.campaign_id, request_id


def _archived(bi: BiServer, campaign_id: str) -> list[str]:
    """_archived is the request ids BI tools see in the billing archive for one campaign."""
    database = bi.settings.hive_database
    output = _beeline(
        bi,
        f"SELECT request_id FROM {database}.feedback_events WHERE campaign_id = '{campaign_id}'",
    )
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    assert lines and lines[0].endswith("request_id"), output  # the csv2 header comes first
    return lines[1:]


def test_bi_tools_see_the_billing_archive(stack: Settings, bi: BiServer) -> None:
    database = bi.settings.hive_database
    campaign_id, request_id = _charged_request(stack)
    assert "feedback_events" in _beeline(bi, f"SHOW TABLES IN {database}")
    eventually(lambda: _archived(bi, campaign_id) == [request_id], timeout=180, interval=2)
