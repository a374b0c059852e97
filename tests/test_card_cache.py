"""The card cache of a daemon that runs for months stays bounded: memory keeps the newest
entries only, and files past their time leave the folder (a real folder; the cache's clock is
moved by the test)."""

from __future__ import annotations

import time

from bot.cards.cache import DAY, HOUR, MEMORY_ENTRIES, CardCache


def test_memory_keeps_the_newest_entries_and_the_rest_is_still_on_disk(tmp_path):
    now = [time.time()]
    cache = CardCache(tmp_path / "cache", clock=lambda: now[0])
    for n in range(MEMORY_ENTRIES + 50):
        now[0] += 1
        cache.put(f"https://example.org/p/{n}", {"title": f"page {n}", "mime": "image/jpeg"},
                  b"\xff\xd8" + bytes(1000))
    assert len(cache._memory) <= MEMORY_ENTRIES
    assert "https://example.org/p/0" not in cache._memory
    # Forgotten by memory, not by the cache: a new process (or this one) reads it from disk.
    meta, data = cache.get("https://example.org/p/0")
    assert meta["title"] == "page 0" and data is not None and len(data) == 1002


def test_files_past_their_time_leave_the_folder(tmp_path):
    now = [time.time()]
    folder = tmp_path / "cache"
    cache = CardCache(folder, clock=lambda: now[0])
    for n in range(20):
        cache.put(f"https://example.org/p/{n}", {"title": f"page {n}"})
    cache.put("https://example.org/down", {"failed": "HTTP 503"})
    assert len(list(folder.iterdir())) == 21
    now[0] += DAY + HOUR + 1  # a day on
    cache.put("https://example.org/p/new", {"title": "new"})
    assert [p.name for p in folder.iterdir()] == [cache._path("https://example.org/p/new").name
                                                  + ".json"]
    assert cache.get("https://example.org/p/3") is None
    assert cache.get("https://example.org/p/new")[0]["title"] == "new"
    assert len(cache._memory) == 1
