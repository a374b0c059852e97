"""When each bot of a large daemon is next due: spread over the interval, never all at once.

Each bot's checks fall on its own **stable offset** within its interval (from a hash of its
name: the same in every daemon and after a restart), so 10,000 bots on a 30 s interval are about
333 checks a second instead of 10,000 every 30 s; and a daemon that takes over a bot checks it on
the slot the previous holder used, so no bot is checked twice in one interval. A bot whose feed
fails waits its own backoff (bot.service.daemon.BotRunner) without moving the others. Times are
seconds of `time.time()`.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools


@functools.lru_cache(maxsize=1 << 16)  # asked after every check: a hash per bot, once
def offset(name: str, interval: float) -> float:
    """The bot's stable place in its interval, in [0, interval)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * interval


def next_slot(name: str, interval: float, now: float) -> float:
    """The first of the bot's slots strictly after `now`."""
    phase = (offset(name, interval) - now) % interval
    return now + (phase if phase > 0 else interval)


class Schedule:
    """A heap of (when, bot); a bot is in it at most once (popped while it is being checked)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._when: dict[str, float] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._when)

    def __contains__(self, name: object) -> bool:
        return name in self._when

    def at(self, name: str, when: float) -> None:
        """Bot `name` is next due at `when` (replacing any earlier plan)."""
        self._when[name] = when
        heapq.heappush(self._heap, (when, next(self._seq), name))

    def remove(self, name: str) -> None:
        self._when.pop(name, None)  # its heap entry is skipped when it surfaces

    def when(self, name: str) -> float | None:
        return self._when.get(name)

    def due(self, now: float, limit: int | None = None) -> list[tuple[str, float]]:
        """Pops the bots due by `now` (at most `limit`), each with the time it was due."""
        out: list[tuple[str, float]] = []
        heap = self._heap
        while heap and heap[0][0] <= now and (limit is None or len(out) < limit):
            when, _, name = heapq.heappop(heap)
            if self._when.get(name) != when:
                continue  # replaced or removed
            del self._when[name]
            out.append((name, when))
        return out

    def next_time(self) -> float | None:
        """When the next bot is due (None when none is scheduled)."""
        heap = self._heap
        while heap and self._when.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None
