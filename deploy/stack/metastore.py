"""The Hive metastore database: a Derby network server under the run directory.

Spark sessions in separate processes (the streaming writer, the report, the Thrift server)
share one catalog through it; embedded Derby would admit a single JVM. With
ADPLATFORM_HIVE_METASTORE_URI set, an existing Hive metastore service is used instead.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence

from deploy.stack.java import classpath, java_binary
from deploy.stack.part import Part

DERBY_MAIN = "org.apache.derby.drda.NetworkServerControl"


class Metastore(Part):
    """Metastore keeps Hive's table catalog for every Spark job of the platform."""

    name = "metastore"
    start_timeout = 60.0

    def managed(self) -> bool:
        """managed is false when a Hive metastore service URI is configured."""
        return self.settings.hive_metastore_uri is None

    def ports(self) -> Sequence[int]:
        """ports is the Derby network server port."""
        return (self.settings.metastore_port,)

    def endpoint(self) -> str:
        """endpoint is the metastore's JDBC URL or thrift URI."""
        if not self.managed():
            return str(self.settings.hive_metastore_uri)
        return f"jdbc:derby://{self.settings.host}:{self.settings.metastore_port}/metastore_db"

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command starts Derby's network server on loopback."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            java_binary(),
            "-Xmx256m",
            "-XX:TieredStopAtLevel=1",
            f"-Dderby.system.home={self.state_dir}",
            "-Dderby.stream.error.file=" + str(self.settings.run_dir / "logs" / "derby.log"),
            "-cp",
            os.pathsep.join(str(jar) for jar in classpath("metastore")),
            DERBY_MAIN,
            "start",
            "-h",
            self.settings.host,
            "-p",
            str(self.settings.metastore_port),
            "-noSecurityManager",
        ]
        return argv, dict(os.environ)

    def healthy(self) -> bool:
        """healthy checks the server accepts connections (Derby answers DRDA on the port)."""
        if not self.managed():
            return True
        with socket.create_connection(
            (self.settings.host, self.settings.metastore_port), timeout=1
        ):
            return True
