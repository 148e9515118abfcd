"""buf lint and buf breaking over protos/, with the google/api protos staged from the wheel.

`adplatform protos lint`; `adplatform protos breaking [--against REF]` compares the contracts
with those of another commit (default: the previous commit), which CI runs.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from deploy.codegen import PROTO_INCLUDE, stage_google_api
from deploy.paths import REPO_ROOT, TOOLS_DIR
from deploy.stack.errors import StackError

BUF = TOOLS_DIR / "node_modules" / ".bin" / "buf"


def _buf(*args: str, cwd: Path = REPO_ROOT) -> int:
    """_buf runs the pinned buf from .tools with the given arguments."""
    if not BUF.exists():
        raise StackError(f"{BUF} missing: run deploy/bootstrap.sh")
    stage_google_api()
    return subprocess.run([str(BUF), *args], cwd=cwd, check=False).returncode


def lint() -> int:
    """lint runs buf lint with the rules in buf.yaml."""
    return _buf("lint")


def breaking(against: str = "HEAD~1") -> int:
    """breaking checks protos/ for breaking changes against the contracts at commit `against`."""
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", f"{against}^{{commit}}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        print(f"no commit {against}; nothing to compare")
        return 0
    archive = subprocess.run(
        ["git", "archive", against, "--", "protos", "buf.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        print(f"{against} has no contracts yet; nothing to compare")
        return 0
    stage_google_api()
    with tempfile.TemporaryDirectory() as scratch:
        previous = Path(scratch)
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(previous, filter="data")
        shutil.copytree(PROTO_INCLUDE, previous / PROTO_INCLUDE.relative_to(REPO_ROOT))
        status = _buf("breaking", "--against", str(previous))
    if status == 0:
        print(f"no breaking changes against {against}")
    return status
