"""`adplatform bench ads` against the test stack: whole ads flow, and its books check passes.

Runs the command as a user would (a separate process, the stack's environment), briefly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from servers.settings import Settings


def test_bench_ads_charges_whole_ads_and_its_books_are_exact(stack: Settings) -> None:
    argv = [sys.executable, "-m", "clients.cli", "bench", "ads", "--json"]
    argv += ["--duration", "3", "--warmup", "1", "--connections", "8", "--bodies", "200"]
    done = subprocess.run(
        argv,
        env={**os.environ, **stack.child_environment()},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["whole_ads"] > 0
    assert result["fill_rate"] > 0
    assert result["errors"] == 0, result["error_samples"]
    books = result["books"]
    assert books["exact"], books
    assert books["checks"]["mysql"] and books["checks"]["hive"]
    assert books["feedbacks"] >= result["whole_ads"]  # the warm-up's are charged too
