"""JDBC options for Spark to read the platform's MySQL (MariaDB's driver, from deploy/spark)."""

from __future__ import annotations

from sqlalchemy.engine import make_url

DRIVER = "org.mariadb.jdbc.Driver"


def jdbc_options(database_url: str) -> dict[str, str]:
    """jdbc_options turns the SQLAlchemy URL into Spark's JDBC url, user, password and driver."""
    url = make_url(database_url)
    host = url.host or "127.0.0.1"
    port = url.port or 3306
    return {
        # The mysql scheme makes Spark use its MySQL dialect (backquoted names); MariaDB's
        # driver accepts it with permitMysqlScheme.
        "url": f"jdbc:mysql://{host}:{port}/{url.database or ''}?permitMysqlScheme",
        "user": url.username or "",
        "password": url.password or "",
        "driver": DRIVER,
        "fetchsize": "10000",
    }
