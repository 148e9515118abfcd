"""Settings: the one place configuration is read, from ADPLATFORM_* variables and a config file.

Precedence: explicit arguments, then environment variables (``ADPLATFORM_MYSQL_PORT=13306``),
then the TOML file named by ``ADPLATFORM_CONFIG`` (keys without the prefix), then defaults.
Ports default to a range that common system services do not use.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import os
import re
import zoneinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_MYSQL_USER = "adplatform"
LOCAL_MYSQL_PASSWORD = "adplatform"  # loopback-only instance owned by the stack

# Limits of the numeric settings that are not ports (1-65535) or durations (see _checked).
_NUMBER_LIMITS: dict[str, tuple[float, float]] = {
    "topic_partitions": (1, 10_000),
    "max_request_bytes": (1, 2**31 - 1),
    "device_rate_limit_per_second": (0, 10**9),  # 0 turns the limit off
    "device_rate_limit_burst": (1, 10**9),
    "spark_max_offsets_per_trigger": (1, 10**9),
    "spark_min_offsets_per_trigger": (1, 10**9),
    "adserver_workers": (1, 256),
    "feedback_workers": (1, 256),
    "feedback_threads": (1, 1024),
    "max_inflight_rpcs": (0, 10**6),  # 0 turns the limit off
    "diagnostics_sample_every": (1, 10**6),
    "mysql_server_id": (1, 2**32 - 1),
    "kafka_node_id": (0, 2**31 - 1),
    "kafka_replication_factor": (1, 32),
    "kafka_min_insync_replicas": (1, 32),
    "spark_worker_cores": (1, 1024),
}
_MAX_SECONDS = 365 * 24 * 3600  # durations: a year is already far past any sensible value
_TEXT_PATTERNS: dict[str, tuple[str, str]] = {
    # name: (pattern, what the refusal says it must be)
    "mysql_database": (r"[A-Za-z0-9_]{1,64}", "1-64 letters, digits or _"),
    "kpi_table": (r"[A-Za-z0-9_]{1,64}", "1-64 letters, digits or _"),
    "hive_database": (r"[A-Za-z_][A-Za-z0-9_]{0,127}", "a Hive name: letters, digits or _"),
    "instructions_group": (r"[A-Za-z0-9._-]{1,249}", "1-249 letters, digits, . _ or -"),
    "kafka_heap": (r"[1-9][0-9]*[kKmMgG]", "a JVM size like 512m or 2g"),
    "spark_driver_memory": (r"[1-9][0-9]*[kKmMgG]", "a JVM size like 512m or 2g"),
    "spark_worker_memory": (r"[1-9][0-9]*[kKmMgG]", "a JVM size like 512m or 2g"),
    "kafka_controller_quorum": (
        r"[0-9]{1,10}@[^,@\s]+:[0-9]{1,5}(,[0-9]{1,10}@[^,@\s]+:[0-9]{1,5})*",
        "KRaft voters as id@host:port, comma-separated",
    ),
    "kafka_cluster_id": (r"[A-Za-z0-9_-]{22}", "a Kafka cluster id: 22 base64url characters"),
    "netns": (r"[A-Za-z0-9_.-]{1,64}", "a network namespace name: letters, digits, . _ or -"),
    "spark_master": (
        r"local(\[([1-9][0-9]*|\*)(,[1-9][0-9]*)?\])?|(spark|k8s)://\S+|yarn",
        "local, local[N], local[*], spark://host:port, k8s://... or yarn",
    ),
    # servers.adserving.auction.PricingMode's values (tests keep the two in step).
    "pricing_mode": (r"second_price|literal", "second_price or literal"),
    "cpm_cpc_weight": (r"[0-9]+(\.[0-9]{1,10})?", "a non-negative decimal like 0.0075"),
    "cpm_cpa_weight": (r"[0-9]+(\.[0-9]{1,10})?", "a non-negative decimal like 0.0005"),
    "floor_cpm": (r"[0-9]{1,13}(\.[0-9]{1,10})?", "a non-negative decimal like 0.0002"),
    # servers.campaigns.frequency.parse_cap reads it (tests keep the two in step).
    "frequency_cap": (
        r"[1-9][0-9]{0,8}/(minute|hour|day|lifetime)",
        "impressions per user per period, like 3/day (minute, hour, day or lifetime)",
    ),
}
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_HOSTNAME = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_MYSQL_SCHEMES = ("mysql", "mysql+pymysql")
_COUNTRY_MAX_CHARS = 100  # the VARCHAR(100) country columns


def _host(text: str) -> str:
    """_host is text if it is an IP address or a DNS host name, else ValueError."""
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        if bare != text or not _HOSTNAME.fullmatch(text) or len(text) > 253:
            raise ValueError(f"{text!r} is not an IP address or host name") from None
    return text


def _endpoint(text: str) -> str:
    """_endpoint is text if it is host:port ("127.0.0.1:9092", "[::1]:9092"), else ValueError."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65_535:
        raise ValueError(f"{text!r} must be host:port with a port between 1 and 65535")
    _host(host)
    return text


