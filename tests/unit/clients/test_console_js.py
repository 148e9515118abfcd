"""The console's pure JavaScript (clients/console), tested by Node's built-in test runner.

The *.test.mjs files beside this one import the console's ES modules directly; no npm
package is involved. Node comes with the machine (the bootstrap's npm needs it).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from deploy.stack.console import CONSOLE_DIR

JS_TESTS = sorted((Path(__file__).parent / "console").glob("*.test.mjs"))
MODULES = sorted(CONSOLE_DIR.glob("*.js"))


def _node() -> str:
    node = shutil.which("node")
    assert node, "node is needed for the console's JavaScript tests"
    return node


@pytest.mark.parametrize("test_file", JS_TESTS, ids=lambda path: path.name)
def test_console_modules(test_file: Path) -> None:
    finished = subprocess.run(
        [_node(), "--test", str(test_file)], capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_every_console_module_parses(module: Path) -> None:
    finished = subprocess.run(
        [_node(), "--check", str(module)], capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 0, finished.stderr
