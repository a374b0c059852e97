"""The local reference PDS for the benchmarks, started the way the tests start it (tests/pds).

Reuses tests/fixtures_pds.py (the `Pds` handle: accounts, app passwords, read-back; finding Node
through PDS_NODE/PDS_DIR or tests/pds/install.sh), without pytest's fixture machinery. The PDS
listens on 127.0.0.1 only; it is stopped (stdin closed, then signals) when the block ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.common import ROOT, from_tests, log

START_TIMEOUT = 120.0


def _fixtures() -> Any:
    return from_tests("fixtures_pds")  # tests/fixtures_pds.py (needs pytest, which the venv has)


def _node_and_dir() -> tuple[str, Path]:
    node, pds_dir = os.environ.get("PDS_NODE"), os.environ.get("PDS_DIR")
    if node and pds_dir and Path(node).is_file():
        return node, Path(pds_dir)
    log("PDS_NODE/PDS_DIR not set: running tests/pds/install.sh (fast when already installed)")
    done = subprocess.run(
        ["bash", str(ROOT / "tests" / "pds" / "install.sh")],
        capture_output=True, text=True, timeout=1200, stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError("tests/pds/install.sh failed:\n" + done.stderr[-3000:])
    found = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return found["PDS_NODE"], Path(found["PDS_DIR"])


def existing_pds(url: str) -> Any:
    """A Pds handle for a test PDS already running at `url` (loopback only): the benchmarks
    make their own accounts on it, so its first account is not needed."""
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"--pds-url must be a loopback address, not {host}")
    return _fixtures().Pds(url=url.rstrip("/"), did="", handle="", password="", app_password="")


@contextmanager
def running_pds() -> Iterator[Any]:
    """`with running_pds() as pds:` a fixtures_pds.Pds (url, first account, new_account())."""
    fx = _fixtures()
    node, pds_dir = _node_and_dir()
    with tempfile.TemporaryDirectory(prefix="bwr-bench-pds-") as work:
        log_path = Path(work) / "pds.log"
        with log_path.open("wb") as pds_log:
            proc = subprocess.Popen(
                [node, str(pds_dir / "start.mjs"), "--handle", "alice.test"],  # free ports
                cwd=pds_dir,
                stdin=subprocess.PIPE,  # start.mjs exits when this closes
                stdout=subprocess.PIPE,
                stderr=pds_log,
                env={**os.environ, "TMPDIR": work, "LOG_ENABLED": "false"},
            )
        try:
            line: list[bytes] = []
            assert proc.stdout is not None
            reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()),
                                      daemon=True)
            reader.start()
            started = time.monotonic()
            reader.join(START_TIMEOUT)
            ready = json.loads(line[0]) if line and line[0].strip() else None
            deadline = started + START_TIMEOUT
            if not isinstance(ready, dict) or not fx._wait_healthy(ready["url"], proc, deadline):
                raise RuntimeError(
                    f"the PDS did not start (exit code {proc.poll()}); its log:\n"
                    + fx._tail(log_path)
                )
            log(f"PDS ready at {ready['url']} in {time.monotonic() - started:.1f} s")
            yield fx.Pds(
                url=ready["url"], did=ready["did"], handle=ready["handle"],
                password=ready["password"], app_password=ready["app_password"],
                plc_url=ready.get("plc_url", ""),
            )
        finally:
            fx._stop(proc)
