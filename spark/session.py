"""Builds the Hive-enabled SparkSession every Spark job of the platform uses.

The catalog lives in the stack's metastore (a Derby network server on metastore_host, else this
host, or the Hive metastore service named by ADPLATFORM_HIVE_METASTORE_URI); tables are stored
in the warehouse directory under spark_storage_dir, else under the run directory. The Kafka
source, the MariaDB JDBC driver and the Derby client come from Maven Central
(deploy/spark/pom.xml); the bootstrap resolves them and lists them in the file
settings.spark_classpath names.

With spark_master = spark://host:port the session's executors run on that standalone cluster's
workers (deploy/stack/spark_cluster.py) and its driver stays in this process: Spark runs Python
drivers in client mode only on standalone clusters. The executors then need what local mode
found in the driver's process: the jars (sent by the driver, spark.jars), this interpreter and
this checkout (the same paths on every host), and the warehouse on storage every worker reaches.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

from servers.settings import REPO_ROOT, Settings

DERBY_CLIENT_DRIVER = "org.apache.derby.jdbc.ClientDriver"


def jars(settings: Settings) -> list[str]:
    """jars are the Spark jobs' jars, as the class path listing at settings.spark_classpath."""
    listing = settings.spark_classpath
    try:
        entries = [entry for entry in listing.read_text().split(os.pathsep) if entry.strip()]
    except OSError:
        entries = []
    entries = [entry.strip() for entry in entries]
    if not entries or not all(Path(entry).exists() for entry in entries):
        raise RuntimeError(
            f"the Spark jars listed in {listing} are missing: run deploy/bootstrap.sh"
        )
    return entries


def spark_conf(settings: Settings, app_name: str) -> dict[str, str]:
    """spark_conf is the configuration of a platform Spark session, before any overrides."""
    jars_ = jars(settings)
    warehouse = (settings.spark_storage_dir or settings.run_dir) / "warehouse"
    conf = {
        "spark.app.name": app_name,
        "spark.master": settings.spark_master,
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.jars": ",".join(jars_),
        # In local mode the driver is the executor; its class path also reaches the metastore
        # client, which loads the Derby driver through the system class loader.
        "spark.driver.extraClassPath": os.pathsep.join(jars_),
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "4",
        # No batch without new records: an idle writer costs (almost) nothing.
        "spark.sql.streaming.noDataMicroBatches.enabled": "false",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # UTC in the JVM too: JDBC reads MySQL's UTC DATETIMEs in the JVM's default zone.
        "spark.driver.extraJavaOptions": (
            f"-Dderby.system.home={settings.run_dir / 'metastore'} -Duser.timezone=UTC"
        ),
    }
    if settings.spark_master.startswith("spark://"):
        conf |= cluster_conf(settings)
    if settings.hive_metastore_uri:
        conf["spark.hadoop.hive.metastore.uris"] = settings.hive_metastore_uri
    else:
        host = settings.metastore_host or settings.host
        url = f"jdbc:derby://{host}:{settings.metastore_port}/metastore_db;create=true"
        conf |= {
            "spark.hadoop.javax.jdo.option.ConnectionURL": url,
            "spark.hadoop.javax.jdo.option.ConnectionDriverName": DERBY_CLIENT_DRIVER,
            "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
            "spark.hadoop.hive.metastore.schema.verification": "false",
        }
    return conf


def cluster_conf(settings: Settings) -> dict[str, str]:
    """cluster_conf puts a session's executors on a standalone cluster, its driver on this host.

    The driver binds this host's address, where the executors call it back; each worker starts
    one executor with all it offers. Executors run the driver's interpreter on this checkout,
    and read MySQL's DATETIMEs in UTC as the driver does.
    """
    return {
        "spark.driver.host": settings.host,
        "spark.driver.bindAddress": settings.host,
        "spark.executor.cores": str(settings.spark_worker_cores),
        "spark.executor.memory": settings.spark_worker_memory,
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.pyspark.python": sys.executable,
        "spark.executorEnv.PYTHONPATH": str(REPO_ROOT),
    }


def hive_session(
    settings: Settings, app_name: str, overrides: Mapping[str, str] | None = None
) -> SparkSession:
    """hive_session starts (or returns the running) Hive-enabled session for this process."""
    # Python workers (the decoder's mapInArrow) must run this interpreter, with the project's
    # packages, not whatever "python3" is first on PATH (PySpark's default).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = SparkSession.builder
    for key, value in {**spark_conf(settings, app_name), **(overrides or {})}.items():
        builder = builder.config(key, value)
    session = builder.enableHiveSupport().getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session
