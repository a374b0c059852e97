"""What the card fetcher learnt, by URL: a page's card fields or a fitted image, and failures.

Kept in memory and, when a folder is given, on disk (one JSON file per URL, and the image's
bytes beside it), so `preview`, a retry and `post` — even in a new process — don't fetch again.
Found data is kept a day, failures an hour (a page that was down may be back). The folder and its
files are the owner's only (0700 / 0600): they record which links the bot reads.

A daemon keeps its cache for months: at most once an hour, entries past their time leave memory
(which also keeps at most MEMORY_ENTRIES, the newest) and files past a day leave the folder, so
neither grows with every link the bot ever read."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.log import event
from bot.settings import private_dir

logger = logging.getLogger("bot.cards")

DAY = 86_400.0
HOUR = 3_600.0

Entry = tuple[dict[str, Any], bytes | None]
MEMORY_ENTRIES = 256  # pages and images of the last few issues: what a retry or `post` reuses


class CardCache:
    def __init__(
        self,
        folder: Path | None,
        *,
        ttl: float = DAY,
        failure_ttl: float = HOUR,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.folder = Path(folder) if folder is not None else None
        if self.folder is not None:
            private_dir(self.folder)  # 0700, and so is each missing parent it makes
            os.chmod(self.folder, 0o700)  # also when it was made before, by someone less careful
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self.clock = clock
        self._memory: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self._pruned = clock()

    def get(self, key: str) -> Entry | None:
        """The fresh entry for `key` (a `failed` one is a remembered failure), or None."""
        with self._lock:
            found = self._memory.get(key)
        path = self._path(key)
        if found is None and path is not None:
            try:
                meta = json.loads(path.with_suffix(".json").read_text("utf-8"))
                data = path.with_suffix(".bin").read_bytes() if "mime" in meta else None
                found = (meta, data)
            except (OSError, ValueError):
                return None  # absent or half-written: fetch again
        if found is None:
            return None
        ttl = self.failure_ttl if "failed" in found[0] else self.ttl
        if self.clock() - float(found[0].get("at", 0)) > ttl:
            with self._lock:
                self._memory.pop(key, None)
            return None
        with self._lock:
            self._memory[key] = found
        return found

    def put(self, key: str, meta: dict[str, Any], data: bytes | None = None) -> None:
        meta = {**meta, "key": key, "at": self.clock()}
        with self._lock:
            self._memory[key] = (meta, data)
        self._prune()
        path = self._path(key)
        if path is None:
            return
        try:  # the bytes first, then the JSON that points at them; each written atomically
            if data is not None:
                _write(path.with_suffix(".bin"), data)
            _write(path.with_suffix(".json"), json.dumps(meta).encode("utf-8"))
        except OSError as exc:
            event(logger, "card.cache_failed", logging.WARNING, key=key, reason=str(exc))

    def _expired(self, meta: dict[str, Any], now: float) -> bool:
        ttl = self.failure_ttl if "failed" in meta else self.ttl
        return now - float(meta.get("at", 0)) > ttl

    def _prune(self) -> None:
        """At most once an hour: forget what has expired, in memory and on disk."""
        now = self.clock()
        with self._lock:
            if now - self._pruned < HOUR and len(self._memory) <= MEMORY_ENTRIES:
                return
            self._pruned = now
            fresh = sorted(((k, e) for k, e in self._memory.items()
                            if not self._expired(e[0], now)),
                           key=lambda item: float(item[1][0].get("at", 0)))
            self._memory = dict(fresh[-MEMORY_ENTRIES:])
        if self.folder is None:
            return
        removed = 0
        for path in self.folder.iterdir():
            try:  # a file older than the longest time anything is kept: nothing reads it again
                if now - path.stat().st_mtime > max(self.ttl, self.failure_ttl):
                    path.unlink()
                    removed += 1
            except OSError:
                continue  # gone meanwhile (another process pruning), or not ours to remove
        if removed:
            event(logger, "card.cache_pruned", files=removed)

    def _path(self, key: str) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / hashlib.sha256(key.encode("utf-8")).hexdigest()


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
