"""MariaDB with a private data directory under the run directory, or an existing MySQL server.

The primary writes a binary log (row events, GTIDs) from its first start, so a replica
(MariaDBReplica) can start empty and follow it from the beginning: the platform's database,
its users and every migration are in that log. A replica is read-only; the reads that
tolerate lag go to it (servers/storage/replica.py), everything else to the primary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pymysql

from deploy.stack.errors import StackError
from deploy.stack.part import Part
from servers.settings import LOCAL_MYSQL_PASSWORD, LOCAL_MYSQL_USER

# The account a replica reads the primary's binary log as (it may do nothing else).
REPLICATION_USER = "adplatform_replication"
REPLICATION_PASSWORD = "adplatform_replication"
REPLICA_CONNECT_RETRY_SECONDS = 2  # how soon a replica retries a primary it cannot reach
BINLOG_KEPT_SECONDS = 7 * 24 * 3600  # a week of the primary's binary log (then purged)


def _binary(name: str) -> str:
    """_binary finds a MariaDB program or explains how to install it."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        raise StackError(f"{name} not found: install mariadb-server (deploy/bootstrap.sh does)")
    return path


class MariaDB(Part):
    """MariaDB is the campaigns, served ads and feedback database."""

    name = "mariadb"
    start_timeout = 60.0

    @property
    def socket_path(self) -> str:
        """socket_path is the Unix socket used for administration as root."""
        return str(self.state_dir / "mysqld.sock")

    def managed(self) -> bool:
        """managed is false when ADPLATFORM_MYSQL_URL names another server."""
        return self.settings.manages_mysql

    def ports(self) -> Sequence[int]:
        """ports is the MariaDB TCP port."""
        return (self.settings.mysql_port,)

    def endpoint(self) -> str:
        """endpoint is the MySQL host:port (credentials left out)."""
        host, port, database = self.settings.mysql_endpoint
        return f"mysql://{host}:{port}/{database}"

    def prepare(self) -> None:
        """prepare creates the system tables in the private data directory once."""
        _install(self.state_dir / "data")

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command runs mariadbd on loopback with the stack's port and socket.

        The binary log (named, not after the machine) holds every change as row events with
        its GTID, for a replica to follow; without sync_binlog it costs a buffered write per
        commit, no extra fsync. It is kept a week: a replica can start empty, or resume after
        a stop, as long as the primary's first log file (or the one it stopped in) is kept.
        """
        argv = [
            *_server_argv(self.state_dir, self.settings.host, self.settings.mysql_port),
            "--max-connections=500",
            "--innodb-buffer-pool-size=256M",
            "--innodb-log-file-size=256M",
            f"--server-id={self.settings.mysql_server_id}",
            "--log-bin=mariadb-bin",
            "--binlog-format=ROW",
            "--binlog-row-image=MINIMAL",  # an update logs the key and what changed
            "--gtid-strict-mode=1",
            f"--binlog-expire-logs-seconds={BINLOG_KEPT_SECONDS}",
            "--binlog-cache-size=1M",  # a batch's row events stay in memory until its commit
            # ROW logging replays a trigger's effects, not its body, so the platform's user may
            # create triggers (tests do) without SUPER, as it could before the binary log.
            "--log-bin-trust-function-creators=1",
        ]
        return argv, dict(os.environ)

    def healthy(self) -> bool:
        """healthy runs SELECT 1 as the platform's user over TCP."""
        if self.managed():
            connection = _root(self.socket_path)
        else:
            from sqlalchemy import create_engine, text

            engine = create_engine(self.settings.database_url, pool_pre_ping=False)
            try:
                with engine.connect() as conn:
                    return conn.execute(text("SELECT 1")).scalar() == 1
            finally:
                engine.dispose()
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)

    def after_ready(self) -> None:
        """after_ready creates the platform's database and user on our own instance."""
        if not self.managed():
            return
        database = self.settings.mysql_database
        statements = [
            f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4",
        ]
        for host in ("127.0.0.1", "localhost"):
            statements += [
                f"CREATE USER IF NOT EXISTS '{LOCAL_MYSQL_USER}'@'{host}' "
                f"IDENTIFIED BY '{LOCAL_MYSQL_PASSWORD}'",
                f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{LOCAL_MYSQL_USER}'@'{host}'",
                # SHOW SLAVE STATUS on a replica: the servers read its lag before using it
                f"GRANT SLAVE MONITOR ON *.* TO '{LOCAL_MYSQL_USER}'@'{host}'",
            ]
        statements += [
            f"CREATE USER IF NOT EXISTS '{REPLICATION_USER}'@'%' "
            f"IDENTIFIED BY '{REPLICATION_PASSWORD}'",
            f"GRANT REPLICATION SLAVE ON *.* TO '{REPLICATION_USER}'@'%'",
        ]
        connection = _root(self.socket_path, connect_timeout=10)
        with connection, connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


