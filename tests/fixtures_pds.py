"""The reference Bluesky PDS for tests (tests/pds), and a fault-injecting proxy in front of it.

`pds` (session): starts `node tests/pds/start.mjs` (PDS + in-memory PLC on 127.0.0.1, state in a
temp dir), waits for /xrpc/_health, yields a `Pds`, stops it at the end. Node comes from PDS_NODE /
PDS_DIR (printed by tests/pds/install.sh, exported by scripts/test.sh); without them the fixture
runs install.sh itself. If the PDS cannot start the test FAILS (never skips).

`pds_proxy` (per test): a fresh `FaultProxy` in front of the PDS (see tests/faultproxy.py).
"""

from __future__ import annotations

import itertools
import os
import queue
import re
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy, ProxiedRequest

__all__ = ["Account", "FaultProxy", "Pds", "ProxiedRequest", "pds", "pds_proxy"]

PDS_SRC = Path(__file__).resolve().parent / "pds"
START_TIMEOUT = 90.0  # seconds; a warm start takes a few
_serial = itertools.count(1)


@dataclass(frozen=True)
class Account:
    """An account on the test PDS. Passwords never appear in repr (so never in test output)."""

    handle: str
    did: str
    password: str = field(repr=False)  # the account password: tests must not sign in with it
    app_password: str = field(repr=False)  # what the bot signs in with


@dataclass(frozen=True)
class Pds:
    """A running test PDS and its first account (alice.test)."""

    url: str  # http://localhost:<port>, loopback only
    did: str
    handle: str
    password: str = field(repr=False)
    app_password: str = field(repr=False)
    plc_url: str = ""

    @property
    def account(self) -> Account:
        """The first account, as an Account."""
        return Account(self.handle, self.did, self.password, self.app_password)

    def new_account(self, prefix: str = "user") -> Account:
        """Create a fresh account (empty repo) and an app password for it, over HTTP."""
        stem = re.sub(r"[^a-z0-9]", "", prefix.lower())[:9] or "user"
        handle = f"{stem}{next(_serial)}{secrets.token_hex(2)}.test"  # front part ≤ 18 chars
        password = secrets.token_urlsafe(18)
        created = self._xrpc_post(
            "com.atproto.server.createAccount",
            {"handle": handle, "email": f"{handle}@example.test", "password": password},
        )
        app = self._xrpc_post(
            "com.atproto.server.createAppPassword",
            {"name": "bwr-bot-tests"},
            token=created["accessJwt"],
        )
        return Account(created["handle"], created["did"], password, app["password"])

    @contextmanager
    def login(self, account: Account | None = None, base_url: str | None = None) -> Iterator[Any]:
        """`with pds.login(acct) as client:` an atproto Client signed in with the account's app
        password (default: alice), talking to base_url (default: the PDS; pass pds_proxy.url to
        go through the proxy). Closed on exit, so no socket outlives the test."""
        from atproto import Client
        from atproto_client.request import Request

        acct = account or self.account
        client = Client(base_url=base_url or self.url, request=Request(trust_env=False))
        try:
            client.login(acct.handle, acct.app_password, fetch_bsky_profile=False)
            yield client
        finally:
            client.request.close()

    def get_record(self, repo: str, collection: str, rkey: str) -> dict[str, Any] | None:
        """The record {uri, cid, value} straight from the PDS, or None when it does not exist."""
        import httpx

        with httpx.Client(trust_env=False, timeout=30) as http:
            resp = http.get(
                f"{self.url}/xrpc/com.atproto.repo.getRecord",
                params={"repo": repo, "collection": collection, "rkey": rkey},
            )
        if resp.status_code == 400 and resp.json().get("error") == "RecordNotFound":
            return None
        resp.raise_for_status()
        return dict(resp.json())

    def list_records(
        self, repo: str, collection: str = "app.bsky.feed.post"
    ) -> list[dict[str, Any]]:
        """Every record {uri, cid, value} of the collection, newest first (all pages)."""
        import httpx

        records: list[dict[str, Any]] = []
        cursor: str | None = None
        with httpx.Client(trust_env=False, timeout=30) as http:
            while True:
                params = {"repo": repo, "collection": collection, "limit": "100"}
                if cursor:
                    params["cursor"] = cursor
                resp = http.get(f"{self.url}/xrpc/com.atproto.repo.listRecords", params=params)
                resp.raise_for_status()
                page = resp.json()
                records.extend(page.get("records", []))
                cursor = page.get("cursor")
                if not cursor or not page.get("records"):
                    return records

    def _xrpc_post(self, nsid: str, body: dict[str, Any], token: str | None = None) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(trust_env=False, timeout=30) as http:
            resp = http.post(f"{self.url}/xrpc/{nsid}", json=body, headers=headers)
        if resp.status_code != 200:
            # The PDS's error body names the problem and echoes no secret.
            raise RuntimeError(f"{nsid} failed: HTTP {resp.status_code} {resp.text[:300]}")
        return resp.json()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _node_and_dir() -> tuple[str, Path]:
    node, pds_dir = os.environ.get("PDS_NODE"), os.environ.get("PDS_DIR")
    if node and pds_dir and Path(node).is_file():
        return node, Path(pds_dir)
    # Not run through scripts/test.sh: install (fast when warm) and read its KEY=VALUE lines.
    try:
        done = subprocess.run(
            ["bash", str(PDS_SRC / "install.sh")],
            capture_output=True,
            text=True,
            timeout=1200,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"tests/pds/install.sh could not run: {exc}", pytrace=False)
    if done.returncode != 0:
        pytest.fail(
            "tests/pds/install.sh failed (the reference PDS is needed for `pds` tests):\n"
            + done.stderr[-3000:],
            pytrace=False,
        )
    found = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return found["PDS_NODE"], Path(found["PDS_DIR"])


