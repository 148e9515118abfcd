"""Checks the Kubernetes manifests offline: renders every kustomization and validates each object.

Run after deploy/k8s/install-tools.sh (CI runs it from the unit tests):

    .venv/bin/python -m deploy.k8s.check

Built-in kinds are validated against the Kubernetes JSON schemas of KUBERNETES_VERSION that
the kubernetes-validate package ships (strict: an unknown field is an error). The operators'
kinds (Strimzi, mariadb-operator) are validated against the small schemas in schemas/, written
from their CRDs for the fields the platform sets. The Envoy configuration is checked by the
project's own Envoy (`envoy --mode validate`) with the image's paths mapped to this checkout.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from deploy.k8s import envoy_config
from deploy.paths import REPO_ROOT, TOOLS_DIR
from deploy.stack.envoy import envoy_binary

K8S_DIR = Path(__file__).resolve().parent
SCHEMAS_DIR = K8S_DIR / "schemas"
KUSTOMIZE = TOOLS_DIR / "bin" / "kustomize"
KUSTOMIZE_VERSION = "v5.8.2"  # install-tools.sh installs it
KUBERNETES_VERSION = "1.33.0"  # the oldest Kubernetes these manifests are for
TOOL_TIMEOUT_SECONDS = 120

Manifest = dict[str, Any]


def kustomizations() -> list[Path]:
    """kustomizations are the directories `kubectl apply -k` takes: the base and each overlay."""
    return sorted(path.parent for path in K8S_DIR.rglob("kustomization.yaml"))


def missing_tools() -> list[str]:
    """missing_tools names what install-tools.sh has not installed yet (empty: all there)."""
    missing = []
    if not KUSTOMIZE.exists():
        missing.append(f"kustomize ({KUSTOMIZE})")
    if importlib.util.find_spec("kubernetes_validate") is None:
        missing.append("the kubernetes-validate package")
    return missing


def render(directory: Path) -> list[Manifest]:
    """render is what `kustomize build directory` makes, as one dict per object."""
    built = subprocess.run(
        [str(KUSTOMIZE), "build", str(directory)],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        check=False,
    )
    if built.returncode != 0:
        raise RuntimeError(f"kustomize build {directory} failed: {built.stderr.strip()}")
    return [item for item in yaml.safe_load_all(built.stdout) if item]


@cache
def _crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    """_crd_schema is schemas/<group>_<version>_<kind>.json, None for a built-in kind."""
    path = SCHEMAS_DIR / f"{api_version.replace('/', '_')}_{kind}.json"
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _named(item: Manifest) -> str:
    """_named is how a problem names its object: Kind/name."""
    return f"{item.get('kind')}/{item.get('metadata', {}).get('name')}"


def problems(items: list[Manifest]) -> Iterator[str]:
    """problems yields one line for each object that its schema refuses."""
    import jsonschema  # type: ignore[import-untyped]
    import kubernetes_validate  # type: ignore[import-untyped]

    for item in items:
        crd = _crd_schema(str(item.get("apiVersion")), str(item.get("kind")))
        if crd is not None:
            for error in jsonschema.Draft202012Validator(crd).iter_errors(item):
                where = "/".join(str(part) for part in error.absolute_path)
                yield f"{_named(item)}: {where}: {error.message}"
            continue
        try:
            kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(part) for part in error.path)
            yield f"{_named(item)}: {where}: {error.message}"
        except kubernetes_validate.SchemaNotFoundError:
            yield f"{_named(item)}: no schema for {item.get('apiVersion')} {item.get('kind')}"


def local_envoy_config(config_text: str, scratch: Path) -> Path:
    """local_envoy_config writes config_text for this checkout under scratch; returns the file.

    The image's paths become this checkout's, and the JWKS the ConfigMap mounts is the base's.
    """
    auth = scratch / "auth"
    auth.mkdir(exist_ok=True)
    shutil.copy(K8S_DIR / "base" / "envoy" / "jwks.json", auth / "jwks.json")
    local = config_text.replace(f"{envoy_config.IMAGE_ROOT}/", f"{REPO_ROOT}/")
    config_file = scratch / "envoy.json"
    config_file.write_text(local.replace(envoy_config.RUN_DIR, str(scratch)))
    return config_file


def envoy_problems(config_text: str) -> str | None:
    """envoy_problems is Envoy's refusal of config_text (None: Envoy accepts it)."""
    with tempfile.TemporaryDirectory(prefix="k8s-envoy-") as scratch:
        config_file = local_envoy_config(config_text, Path(scratch))
        checked = subprocess.run(
            [envoy_binary(), "--mode", "validate", "-c", str(config_file), "--use-dynamic-base-id"],
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_SECONDS,
            check=False,
        )
    if checked.returncode == 0:
        return None
    return (checked.stdout + checked.stderr).strip().splitlines()[-1]


def main() -> int:
    """main renders and validates every kustomization and the Envoy configuration."""
    if missing_tools():
        print(f"missing: {', '.join(missing_tools())}: run deploy/k8s/install-tools.sh")
        return 2
    started = time.monotonic()
    found = []
    for directory in kustomizations():
        items = render(directory)
        found += [f"{directory.relative_to(K8S_DIR)}: {line}" for line in problems(items)]
        print(f"{directory.relative_to(K8S_DIR)}: {len(items)} objects")
    refused = envoy_problems(envoy_config.CONFIG_FILE.read_text())
    if refused:
        found.append(f"envoy.json: {refused}")
    for line in found:
        print(line)
    print(f"{len(found)} problems in {time.monotonic() - started:.1f} s")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