def _url(text: str, schemes: tuple[str, ...]) -> str:
    """_url is text if it is a scheme://host:port/... URL of one of schemes, else ValueError."""
    parts = urlsplit(text)
    if parts.scheme not in schemes:
        raise ValueError(f"must be a {' or '.join(schemes)} URL")
    try:
        port = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError("must have a port between 1 and 65535")
    if not parts.hostname:
        raise ValueError("must name a host")
    _host(parts.hostname)
    return text


@functools.cache
def _zones() -> frozenset[str]:
    """_zones are the IANA zones, without the aliases of whatever zone this machine is in."""
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "posixrules"}


class Settings(BaseSettings):
    """Settings holds every knob of the platform; servers, clients and the stack share it."""

    # hide_input_in_errors: a refused mysql_url must not print its password.
    model_config = SettingsConfigDict(
        env_prefix="ADPLATFORM_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    run_dir: Path = Field(REPO_ROOT / ".run", description="state, logs and PIDs of the local stack")
    host: str = Field("127.0.0.1", description="loopback address every local part listens on")
    cluster_dir: Path = Field(
        REPO_ROOT / ".cluster", description="state, logs and PIDs of `adplatform cluster`'s hosts"
    )
    netns: str | None = Field(
        None, description="the network namespace this host's parts run in (`cluster up`)"
    )

    mysql_port: int = 13306
    mysql_database: str = "adplatform"
    mysql_url: str | None = Field(None, description="an existing MySQL server instead of MariaDB")
    mysql_server_id: int = Field(1, description="this MariaDB's server_id among its replicas")
    mysql_replica_port: int = Field(
        13307, description="the stack's MariaDB replica, when it runs one"
    )
    mysql_replica_url: str | None = Field(
        None,
        description="a replica for the reads that tolerate lag; none: every read is the primary's",
    )

    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_bootstrap: str | None = Field(None, description="existing Kafka brokers instead of ours")
    kafka_heap: str = "512m"
    kafka_node_id: int = Field(1, description="this broker's KRaft node id")
    kafka_controller_quorum: str | None = Field(
        None, description="KRaft voters id@host:port,...; none: this broker is its own controller"
    )
    kafka_cluster_id: str | None = Field(
        None, description="the id every broker of one cluster shares"
    )
    kafka_replication_factor: int = Field(1, description="replicas of every platform topic")
    kafka_min_insync_replicas: int = Field(
        1, description="replicas that acknowledge an acks=all write"
    )
    instructions_topic: str = "campaign-instructions"
    feedback_topic: str = "user-feedback"
    dead_letter_topic: str = "campaign-instructions-dlq"
    topic_partitions: int = 6
    instructions_group: str = Field(
        "ad-manager", description="the Kafka consumer group that applies campaign instructions"
    )

    envoy_port: int = 18080
    envoy_admin_port: int = 19901
    max_request_bytes: int = Field(64 * 1024, description="largest JSON body Envoy accepts (413)")
    device_rate_limit_per_second: int = Field(
        5000, description="ad requests and feedback Envoy takes per client address a second; 0 off"
    )
    device_rate_limit_burst: int = Field(
        10_000, description="requests one client address may send at once before 429"
    )
    device_timeout_seconds: float = Field(2.0, description="Envoy's deadline on device routes")
    campaign_timeout_seconds: float = Field(
        15.0, description="Envoy's deadline on campaign-management routes"
    )

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
    metastore_host: str | None = Field(
        None, description="the host of the stack's metastore when not this one (a cluster's)"
    )
    hive_metastore_uri: str | None = Field(None, description="thrift:// URI of a Hive metastore")
    spark_master: str = "local[2]"
    spark_driver_memory: str = "1g"
    spark_master_port: int = Field(17077, description="a standalone Spark master's port (cluster)")
    spark_master_ui_port: int = Field(18180, description="the standalone master's web UI")
    spark_worker_ui_port: int = Field(18181, description="a standalone worker's web UI")
    spark_worker_cores: int = Field(1, description="cores a standalone worker offers")
    spark_worker_memory: str = Field("1g", description="memory a standalone worker offers")
    spark_storage_dir: Path | None = Field(
        None,
        description="warehouse and checkpoints, where every Spark worker reaches; none: run_dir",
    )
    spark_classpath: Path = Field(
        REPO_ROOT / ".tools" / "classpath" / "spark.txt",
        description="the Spark jobs' jars (Kafka source, JDBC drivers) as a class path listing",
    )
    hive_database: str = Field("adplatform", description="Hive database of the archive tables")
    spark_trigger_seconds: float = Field(
        1.0, description="how often the feedback writer looks for records to archive"
    )
    spark_min_offsets_per_trigger: int = Field(
        2_000, description="records that start a batch before the trigger delay is up"
    )
    spark_max_trigger_delay_seconds: float = Field(
        15.0, description="longest a waiting record waits for a batch to start"
    )
    spark_max_offsets_per_trigger: int = Field(200_000, description="Kafka records per batch")
    spark_compact_after_seconds: float = Field(
        600.0,
        description="an ended hour of the archive untouched this long is rewritten as one file",
    )
    spark_dedup_seconds: int = Field(
        3600, description="a request id seen again within this many seconds is not re-archived"
    )
    kpi_table: str = Field("campaign_kpis", description="MySQL table the KPI stream upserts")
    bi_port: int = Field(11000, description="Spark Thrift JDBC server (stack up --bi)")
    bi_server: bool = Field(False, description="stack up also starts the Thrift server")

    timezone: str = Field("Asia/Kolkata", description="the platform's time zone for windows")
    home_country: str = "India"
    cpm_cpc_weight: str = "0.0075"
    cpm_cpa_weight: str = "0.0005"
    pricing_mode: str = Field("second_price", description="second_price, or literal (compat)")
    floor_cpm: str = Field("0", description="the platform's floor price per thousand impressions")
    frequency_cap: str | None = Field(
        None,
        description="default cap for campaigns without one, e.g. 3/day (minute, hour, lifetime)",
    )
    diagnostics_sample_every: int = Field(
        16, description="an AdServer counts delivery diagnostics for one request in this many"
    )
    diagnostics_flush_seconds: float = Field(
        5.0, description="how often an AdServer adds its diagnostics counters to MySQL"
    )
    adserver_workers: int = Field(2, description="AdServer processes sharing its port")

    feedback_workers: int = Field(1, description="FeedbackService processes sharing its port")
    feedback_threads: int = 16
    max_inflight_rpcs: int = Field(
        2000, description="unary calls one server process runs at once; past it UNAVAILABLE; 0 off"
    )

    log_level: str = "INFO"
    shutdown_grace_seconds: float = 5.0

    # Every value is checked as it is loaded: a bad one stops start-up with an error naming
    # the setting, never a traceback from deep inside a server or a silently wrong value.

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """_no_booleans_for_numbers refuses true/false where a number belongs (TOML port = true)."""
        annotation = cls.model_fields[str(info.field_name)].annotation
        if isinstance(value, bool) and annotation in (int, float):
            raise ValueError("must be a number, not a boolean")
        return value

    @field_validator("*")
    @classmethod
    def _checked(cls, value: Any, info: ValidationInfo) -> Any:
        """_checked applies each setting's rule; ports, durations, topics and addresses by name."""
        name = str(info.field_name)
        if value is None:
            return value
        if isinstance(value, str) and (not value.strip() or not value.isprintable()):
            raise ValueError("must not be blank or hold control characters (unset it instead)")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        low: float
        high: float
        if name.endswith("_port"):
            low, high = 1, 65_535
        elif name.endswith("_seconds"):
            low, high = (1e-3 if "timeout" in name else 0), _MAX_SECONDS
        else:
            low, high = _NUMBER_LIMITS.get(name, (-math.inf, math.inf))
        if isinstance(value, (int, float)) and not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}")
        if name in _TEXT_PATTERNS:
            pattern, shape = _TEXT_PATTERNS[name]
            if not re.fullmatch(pattern, value, re.ASCII):
                raise ValueError(f"must be {shape}")
        if name.endswith("_topic") and (not _TOPIC.fullmatch(value) or value in (".", "..")):
            raise ValueError("must be a Kafka topic name: 1-249 letters, digits, . _ or -")
        if name.endswith("_addr") or name == "kafka_bootstrap":
            for endpoint in value.split(","):
                _endpoint(endpoint.strip())
        return value

    @field_validator("host", "metastore_host")
    @classmethod
    def _a_host(cls, value: str | None) -> str | None:
        """_a_host: host (and metastore_host) is an IP address or a host name."""
        return None if value is None else _host(value)

    @field_validator("run_dir", "cluster_dir", mode="before")
    @classmethod
    def _a_directory(cls, value: Any) -> Any:
        """_a_directory: run_dir names a directory (blank would quietly mean the current one)."""
        if isinstance(value, str) and (not value.strip() or "\x00" in value):
            raise ValueError("must be a directory path")
        return value

    @field_validator("mysql_url", "mysql_replica_url")
    @classmethod
    def _a_mysql_url(cls, value: str | None) -> str | None:
        """_a_mysql_url: mysql_url is mysql+pymysql://user:password@host:port/database."""
        return None if value is None else _url(value, _MYSQL_SCHEMES)

    @field_validator("hive_metastore_uri")
    @classmethod
    def _thrift_uris(cls, value: str | None) -> str | None:
        """_thrift_uris: hive_metastore_uri is one or more thrift://host:port, comma-separated."""
        for uri in value.split(",") if value else ():
            _url(uri.strip(), ("thrift",))
        return value

    @field_validator("timezone")
    @classmethod
    def _a_zone(cls, value: str) -> str:
        """_a_zone: timezone is an IANA time zone ("Asia/Kolkata", "UTC")."""
        if value not in _zones():
            raise ValueError(f"{value[:60]!r} is not an IANA time zone like Asia/Kolkata")
        return value

    @field_validator("home_country")
    @classmethod
    def _a_country(cls, value: str) -> str:
        """_a_country: home_country fits the country columns (at most 100 characters)."""
        if len(value) > _COUNTRY_MAX_CHARS or value != value.strip():
            raise ValueError(f"must be at most {_COUNTRY_MAX_CHARS} characters, unpadded")
        return value

    @field_validator("log_level")
    @classmethod
    def _a_level(cls, value: str) -> str:
        """_a_level: log_level is a logging level name, in any case ("info" is INFO)."""
        if value.upper() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return value.upper()

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
        found = {
            "ADPLATFORM_RUN_DIR": str(self.run_dir),
            "ADPLATFORM_HOST": self.host,
            "ADPLATFORM_ENVOY_PORT": str(self.envoy_port),
            "ADPLATFORM_ENVOY_URL": self.envoy_url,
            "ADPLATFORM_MYSQL_URL": self.database_url,
            "ADPLATFORM_KAFKA_BOOTSTRAP": self.bootstrap_servers,
            "ADPLATFORM_CAMPAIGN_ADDR": self.campaign_target,
            "ADPLATFORM_ADSERVER_ADDR": self.adserver_target,
            "ADPLATFORM_FEEDBACK_ADDR": self.feedback_target,
        }
        # Set only where they differ from this machine's stack (a cluster's).
        optional = {
            "ADPLATFORM_MYSQL_REPLICA_URL": self.mysql_replica_url,
            "ADPLATFORM_METASTORE_HOST": self.metastore_host,
            "ADPLATFORM_HIVE_METASTORE_URI": self.hive_metastore_uri,
        }
        return found | {name: value for name, value in optional.items() if value is not None}

    def child_environment(self) -> dict[str, str]:
        """child_environment is the environment handed to the stack's processes."""
        overrides: dict[str, Any] = self.model_dump(exclude_none=True)
        env = {f"ADPLATFORM_{k.upper()}": str(v) for k, v in overrides.items()}
        return env


def load(**overrides: Any) -> Settings:
    """load builds the settings from the environment, the config file and overrides."""
    return Settings(**overrides)
