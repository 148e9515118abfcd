"""MariaDB with a private data directory under the run directory, or an existing MySQL server."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence

import pymysql

from deploy.stack.errors import StackError
from deploy.stack.part import Part
from servers.settings import LOCAL_MYSQL_PASSWORD, LOCAL_MYSQL_USER


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
        datadir = self.state_dir / "data"
        if (datadir / "mysql").is_dir():
            return
        datadir.mkdir(parents=True, exist_ok=True)
        argv = [
            _binary("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *self._user_flag(),
        ]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            shutil.rmtree(datadir, ignore_errors=True)
            raise StackError(f"mariadb-install-db failed: {result.stderr.strip()[-2000:]}")

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command runs mariadbd on loopback with the stack's port and socket."""
        argv = [
            _binary("mariadbd"),
            "--no-defaults",
            f"--datadir={self.state_dir / 'data'}",
            f"--socket={self.socket_path}",
            f"--pid-file={self.state_dir / 'mariadbd.pid'}",
            f"--port={self.settings.mysql_port}",
            f"--bind-address={self.settings.host}",
            "--skip-name-resolve",
            "--max-connections=500",
            "--innodb-buffer-pool-size=256M",
            "--innodb-log-file-size=256M",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--transaction-isolation=READ-COMMITTED",
            *self._user_flag(),
        ]
        return argv, dict(os.environ)

    def healthy(self) -> bool:
        """healthy runs SELECT 1 as the platform's user over TCP."""
        if self.managed():
            connection = pymysql.connect(
                unix_socket=self.socket_path, user="root", password="", connect_timeout=2
            )
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
            ]
        connection = pymysql.connect(unix_socket=self.socket_path, user="root", password="")
        with connection, connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    @staticmethod
    def _user_flag() -> list[str]:
        """_user_flag lets mariadbd run as root, which it otherwise refuses."""
        return ["--user=root"] if os.geteuid() == 0 else []
