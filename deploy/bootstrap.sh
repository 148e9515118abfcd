#!/usr/bin/env bash
# Installs what this project needs on a Debian 12 machine, idempotently; quick when done already.
#   apt: MariaDB, Java 17 and Maven when missing, h2load and wrk for benchmarks, Chromium for browser tests
#   .venv: the project and its pinned dependencies (pip install -e '.[dev]')
#   .tools: buf (npm), kustomize (Go), the google/api protos, and the Kafka/Spark/metastore jar lists (Maven)
set -euo pipefail
cd "$(dirname "$0")/.."

BUF_VERSION=1.75.0
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

missing=()
[ -x /usr/sbin/mariadbd ] || command -v mariadbd >/dev/null || missing+=(mariadb-server)
command -v java >/dev/null || [ -n "${JAVA_HOME:-}" ] || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/bin/chromium ] || missing+=(chromium)  # the console's browser tests (tests/e2e)
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
  step "creating .venv with $python"
  "$python" -m venv .venv
fi
stamp=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat .venv/.installed 2>/dev/null)" != "$stamp" ]; then
  step "pip install -e '.[dev]' (pyspark is large; the first time takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$stamp" > .venv/.installed
fi

if [ "$(.tools/node_modules/.bin/buf --version 2>/dev/null)" != "$BUF_VERSION" ]; then
  step "npm install @bufbuild/buf@$BUF_VERSION"
  mkdir -p .tools
  npm install --prefix .tools --no-save --no-audit --no-fund --silent "@bufbuild/buf@$BUF_VERSION"
fi

# kustomize and the Kubernetes schemas, to check deploy/k8s offline (quick when installed)
deploy/k8s/install-tools.sh

step "resolving jars from Maven Central (cached in ~/.m2)"
.venv/bin/python -m deploy.stack.java
