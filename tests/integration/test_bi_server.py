"""Spark's Thrift JDBC server (`stack up --bi`) answers HiveServer2 clients over the archive."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest

from deploy.stack.net import free_port
from deploy.stack.spark_jobs import BiServer
from servers.settings import Settings

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


def test_bi_tools_see_the_billing_archive(bi: BiServer) -> None:
    database = bi.settings.hive_database
    assert "feedback_events" in _beeline(bi, f"SHOW TABLES IN {database}")
    output = _beeline(bi, f"SELECT COUNT(*) AS n FROM {database}.feedback_events")
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    assert lines[-2].endswith("n") and int(lines[-1]) > 0  # header, then the count
