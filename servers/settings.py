"""Settings: the one place configuration is read, from ADPLATFORM_* variables and a config file.

Precedence: explicit arguments, then environment variables (``ADPLATFORM_MYSQL_PORT=13306``),
then the TOML file named by ``ADPLATFORM_CONFIG`` (keys without the prefix), then defaults.
Ports default to a range that common system services do not use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_MYSQL_USER = "adplatform"
LOCAL_MYSQL_PASSWORD = "adplatform"  # loopback-only instance owned by the stack


class Settings(BaseSettings):
    """Settings holds every knob of the platform; servers, clients and the stack share it."""

    model_config = SettingsConfigDict(env_prefix="ADPLATFORM_", extra="ignore", frozen=True)

    run_dir: Path = Field(REPO_ROOT / ".run", description="state, logs and PIDs of the local stack")
    host: str = Field("127.0.0.1", description="loopback address every local part listens on")

    mysql_port: int = 13306
    mysql_database: str = "adplatform"
    mysql_url: str | None = Field(None, description="an existing MySQL server instead of MariaDB")

    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_bootstrap: str | None = Field(None, description="existing Kafka brokers instead of ours")
    kafka_heap: str = "512m"
    instructions_topic: str = "campaign-instructions"
    feedback_topic: str = "user-feedback"
    dead_letter_topic: str = "campaign-instructions-dlq"
    topic_partitions: int = 6

    envoy_port: int = 18080
    envoy_admin_port: int = 19901
    max_request_bytes: int = 64 * 1024

    campaign_port: int = 17001
    adserver_port: int = 17002
    feedback_port: int = 17003
    admanager_port: int = 17004
    campaign_metrics_port: int = 17101
    adserver_metrics_port: int = 17102
    feedback_metrics_port: int = 17103
    admanager_metrics_port: int = 17104
    campaign_addr: str | None = None
    adserver_addr: str | None = None
    feedback_addr: str | None = None

    metastore_port: int = 11527
    hive_metastore_uri: str | None = Field(None, description="thrift:// URI of a Hive metastore")
    spark_master: str = "local[2]"
    spark_driver_memory: str = "1g"
    hive_database: str = Field("adplatform", description="Hive database of the archive tables")
    spark_trigger_seconds: float = Field(10.0, description="feedback writer micro-batch interval")
    spark_max_offsets_per_trigger: int = Field(200_000, description="Kafka records per batch")
    kpi_watermark_seconds: int = Field(120, description="how late an event may still count")
    kpi_table: str = Field("campaign_kpis", description="MySQL table the KPI stream upserts")
    bi_port: int = Field(11000, description="Spark Thrift JDBC server (stack up --bi)")
    bi_server: bool = Field(False, description="stack up also starts the Thrift server")

    timezone: str = Field("Asia/Kolkata", description="the platform's time zone for windows")
    home_country: str = "India"
    cpm_cpc_weight: str = "0.0075"
    cpm_cpa_weight: str = "0.0005"
    pricing_mode: str = Field("second_price", description="second_price, or literal (compat)")
    adserver_workers: int = Field(2, description="AdServer processes sharing its port")

    feedback_threads: int = 16

    log_level: str = "INFO"
    shutdown_grace_seconds: float = 5.0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """settings_customise_sources adds the optional TOML file below the environment."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("ADPLATFORM_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    # Derived locations -----------------------------------------------------------------

    @property
    def local_mysql_url(self) -> str:
        """local_mysql_url is the SQLAlchemy URL of the stack's own MariaDB."""
        return (
            f"mysql+pymysql://{LOCAL_MYSQL_USER}:{LOCAL_MYSQL_PASSWORD}"
            f"@{self.host}:{self.mysql_port}/{self.mysql_database}"
        )

    @property
    def manages_mysql(self) -> bool:
        """manages_mysql is true when the stack runs MariaDB itself rather than using mysql_url."""
        return self.mysql_url is None or self.mysql_url == self.local_mysql_url

    @property
    def database_url(self) -> str:
        """database_url is the SQLAlchemy URL every server connects to."""
        return self.mysql_url or self.local_mysql_url

    @property
    def local_kafka_bootstrap(self) -> str:
        """local_kafka_bootstrap is the address of the stack's own broker."""
        return f"{self.host}:{self.kafka_port}"

    @property
    def manages_kafka(self) -> bool:
        """manages_kafka is true when the stack runs its own broker."""
        return self.kafka_bootstrap is None or self.kafka_bootstrap == self.local_kafka_bootstrap

    @property
    def bootstrap_servers(self) -> str:
        """bootstrap_servers is the Kafka bootstrap list every client uses."""
        return self.kafka_bootstrap or self.local_kafka_bootstrap

    @property
    def envoy_url(self) -> str:
        """envoy_url is the HTTP/JSON (and gRPC) front door."""
        return f"http://{self.host}:{self.envoy_port}"

    @property
    def campaign_target(self) -> str:
        """campaign_target is where CampaignService clients dial."""
        return self.campaign_addr or f"{self.host}:{self.campaign_port}"

    @property
    def adserver_target(self) -> str:
        """adserver_target is where AdServer clients dial."""
        return self.adserver_addr or f"{self.host}:{self.adserver_port}"

    @property
    def feedback_target(self) -> str:
        """feedback_target is where FeedbackService clients dial."""
        return self.feedback_addr or f"{self.host}:{self.feedback_port}"

    @property
    def mysql_endpoint(self) -> tuple[str, int, str]:
        """mysql_endpoint is the host, port and database of database_url (no credentials)."""
        parts = urlsplit(self.database_url)
        return parts.hostname or self.host, parts.port or 3306, parts.path.lstrip("/")

    def exports(self) -> dict[str, str]:
        """exports lists the variables a shell needs to reach this stack (``stack env``)."""
        return {
            "ADPLATFORM_RUN_DIR": str(self.run_dir),
            "ADPLATFORM_ENVOY_URL": self.envoy_url,
            "ADPLATFORM_MYSQL_URL": self.database_url,
            "ADPLATFORM_KAFKA_BOOTSTRAP": self.bootstrap_servers,
            "ADPLATFORM_CAMPAIGN_ADDR": self.campaign_target,
            "ADPLATFORM_ADSERVER_ADDR": self.adserver_target,
            "ADPLATFORM_FEEDBACK_ADDR": self.feedback_target,
        }

    def child_environment(self) -> dict[str, str]:
        """child_environment is the environment handed to the stack's processes."""
        overrides: dict[str, Any] = self.model_dump(exclude_none=True)
        env = {f"ADPLATFORM_{k.upper()}": str(v) for k, v in overrides.items()}
        return env


def load(**overrides: Any) -> Settings:
    """load builds the settings from the environment, the config file and overrides."""
    return Settings(**overrides)
