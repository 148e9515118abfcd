"""A standalone Spark cluster: one master and its workers, run from the pyspark wheel.

Each runs ``<pyspark>/bin/spark-class`` on Spark's own Master or Worker class, which execs one
JVM in the foreground; its log (Spark's default log4j set-up, on stderr) is the part's log.
Both bind the host's address (settings.host): the master listens on ``spark_master_port``
with its web UI on ``spark_master_ui_port``; a worker registers with the master that
settings.spark_master names (``spark://host:port``; this host's master otherwise) and offers
``spark_worker_cores`` and ``spark_worker_memory`` to executors. Several workers may share a
host: worker ``index`` has its own name, work directory and web UI port
(``spark_worker_ui_port + index``).

Python drivers are not run by the cluster: Spark's standalone mode refuses cluster deploy
mode for Python applications, so a job's driver runs where its part runs (client mode, see
spark/session.py) and only its executors run on the workers. An executor is a child of its
worker and exits with it; the driver's scheduler runs the lost tasks again on the others.
Executors talk to their driver directly, so a master's death stops no running job; the master
keeps its workers and applications in its state directory and recovers them on restart.
Start workers before the jobs: a job's first tasks wait for an executor.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from deploy.stack.java import java_binary
from deploy.stack.part import Part
from servers.settings import Settings

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# The master's and workers' own JVMs only keep the cluster's books; executors get
# spark_worker_memory on top of this.
DAEMON_MEMORY = "256m"
JSON_TIMEOUT_SECONDS = 2.0
ALIVE = "ALIVE"


def spark_home() -> Path:
    """spark_home is the pyspark package: its bin/ and jars/ are a Spark distribution."""
    import pyspark

    return Path(pyspark.__file__).parent


def master_url(settings: Settings) -> str:
    """master_url is the master workers register with: spark_master, else this host's."""
    if settings.spark_master.startswith("spark://"):
        return settings.spark_master
    return f"spark://{settings.host}:{settings.spark_master_port}"


def master_state(settings: Settings) -> dict[str, Any]:
    """master_state is the master's own account (its web UI's /json/): status and workers."""
    host = urlsplit(master_url(settings)).hostname or settings.host
    url = f"http://{host}:{settings.spark_master_ui_port}/json/"
    with urllib.request.urlopen(url, timeout=JSON_TIMEOUT_SECONDS) as answer:
        state: dict[str, Any] = json.load(answer)
    return state


def _daemon_environment(settings: Settings) -> dict[str, str]:
    """_daemon_environment runs spark-class with the stack's Java, bound to this host."""
    return {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "JAVA_HOME": str(Path(java_binary()).resolve().parents[1]),
        "SPARK_LOCAL_IP": settings.host,
        "SPARK_DAEMON_MEMORY": DAEMON_MEMORY,
    }


class SparkMaster(Part):
    """SparkMaster is the standalone cluster's master: it hands workers' cores to applications."""

    name = "spark-master"
    start_timeout = 120.0  # a JVM; a minute and more on a loaded machine

    def ports(self) -> Sequence[int]:
        """ports are the master's RPC port and its web UI."""
        return (self.settings.spark_master_port, self.settings.spark_master_ui_port)

    def endpoint(self) -> str:
        """endpoint is the master's URL and how many workers it has alive."""
        url = f"spark://{self.settings.host}:{self.settings.spark_master_port}"
        try:
            workers = master_state(self.settings)["workers"]
        except Exception as error:
            return f"{url} (workers unknown: {type(error).__name__})"
        alive = sum(worker.get("state") == ALIVE for worker in workers)
        return f"{url} ({alive} workers alive)"

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command runs Spark's Master class on this host's address."""
        s = self.settings
        argv = [
            str(spark_home() / "bin" / "spark-class"),
            MASTER_CLASS,
            "--host",
            s.host,
            "--port",
            str(s.spark_master_port),
            "--webui-port",
            str(s.spark_master_ui_port),
        ]
        options = [
            # No REST submission server: it would listen on a fixed port (6066), and Python
            # jobs cannot be submitted to run on the cluster anyway.
            "-Dspark.master.rest.enabled=false",
            # A restarted master reads back its workers and applications and tells the running
            # drivers it is back; without this it forgets them, and a driver could never
            # replace an executor again.
            "-Dspark.deploy.recoveryMode=FILESYSTEM",
            f"-Dspark.deploy.recoveryDirectory={self.state_dir / 'recovery'}",
        ]
        return argv, {**_daemon_environment(s), "SPARK_MASTER_OPTS": " ".join(options)}

    def healthy(self) -> bool:
        """healthy: the master's JSON says it is ALIVE (not still recovering or standing by)."""
        return bool(master_state(self.settings).get("status") == ALIVE)


class SparkWorker(Part):
    """SparkWorker offers one host's cores and memory to the cluster's applications."""

    start_timeout = 120.0  # the master must be up too; the worker retries its registration

    def __init__(self, settings: Settings, index: int = 0) -> None:
        self.index = index
        self.name = f"spark-worker-{index}"
        super().__init__(settings)

    @property
    def ui_port(self) -> int:
        """ui_port is this worker's web UI: one port per worker of the host."""
        return self.settings.spark_worker_ui_port + self.index

    @property
    def ui_address(self) -> str:
        """ui_address is how the master's JSON names this worker (its RPC port is random)."""
        return f"http://{self.settings.host}:{self.ui_port}"

    def ports(self) -> Sequence[int]:
        """ports is the worker's web UI (its RPC port is chosen at start)."""
        return (self.ui_port,)

    def endpoint(self) -> str:
        """endpoint says which master the worker serves and what it offers."""
        s = self.settings
        offer = f"{s.spark_worker_cores} cores, {s.spark_worker_memory}"
        return f"{self.ui_address} → {master_url(s)} ({offer})"

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command runs Spark's Worker class, its executors' files in the part's directory."""
        s = self.settings
        work = self.state_dir / "work"  # each executor's stdout, stderr and fetched jars
        local = self.state_dir / "local"  # executors' shuffle and spill files
        work.mkdir(parents=True, exist_ok=True)
        local.mkdir(parents=True, exist_ok=True)
        argv = [
            str(spark_home() / "bin" / "spark-class"),
            WORKER_CLASS,
            "--host",
            s.host,
            "--webui-port",
            str(self.ui_port),
            "--cores",
            str(s.spark_worker_cores),
            "--memory",
            s.spark_worker_memory,
            "--work-dir",
            str(work),
            master_url(s),
        ]
        return argv, {**_daemon_environment(s), "SPARK_LOCAL_DIRS": str(local)}

    def healthy(self) -> bool:
        """healthy: our process runs and the master lists this worker ALIVE."""
        if not self.process.running():
            return False
        workers = master_state(self.settings).get("workers", [])
        return any(
            worker.get("webuiaddress") == self.ui_address and worker.get("state") == ALIVE
            for worker in workers
        )
