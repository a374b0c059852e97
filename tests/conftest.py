"""Fixtures every test may use. The sample data lives in the repository: the BWR feed in
examples/ (what users run), the real Substack feeds in tests/fixtures/substack/."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BWR_FEED = ROOT / "examples" / "bwr-feed.xml"
SUBSTACK_FEEDS = sorted((ROOT / "tests" / "fixtures" / "substack").glob("*.xml"))

# Newsletter and card pages are served on loopback, which the card fetcher refuses otherwise.
os.environ.setdefault("CARDS_ALLOW_PRIVATE", "1")
# New issues go out at once unless a test is about the grace window (POST_DELAY, default 10).
os.environ.setdefault("POST_DELAY", "0")


@pytest.fixture(scope="session")
def bwr_feed_bytes() -> bytes:
    return BWR_FEED.read_bytes()


@pytest.fixture(scope="session")
def profile():
    from bot.core.profile import load_profile

    return load_profile()


def _loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str) or host == "localhost" or host.endswith(".localhost"):
        return isinstance(host, str)
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True, scope="session")
def _only_loopback():
    """Tests may reach loopback only. Patched (not injected) because the point is to catch any
    code path, ours or a library's, that would look up another host: it fails at once instead."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host is not None and not _loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"tests reach loopback only, not {host}")
        return real(host, *args, **kwargs)

    socket.getaddrinfo = guarded
    yield
    socket.getaddrinfo = real


# Fixture modules owned by the PDS and store work; pytest puts tests/ on sys.path.
from fixtures_pds import *  # noqa: E402,F401,F403
from fixtures_store import *  # noqa: E402,F401,F403
