"""Headless Chromium for the console's browser tests: Debian's chromium, driven by Playwright.

No browser download: Playwright launches /usr/bin/chromium (installed by deploy/bootstrap.sh)
with the flags this machine needs (closed network: no background fetches, no QUIC).
Each launch gets a fresh, empty user-data-dir that Playwright creates and removes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    """chromium is Debian's Chromium binary; fails the run with the fix when it is missing."""
    found = Path("/usr/bin/chromium")
    if found.exists():
        return str(found)
    other = shutil.which("chromium")
    if other:
        return other
    raise RuntimeError("chromium not found: run deploy/bootstrap.sh (apt-get install chromium)")
