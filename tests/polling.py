"""Polling with deadlines: how tests wait for asynchronous effects, instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """eventually returns probe()'s first truthy result, failing the test after timeout seconds.

    The last exception or falsy value is reported, so a failure says what was last seen.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except AssertionError as error:
            last = error
        else:
            if result:
                return result
            last = result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last seen: {last!r}")
