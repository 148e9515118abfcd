"""The integration suite's real stack: MariaDB, Kafka, the metastore, the servers and Envoy.

One stack per test session, on free ports in a fresh run directory, torn down at the end
(teardown also proves `stack down` leaves none of its processes behind). To iterate faster,
ADPLATFORM_TEST_STACK_DIR=<dir> reuses a stack kept in <dir> between runs and
ADPLATFORM_TEST_KEEP_STACK=1 leaves it running.

The session `stack` fixture itself lives in tests/conftest.py, so the end-to-end suite
(tests/e2e) shares the same stack; its settings come from stack_settings here.
"""

from __future__ import annotations

import json
from pathlib import Path

from deploy.stack.net import free_port
from servers.settings import Settings

PORT_FIELDS = (
    "mysql_port",
    "kafka_port",
    "kafka_controller_port",
    "envoy_port",
    "envoy_admin_port",
    "campaign_port",
    "adserver_port",
    "feedback_port",
    "admanager_port",
    "metastore_port",
    "campaign_metrics_port",
    "adserver_metrics_port",
    "feedback_metrics_port",
    "admanager_metrics_port",
)


def _ports(run_dir: Path) -> dict[str, int]:
    """_ports picks free ports once per run directory and remembers them there."""
    record = run_dir / "test-ports.json"
    if record.exists():
        return dict(json.loads(record.read_text()))
    ports = {name: free_port() for name in PORT_FIELDS}
    run_dir.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(ports))
    return ports


def stack_settings(run_dir: Path) -> Settings:
    """stack_settings are the settings of a test stack in run_dir (no outside overrides)."""
    return Settings(run_dir=run_dir, **_ports(run_dir))
