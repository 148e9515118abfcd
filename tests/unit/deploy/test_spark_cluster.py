"""Tests for the standalone Spark cluster's parts and the sessions that run on it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from deploy.stack.spark_cluster import (
    MASTER_CLASS,
    WORKER_CLASS,
    SparkMaster,
    SparkWorker,
    master_url,
    spark_home,
)
from servers.settings import REPO_ROOT, Settings
from spark.session import spark_conf


def _settings(tmp_path: Path, **fields: Any) -> Settings:
    return Settings(run_dir=tmp_path / "run", **fields)


def _option(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_the_master_binds_this_host_with_its_ports(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, host="10.1.0.5", spark_master_port=7077, spark_master_ui_port=8080
    )
    argv, env = SparkMaster(settings).command()
    argv = list(argv)
    assert argv[:2] == [str(spark_home() / "bin" / "spark-class"), MASTER_CLASS]
    assert (_option(argv, "--host"), _option(argv, "--port")) == ("10.1.0.5", "7077")
    assert _option(argv, "--webui-port") == "8080"
    assert env["SPARK_HOME"] == str(spark_home())
    assert env["SPARK_LOCAL_IP"] == "10.1.0.5"
    assert Path(env["JAVA_HOME"], "bin", "java").exists()
    assert SparkMaster(settings).ports() == (7077, 8080)
    recovery = SparkMaster(settings).state_dir / "recovery"
    assert f"-Dspark.deploy.recoveryDirectory={recovery}" in env["SPARK_MASTER_OPTS"]


def test_a_worker_registers_with_the_master_spark_master_names(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, host="10.1.0.7", spark_master="spark://10.1.0.5:7077", spark_worker_cores=2
    )
    argv = list(SparkWorker(settings).command()[0])
    assert argv[1] == WORKER_CLASS
    assert argv[-1] == "spark://10.1.0.5:7077"
    assert _option(argv, "--host") == "10.1.0.7"
    assert (_option(argv, "--cores"), _option(argv, "--memory")) == ("2", "1g")


def test_without_a_spark_master_url_workers_register_with_this_hosts_master(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, host="127.0.0.2", spark_master_port=17077)
    assert settings.spark_master.startswith("local")
    assert master_url(settings) == "spark://127.0.0.2:17077"


def test_two_workers_on_one_host_have_their_own_names_directories_and_ports(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, spark_worker_ui_port=18181)
    first, second = SparkWorker(settings, 0), SparkWorker(settings, 1)
    assert (first.name, second.name) == ("spark-worker-0", "spark-worker-1")
    assert (first.ports(), second.ports()) == ((18181,), (18182,))
    assert first.process.log_file != second.process.log_file
    (first_argv, first_env), (second_argv, second_env) = first.command(), second.command()
    assert _option(list(first_argv), "--work-dir") != _option(list(second_argv), "--work-dir")
    assert first_env["SPARK_LOCAL_DIRS"] != second_env["SPARK_LOCAL_DIRS"]
    assert Path(_option(list(second_argv), "--work-dir")).is_relative_to(second.state_dir)


class _MasterJson(BaseHTTPRequestHandler):
    answer: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        body = json.dumps(self.answer).encode()
        self.send_response(200 if self.path == "/json/" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """log_message keeps the test's output quiet."""


@pytest.fixture
def master_json() -> Iterator[tuple[int, type[_MasterJson]]]:
    """master_json answers like a master's web UI on a free port; tests set its answer."""
    handler = type("Answer", (_MasterJson,), {"answer": {}})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def test_the_master_is_healthy_once_its_json_says_alive(
    tmp_path: Path, master_json: tuple[int, type[_MasterJson]]
) -> None:
    port, answer = master_json
    master = SparkMaster(_settings(tmp_path, spark_master_ui_port=port))
    answer.answer = {"status": "RECOVERING", "workers": []}
    assert not master.healthy()
    answer.answer = {"status": "ALIVE", "workers": []}
    assert master.healthy()
    assert "0 workers alive" in master.endpoint()


def test_a_worker_is_healthy_when_its_process_runs_and_the_master_lists_it_alive(
    tmp_path: Path,
    master_json: tuple[int, type[_MasterJson]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, answer = master_json
    settings = _settings(tmp_path, spark_master_ui_port=port, spark_worker_ui_port=18181)
    worker = SparkWorker(settings, 1)
    monkeypatch.setattr(type(worker.process), "running", lambda self: True)
    listed = {"webuiaddress": "http://127.0.0.1:18182", "state": "ALIVE"}
    other = {"webuiaddress": "http://127.0.0.1:18181", "state": "ALIVE"}
    answer.answer = {"status": "ALIVE", "workers": [other]}
    assert not worker.healthy()  # another worker of the host is not this one
    answer.answer = {"status": "ALIVE", "workers": [other, listed | {"state": "DEAD"}]}
    assert not worker.healthy()
    answer.answer = {"status": "ALIVE", "workers": [listed | {"state": "DEAD"}, listed]}
    assert worker.healthy()  # restarted: its dead predecessor is listed too


def _jars(tmp_path: Path) -> Path:
    jar = tmp_path / "kafka.jar"
    jar.write_text("")
    listing = tmp_path / "spark.txt"
    listing.write_text(str(jar))
    return listing


def test_a_session_on_a_cluster_runs_its_executors_on_the_workers_like_its_driver(
    tmp_path: Path,
) -> None:
    settings = _settings(
        tmp_path,
        host="10.1.0.9",
        spark_master="spark://10.1.0.5:7077",
        spark_worker_cores=1,
        spark_worker_memory="512m",
        spark_storage_dir=tmp_path / "shared",
        metastore_host="10.1.0.3",
        metastore_port=11527,
        spark_classpath=_jars(tmp_path),
    )
    conf = spark_conf(settings, "feedback-writer")
    assert conf["spark.master"] == "spark://10.1.0.5:7077"
    assert (conf["spark.driver.host"], conf["spark.driver.bindAddress"]) == ("10.1.0.9",) * 2
    assert (conf["spark.executor.cores"], conf["spark.executor.memory"]) == ("1", "512m")
    assert conf["spark.executorEnv.PYTHONPATH"] == str(REPO_ROOT)
    assert "-Duser.timezone=UTC" in conf["spark.executor.extraJavaOptions"]
    assert conf["spark.jars"] == str(tmp_path / "kafka.jar")
    assert conf["spark.sql.warehouse.dir"] == str(tmp_path / "shared" / "warehouse")
    url = conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert url.startswith("jdbc:derby://10.1.0.3:11527/")


def test_a_local_session_keeps_its_warehouse_under_the_run_directory(tmp_path: Path) -> None:
    settings = _settings(tmp_path, spark_classpath=_jars(tmp_path))
    conf = spark_conf(settings, "report")
    assert conf["spark.sql.warehouse.dir"] == str(tmp_path / "run" / "warehouse")
    assert "spark.driver.host" not in conf
    assert "spark.executor.memory" not in conf
    url = conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert url.startswith(f"jdbc:derby://{settings.host}:{settings.metastore_port}/")
