#!/usr/bin/env bash
# The test command: sets up what is missing, checks contracts and code, then runs the suites.
# Integration tests bring up their own stack on free ports and tear it down afterwards.
#   deploy/test.sh                 everything
#   deploy/test.sh tests/unit -q   pytest arguments narrow the run
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/bootstrap.sh

echo "==> contracts: generated code, buf lint"
.venv/bin/adplatform protos check
.venv/bin/adplatform protos lint
echo "==> code: ruff, mypy"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy servers clients deploy spark
echo "==> pytest"
exec .venv/bin/pytest "${@:-tests}"
