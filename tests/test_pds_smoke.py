"""The reference PDS and the fault proxy work as the publisher's tests expect."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from atproto_client import exceptions, models

pytestmark = pytest.mark.pds

POST = "app.bsky.feed.post"


def _post(client, did: str, text: str):
    return client.com.atproto.repo.create_record(
        models.ComAtprotoRepoCreateRecord.Data(
            repo=did,
            collection=POST,
            record={"$type": POST, "text": text, "createdAt": "2025-01-06T09:00:00.000Z"},
        )
    )


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of sockets listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            cols = line.split()
            addr, hex_port = cols[1].rsplit(":", 1)
            if int(hex_port, 16) == port and cols[3] == "0A":  # 0A = LISTEN
                found.add(addr)
    return found


def test_app_password_login_post_and_read_back(pds):
    """Signing in with the app password and posting stores a record that reads back intact."""
    with pds.login() as client:
        assert client.me is None  # no AppView profile lookup
        created = _post(client, pds.did, "Barbershop Whispers smoke test")
        assert created.uri.startswith(f"at://{pds.did}/{POST}/")

        got = client.com.atproto.repo.get_record(
            {"repo": pds.did, "collection": POST, "rkey": created.uri.rsplit("/", 1)[1]}
        )
        assert got.cid == created.cid
        assert got.value.text == "Barbershop Whispers smoke test"
        assert pds.get_record(pds.did, POST, created.uri.rsplit("/", 1)[1])["cid"] == created.cid


def test_pds_listens_on_loopback_only(pds):
    """The test PDS cannot be reached from other machines: it listens on 127.0.0.1 only."""
    port = int(pds.url.rsplit(":", 1)[1])
    assert _listening_addresses(port) == {"0100007F"}


def test_new_account_has_empty_repo_and_working_app_password(pds):
    """A fresh account starts with no posts and its app password signs in."""
    acct = pds.new_account("fresh")
    assert acct.handle.startswith("fresh") and acct.handle.endswith(".test")
    assert acct.did.startswith("did:plc:") and acct.did != pds.did
    assert pds.list_records(acct.did) == []
    assert acct.password not in repr(acct) and acct.app_password not in repr(acct)

    with pds.login(acct) as client:
        _post(client, acct.did, "first")
        assert [r["value"]["text"] for r in pds.list_records(acct.did)] == ["first"]


def test_proxy_counts_and_injects_500(pds, pds_proxy):
    """Through the proxy, one sign-in is counted and an injected 500 reaches the client once."""
    acct = pds.new_account("proxied")
    with pds.login(acct, base_url=pds_proxy.url) as client:
        assert pds_proxy.count("com.atproto.server.createSession") == 1

        pds_proxy.fail("com.atproto.repo.createRecord", times=1, status=500)
        with pytest.raises(exceptions.RequestException) as err:
            _post(client, acct.did, "never stored")
        assert err.value.response.status_code == 500
        assert pds.list_records(acct.did) == []

        _post(client, acct.did, "stored")  # still going through the proxy after login
        assert pds_proxy.count("com.atproto.repo.createRecord") == 2
        assert [r.status for r in pds_proxy.requests if r.method.endswith("createRecord")] == [
            500,
            200,
        ]
        assert [r["value"]["text"] for r in pds.list_records(acct.did)] == ["stored"]


def test_proxy_rate_limit_carries_reset_header(pds, pds_proxy):
    """An injected 429 carries ratelimit-reset in epoch seconds, as bsky.social sends it."""
    acct = pds.new_account("limited")
    with pds.login(acct, base_url=pds_proxy.url) as client:
        pds_proxy.rate_limit("com.atproto.repo.createRecord", reset_in=120)
        before = time.time()
        with pytest.raises(exceptions.RateLimitExceededError) as err:
            _post(client, acct.did, "x")
        reset = int(err.value.response.headers["ratelimit-reset"])
        assert before + 118 <= reset <= time.time() + 121
        assert pds.list_records(acct.did) == []


def test_proxy_drop_after_forward_stores_but_client_errs(pds, pds_proxy):
    """A dropped response after the PDS handled a write leaves the post stored and the client
    with a network error; the response callback sees it."""
    acct = pds.new_account("dropped")
    with pds.login(acct, base_url=pds_proxy.url) as client:
        seen = []
        fired = threading.Event()

        def after(req):
            seen.append((req.method, req.status, req.injected))
            fired.set()

        pds_proxy.on_response("com.atproto.repo.createRecord", after)
        pds_proxy.drop("com.atproto.repo.createRecord", after_forward=True)
        with pytest.raises(httpx.RemoteProtocolError):
            _post(client, acct.did, "written, unacknowledged")
        assert fired.wait(5)
        assert seen == [("com.atproto.repo.createRecord", None, True)]
        assert [r["value"]["text"] for r in pds.list_records(acct.did)] == [
            "written, unacknowledged"
        ]


def test_proxy_request_callback_sees_body_before_forwarding(pds, pds_proxy):
    """A request callback runs before the PDS sees the call, with the request body."""
    acct = pds.new_account("hooked")
    with pds.login(acct, base_url=pds_proxy.url) as client:
        stored_then = []
        pds_proxy.on_request(
            "com.atproto.repo.createRecord",
            lambda req: stored_then.append(
                (b"hooked text" in req.body, len(pds.list_records(acct.did)))
            ),
            times=1,
        )
        _post(client, acct.did, "hooked text")
        _post(client, acct.did, "second")
        assert stored_then == [(True, 0)]


def test_proxy_callback_can_kill_the_poster_mid_call(pds, pds_proxy):
    """Killing the posting process when its write arrives still lets the write land, and the
    proxy keeps working for the next client."""
    acct = pds.new_account("killed")
    token = httpx.post(
        f"{pds.url}/xrpc/com.atproto.server.createSession",
        json={"identifier": acct.handle, "password": acct.app_password},
        trust_env=False,
    ).json()["accessJwt"]
    poster_code = (
        "import httpx, sys, time\n"
        "httpx.post(sys.argv[1], json={'repo': sys.argv[2], 'collection': 'app.bsky.feed.post',"
        " 'record': {'$type': 'app.bsky.feed.post', 'text': 'cut off',"
        " 'createdAt': '2025-01-06T09:00:00.000Z'}},"
        " headers={'Authorization': 'Bearer ' + sys.argv[3]}, trust_env=False, timeout=30)\n"
        "time.sleep(30)\n"
    )
    poster = subprocess.Popen(
        [
            sys.executable,
            "-c",
            poster_code,
            f"{pds_proxy.url}/xrpc/com.atproto.repo.createRecord",
            acct.did,
            token,
        ],
    )
    pds_proxy.on_request("com.atproto.repo.createRecord", lambda req: poster.kill(), times=1)
    assert poster.wait(timeout=30) == -signal.SIGKILL

    deadline = time.monotonic() + 10
    while not pds.list_records(acct.did) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [r["value"]["text"] for r in pds.list_records(acct.did)] == ["cut off"]
    with pds.login(acct, base_url=pds_proxy.url) as client:
        _post(client, acct.did, "after")
    assert pds_proxy.count("com.atproto.repo.createRecord") == 2
