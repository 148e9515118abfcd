#!/usr/bin/env bash
# Installs what checks the Kubernetes manifests offline (deploy/k8s/check.py), idempotently:
#   .tools/bin/kustomize   built from the Go module proxy (go install, pinned)
#   .venv                  kubernetes-validate, the Kubernetes JSON schemas of every release
# Quick when done already. Needs Go (/usr/local/go/bin or PATH) and the project's .venv.
set -euo pipefail
cd "$(dirname "$0")/../.."

KUSTOMIZE_VERSION=v5.8.2  # deploy/k8s/check.py's KUSTOMIZE_VERSION; v5.8.3 needs Go 1.27
KUBERNETES_VALIDATE=kubernetes-validate==1.37.0
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

kustomize=.tools/bin/kustomize
if [ "$("$kustomize" version 2>/dev/null)" != "$KUSTOMIZE_VERSION" ]; then
  go=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$go" ] || { echo "install-tools: Go is needed to build kustomize" >&2; exit 1; }
  step "go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  mkdir -p .tools/bin
  GOBIN="$PWD/.tools/bin" GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
    "$go" install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi

installed=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' 2>/dev/null || true)
if [ "kubernetes-validate==$installed" != "$KUBERNETES_VALIDATE" ]; then
  step "pip install $KUBERNETES_VALIDATE"
  .venv/bin/python -m pip install -q "$KUBERNETES_VALIDATE"
fi
