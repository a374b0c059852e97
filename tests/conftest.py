"""Shared fixtures. Tests read ../shared (the BWR feed, real Substack feeds) in place."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
BWR_FEED = SHARED / "fixtures" / "bwr" / "feed.xml"
SUBSTACK_FEEDS = sorted((SHARED / "fixtures" / "substack").glob("*.xml"))


@pytest.fixture(scope="session")
def bwr_feed_bytes() -> bytes:
    return BWR_FEED.read_bytes()


@pytest.fixture(scope="session")
def profile():
    from bot.profile import load_profile

    return load_profile()


# Fixture modules owned by the PDS and store work; pytest puts tests/ on sys.path.
from fixtures_pds import *  # noqa: E402,F401,F403
from fixtures_store import *  # noqa: E402,F401,F403
