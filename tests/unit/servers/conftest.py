"""Fixtures for the pure domain tests: a valid campaign's fields and the real feed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploy.paths import FEED_CSV
from servers.campaigns.feed import read_feed
from servers.campaigns.model import CampaignSpec, Instruction
from servers.campaigns.validation import validate_spec
from tests.fixtures.campaigns import VALID_FIELDS

FEED_PATH = FEED_CSV


@pytest.fixture(scope="session")
def feed_path() -> Path:
    """feed_path is the real campaign feed kept in deploy/data."""
    if not FEED_PATH.is_file():
        pytest.skip(f"campaign feed not found at {FEED_PATH}")
    return FEED_PATH


@pytest.fixture(scope="session")
def feed_instructions(feed_path: Path) -> list[Instruction]:
    """feed_instructions is every message of the real feed, parsed and validated once."""
    return list(read_feed(feed_path))


@pytest.fixture(scope="session")
def fields() -> Callable[..., dict[str, Any]]:
    """fields builds a valid campaign's API fields with some overridden."""

    def build(**overrides: Any) -> dict[str, Any]:
        return {**VALID_FIELDS, **overrides}

    return build


@pytest.fixture(scope="session")
def make_spec() -> Callable[..., CampaignSpec]:
    """make_spec builds a validated CampaignSpec from the valid fields with some overridden."""

    def build(**overrides: Any) -> CampaignSpec:
        return validate_spec({**VALID_FIELDS, **overrides})

    return build
