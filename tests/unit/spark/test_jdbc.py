"""spark.jdbc: Spark's JDBC options from the platform's SQLAlchemy URL."""

from __future__ import annotations

from spark.jdbc import jdbc_options


def test_jdbc_options_from_sqlalchemy_url() -> None:
    options = jdbc_options("mysql+pymysql://ad:s3cret@127.0.0.1:13306/adplatform")
    assert options["url"] == "jdbc:mysql://127.0.0.1:13306/adplatform?permitMysqlScheme"
    assert (options["user"], options["password"]) == ("ad", "s3cret")
    assert options["driver"] == "org.mariadb.jdbc.Driver"
