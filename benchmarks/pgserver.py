"""A throwaway Postgres server for the soak: a cluster of its own in a temp dir, on a free
loopback port, that can crash (immediate shutdown: no checkpoint, connections cut) and come back.

Debian's server binaries (scripts/postgres.sh installs them; the test suite needs them too).
As root, initdb and postgres run as the `postgres` user, as scripts/postgres.sh does.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bindir() -> Path:
    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(found, "pg_ctl").exists():
            return Path(found)
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).resolve().parent
    raise RuntimeError("no Postgres server binaries: run `bash scripts/postgres.sh` once")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    """`with ThrowawayPostgres() as pg:` pg.url (SQLAlchemy), pg.crash(), pg.start()."""

    def __init__(self) -> None:
        self.bin = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="bwr-soak-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.crashes = 0
        self._as_pg: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            self._as_pg = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_pg, *args], check=True, capture_output=True, timeout=120,
                       stdin=subprocess.DEVNULL)

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--locale=C")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.root}'\nfsync = off\n"
                       "synchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 200\n")

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "start")

    def crash(self) -> None:
        """Immediate shutdown: every connection is cut, no checkpoint (crash recovery at the
        next start), as when the host or the server process dies."""
        self.crashes += 1
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                  "stop")

    def stop(self) -> None:
        subprocess.run([*self._as_pg, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m",
                        "fast", "-w", "stop"], capture_output=True, timeout=120,
                       stdin=subprocess.DEVNULL)

    def __enter__(self) -> ThrowawayPostgres:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
