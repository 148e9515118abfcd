"""The feedback writer pod's liveness probe: exits 0 while the writer's status file is fresh.

Run by the kubelet in the writer's container (deploy/k8s/base/feedback-writer.yaml):

    python -m deploy.k8s.writer_alive

The writer rewrites its status file every second while its driver runs (spark/status.py); a
file older than deploy/stack/spark_jobs.py's STALE_AFTER_SECONDS means a stuck driver, as it
does for `stack status`.
"""

from __future__ import annotations

import sys

from deploy.stack.spark_jobs import STALE_AFTER_SECONDS
from servers.settings import Settings, load
from spark import status


def alive(settings: Settings) -> bool:
    """alive: the writer wrote its status file within the last STALE_AFTER_SECONDS."""
    age = status.status_age(settings)
    return age is not None and age < STALE_AFTER_SECONDS


if __name__ == "__main__":
    sys.exit(0 if alive(load()) else 1)