class MariaDBReplica(Part):
    """MariaDBReplica is a read-only copy of the primary, following its binary log by GTID.

    It starts from an empty server and replays the primary's binary log from its beginning,
    which holds everything the platform ever wrote (MariaDB writes it from its first start),
    so no dump is needed. Where it stopped (gtid_slave_pos) is kept in its data directory: a
    replica started again resumes from there. Its server_id is settings.mysql_server_id, which
    must differ from the primary's (a cluster's replica host has 2; on one machine give the
    replica its own settings with ADPLATFORM_MYSQL_SERVER_ID=2).
    """

    name = "mariadb-replica"
    start_timeout = 60.0

    @property
    def socket_path(self) -> str:
        """socket_path is the Unix socket used for administration as root."""
        return str(self.state_dir / "mysqld.sock")

    def ports(self) -> Sequence[int]:
        """ports is the replica's TCP port."""
        return (self.settings.mysql_replica_port,)

    def endpoint(self) -> str:
        """endpoint is the replica's host:port and the primary it follows."""
        host, port, database = self.settings.mysql_endpoint
        own = f"{self.settings.host}:{self.settings.mysql_replica_port}"
        return f"mysql://{own}/{database} (replica of {host}:{port})"

    def prepare(self) -> None:
        """prepare creates the replica's system tables in its own data directory once."""
        _install(self.state_dir / "data")

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command runs a read-only mariadbd on the replica port, smaller than the primary."""
        argv = [
            *_server_argv(self.state_dir, self.settings.host, self.settings.mysql_replica_port),
            "--max-connections=200",
            "--innodb-buffer-pool-size=128M",
            "--innodb-log-file-size=64M",
            f"--server-id={self.settings.mysql_server_id}",
            "--read-only=1",  # the platform's user cannot write; replication and root can
            "--relay-log=relay-bin",
            "--gtid-strict-mode=1",
        ]
        return argv, dict(os.environ)

    def healthy(self) -> bool:
        """healthy is true when both replication threads run; a fresh replica is set to follow.

        A replica that is not replicating says why (the threads' last error) instead of False.
        """
        connection = _root(self.socket_path)
        with connection, connection.cursor(pymysql.cursors.DictCursor) as cursor:
            cursor.execute("SHOW SLAVE STATUS")
            status = cursor.fetchone()
            if status is None:
                self._follow(cursor)
                return False
        if status["Slave_IO_Running"] == "Yes" and status["Slave_SQL_Running"] == "Yes":
            return True
        error = status["Last_IO_Error"] or status["Last_SQL_Error"]
        raise StackError(
            f"not replicating (io {status['Slave_IO_Running']}, sql "
            f"{status['Slave_SQL_Running']}){': ' + error if error else ''}"
        )

    def _follow(self, cursor: pymysql.cursors.Cursor) -> None:
        """_follow points a fresh replica at the primary's binary log from its start, by GTID."""
        host, port, _ = self.settings.mysql_endpoint
        cursor.execute(
            "CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, "
            "MASTER_PASSWORD = %s, MASTER_CONNECT_RETRY = %s, MASTER_USE_GTID = slave_pos",
            (host, port, REPLICATION_USER, REPLICATION_PASSWORD, REPLICA_CONNECT_RETRY_SECONDS),
        )
        cursor.execute("START SLAVE")


def _install(datadir: Path) -> None:
    """_install creates a server's system tables in datadir once."""
    if (datadir / "mysql").is_dir():
        return
    datadir.mkdir(parents=True, exist_ok=True)
    argv = [
        _binary("mariadb-install-db"),
        "--no-defaults",
        f"--datadir={datadir}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        *_user_flag(),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(datadir, ignore_errors=True)
        raise StackError(f"mariadb-install-db failed: {result.stderr.strip()[-2000:]}")


def _server_argv(state_dir: Path, host: str, port: int) -> list[str]:
    """_server_argv is what the primary and the replica share: files, address and character set."""
    return [
        _binary("mariadbd"),
        "--no-defaults",
        f"--datadir={state_dir / 'data'}",
        f"--socket={state_dir / 'mysqld.sock'}",
        f"--pid-file={state_dir / 'mariadbd.pid'}",
        f"--port={port}",
        f"--bind-address={host}",
        "--skip-name-resolve",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci",
        "--transaction-isolation=READ-COMMITTED",
        *_user_flag(),
    ]


def _root(socket_path: str, connect_timeout: int = 2) -> pymysql.Connection[pymysql.cursors.Cursor]:
    """_root connects as root over a server's Unix socket, for administration."""
    return pymysql.connect(
        unix_socket=socket_path, user="root", password="", connect_timeout=connect_timeout
    )


def _user_flag() -> list[str]:
    """_user_flag lets mariadbd run as root, which it otherwise refuses."""
    return ["--user=root"] if os.geteuid() == 0 else []