def _tail(path: Path, limit: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # Closing stdin asks start.mjs to shut down cleanly; signals are the fallback.
    for step in (lambda: proc.stdin and proc.stdin.close(), proc.terminate, proc.kill):
        try:
            step()
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.stdout:
        proc.stdout.close()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    import httpx

    with httpx.Client(trust_env=False, timeout=5) as http:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if http.get(f"{url}/xrpc/_health").status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    return False


@pytest.fixture(scope="session")
def pds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pds]:
    """The reference PDS on loopback with one account, alice.test (app password included)."""
    import json

    node, pds_dir = _node_and_dir()
    work = tmp_path_factory.mktemp("pds")
    log_path = work / "pds.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                node,
                str(pds_dir / "start.mjs"),
                "--pds-port",
                str(_free_port()),
                "--plc-port",
                str(_free_port()),
                "--handle",
                "alice.test",
            ],
            cwd=pds_dir,
            stdin=subprocess.PIPE,  # start.mjs exits when this closes, e.g. if pytest dies
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, "TMPDIR": str(work), "LOG_ENABLED": "false"},
        )
    try:
        lines: queue.Queue[bytes] = queue.Queue()
        assert proc.stdout is not None
        reader = threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True)
        reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        try:
            ready = json.loads(lines.get(timeout=START_TIMEOUT) or b"null")
        except (queue.Empty, ValueError):
            ready = None
        if not isinstance(ready, dict) or not _wait_healthy(ready["url"], proc, deadline):
            _stop(proc)
            pytest.fail(
                f"the test PDS did not start (exit code {proc.returncode}); its log:\n"
                + _tail(log_path),
                pytrace=False,
            )
        server = Pds(
            url=ready["url"],
            did=ready["did"],
            handle=ready["handle"],
            password=ready["password"],
            app_password=ready["app_password"],
            plc_url=ready.get("plc_url", ""),
        )
        yield server
    finally:
        _stop(proc)


@pytest.fixture()
def pds_proxy(pds: Pds) -> Iterator[FaultProxy]:
    """A fresh FaultProxy in front of the PDS for this test (no rules, zero counts)."""
    proxy = FaultProxy(pds.url)
    try:
        yield proxy
    finally:
        proxy.close()
