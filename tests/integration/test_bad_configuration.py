"""Bad configuration fails `stack up` with one clear line naming the problem, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.stack.net import free_port
from deploy.stack.process import ManagedProcess

pytestmark = pytest.mark.integration


def _stack_up(run_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """_stack_up runs `adplatform stack up` in a fresh run directory with extra environment."""
    variables = {
        key: value for key, value in os.environ.items() if not key.startswith("ADPLATFORM_")
    }
    variables["ADPLATFORM_RUN_DIR"] = str(run_dir)
    for field in (
        "CAMPAIGN_METRICS",
        "ADSERVER_METRICS",
        "FEEDBACK_METRICS",
        "ADMANAGER_METRICS",
        "MYSQL",
        "KAFKA",
        "KAFKA_CONTROLLER",
        "ENVOY",
        "ENVOY_ADMIN",
        "CAMPAIGN",
        "ADSERVER",
        "FEEDBACK",
        "ADMANAGER",
        "METASTORE",
    ):
        variables[f"ADPLATFORM_{field}_PORT"] = str(free_port())
    variables.update(env)
    return subprocess.run(
        [sys.executable, "-m", "clients.cli", "stack", "up"],
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


def _nothing_started(run_dir: Path) -> bool:
    pids = run_dir / "pids"
    return not pids.exists() or not any(
        ManagedProcess(p.stem, run_dir).running() for p in pids.glob("*.json")
    )


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = _stack_up(tmp_path, ADPLATFORM_ENVOY_PORT=str(port))
    _assert_one_clear_line(result, "envoy", f"port {port}", "already in use")
    assert _nothing_started(tmp_path)


def test_unreachable_mysql_url(tmp_path: Path) -> None:
    port = free_port()
    url = f"mysql+pymysql://someone:secret@127.0.0.1:{port}/nowhere"
    result = _stack_up(tmp_path, ADPLATFORM_MYSQL_URL=url)
    _assert_one_clear_line(result, "mariadb", "cannot reach", f"127.0.0.1:{port}")
    assert "secret" not in result.stderr
    assert _nothing_started(tmp_path)


def test_missing_java(tmp_path: Path) -> None:
    bare_path = str(Path(sys.executable).parent) + ":/usr/sbin:/sbin"
    result = _stack_up(tmp_path, JAVA_HOME=str(tmp_path / "no-java"), PATH=bare_path)
    _assert_one_clear_line(result, "Java")
    assert _nothing_started(tmp_path)
