"""The stack's long-running Spark jobs: the feedback writer, and the BI Thrift server on demand.

The writer (spark/feedback_writer.py) is healthy while its process runs and its status file is
fresh; `stack status` shows how many user-feedback records it has not archived yet, and any
streaming query that is restarting, failed or was restarted (with how many restarts).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from deploy.stack.java import classpath
from deploy.stack.part import Part
from spark import status

STALE_AFTER_SECONDS = 30.0


class FeedbackWriter(Part):
    """FeedbackWriter archives user-feedback into Hive and keeps the KPIs, with Spark."""

    name = "feedback-writer"
    start_timeout = 240.0  # a JVM, a Hive client and the streaming query

    def endpoint(self) -> str:
        """endpoint names the archive table, the writer's lag and any query in trouble."""
        table = f"hive:{self.settings.hive_database}.feedback_events"
        troubles = "".join(
            f"; {trouble}" for trouble in status.query_troubles(status.read_status(self.settings))
        )
        try:
            behind = status.lag(self.settings)
        except Exception as error:  # Kafka down or topic missing: say so, do not fail status
            return f"{table} lag unknown ({type(error).__name__}){troubles}"
        batch = (
            "no batch yet" if behind.committed_batch is None else f"batch {behind.committed_batch}"
        )
        return f"{table} lag {behind.records:,} ({batch}){troubles}"

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command runs the writer module with the stack's settings in its environment."""
        classpath("spark")  # resolved (once) before the job reads the listing
        env = {**os.environ, **self.settings.child_environment(), "PYTHONUNBUFFERED": "1"}
        return [sys.executable, "-m", "spark.feedback_writer"], env

    def healthy(self) -> bool:
        """healthy: our process runs and rewrote its status file within the last 30 s."""
        if not self.process.running():
            return False
        age = status.status_age(self.settings)
        record = status.read_status(self.settings)
        return (
            age is not None
            and age < STALE_AFTER_SECONDS
            and record is not None
            and record.get("pid") == self.process.pid()
        )


THRIFT_SERVER = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"


class BiServer(Part):
    """BiServer is Spark's Thrift JDBC server (HiveServer2 protocol) over the platform's Hive.

    BI tools connect to ``jdbc:hive2://<host>:<bi_port>/<hive database>`` and see the billing
    archive, the KPI view and the MySQL archive; it shares the metastore with every Spark job.
    Started by `stack up --bi` only.
    """

    name = "bi-server"
    start_timeout = 180.0

    def ports(self) -> Sequence[int]:
        """ports is the HiveServer2 port."""
        return (self.settings.bi_port,)

    def endpoint(self) -> str:
        """endpoint is the JDBC URL BI tools use."""
        s = self.settings
        return f"jdbc:hive2://{s.host}:{s.bi_port}/{s.hive_database}"

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command runs spark-submit (from the pyspark wheel) on the Thrift server class."""
        import pyspark

        from spark.session import spark_conf

        submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
        classpath("spark")
        confs = spark_conf(self.settings, "bi-server")
        argv = [str(submit), "--class", THRIFT_SERVER]
        for key, value in confs.items():
            argv += ["--conf", f"{key}={value}"]
        argv += [
            "spark-internal",
            "--hiveconf",
            f"hive.server2.thrift.port={self.settings.bi_port}",
            "--hiveconf",
            f"hive.server2.thrift.bind.host={self.settings.host}",
        ]
        env = {
            **os.environ,
            "SPARK_HOME": str(submit.parent.parent),
            "PYSPARK_PYTHON": sys.executable,
        }
        return argv, env

    def healthy(self) -> bool:
        """healthy checks the Thrift server accepts connections."""
        with socket.create_connection((self.settings.host, self.settings.bi_port), timeout=1):
            return True
