"""Each server process registers only its own metrics: the shared RPC ones and its business's.

Each server's entry point is imported in a fresh interpreter, as its process starts, and the
metrics it registered are listed: a metric defined for every process would show up under
every server in `adplatform stack status` (feedback duplicates under the CampaignService).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SHARED = {"adplatform_rpc_requests", "adplatform_rpc_shed", "adplatform_rpc_seconds"}
OWN = {
    "servers.campaign_service.server": set(),
    "servers.adserving.server": {
        "adplatform_auctions",
        "adplatform_auction_bidders",
        "adplatform_frequency_reads",
        "adplatform_diagnostics_dropped",
        "adplatform_diagnostics_flush_failures",
    },
    "servers.feedback.server": {
        "adplatform_charges",
        "adplatform_feedback_duplicates",
        "adplatform_spend",
        "adplatform_outbox_lag_seconds",
        "adplatform_outbox_published",
    },
    "servers.admanager.server": {
        "adplatform_instructions",
        "adplatform_consumer_replacements",
    },
}
# LIST imports the module named by its argument and prints the adplatform metrics registered.
LIST = """
import importlib, sys
from prometheus_client import REGISTRY
importlib.import_module(sys.argv[1])
print(*sorted(m.name for m in REGISTRY.collect() if m.name.startswith("adplatform_")))
"""


def _registered(module: str) -> set[str]:
    """_registered lists the metrics a process running module has once it is imported."""
    env = {name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
    listed = subprocess.run(
        [sys.executable, "-c", LIST, module],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(listed.stdout.split())


@pytest.mark.parametrize("module", sorted(OWN))
def test_a_server_process_registers_the_shared_rpc_metrics_and_only_its_own(module: str) -> None:
    assert _registered(module) == SHARED | OWN[module]
