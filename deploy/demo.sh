#!/usr/bin/env bash
# The demo command: sets up what is missing, then runs the whole platform for a few minutes
# (stack, users, the campaign feed shifted to today, simulated devices) and prints the bill.
#   deploy/demo.sh                    three minutes of traffic
#   deploy/demo.sh --duration 1h      the seed project's hour (any `adplatform demo` flag)
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/bootstrap.sh
exec .venv/bin/adplatform demo "$@"
