#!/usr/bin/env bash
# The demo command: sets up what is missing, brings the whole stack up and shows its health.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/bootstrap.sh
.venv/bin/adplatform stack up
.venv/bin/adplatform stack status
