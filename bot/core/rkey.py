"""Record keys decided before anything is sent: deterministic TIDs for the posts of a thread.

Exactly-once rests on this: a post's identity on Bluesky (its record key) is a pure function of
the issue and the post's place in the thread, so a rerun after a crash addresses the very same
records and the PDS can tell us what already exists.

A TID is a 64-bit number written in 13 base32-sortable characters: the top bit 0, then 53 bits
of microseconds since the Unix epoch, then a 10-bit clock id
(https://atproto.com/specs/record-key#record-key-type-tid). Our choice of the parts:

- timestamp = the issue's `published` time (UTC; naive means UTC) in microseconds
  + generation x 10,000 us + part x 1,000 us + the post's place. Keys so grow strictly along
  the thread, and the TID order on the account follows the order the issues were published in.
  `part` numbers the threads of one issue (0, then 1 when quick bites get a thread of their own).
  An issue without a date gets a fixed point in 2020-2024 chosen by a hash of its guid.
  A date past what a TID holds (~2255) is taken as that end, so no date can make keys fail
  (the service clamps feed dates to a sane window before they get here: bot.core.news).
- clock id = 10 bits of SHA-256(guid, generation). Two issues published in the same microsecond
  still differ unless their hashes collide too (1 in 1024); feeds give dates to the second.
- generation > 0 (`post --force`) moves the whole thread to a fresh block of keys, so a forced
  repost never collides with the first thread. At most 10 parts of at most 1,000 posts each.

Pure: no clock, no randomness, no I/O.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_LENGTH = 13
FIRST_CHARS = ALPHABET[:16]  # the top bit is 0
PART_SPAN_US = 1_000  # room for this many posts per thread
PARTS = 10  # threads per issue and generation
GENERATION_SPAN_US = PART_SPAN_US * PARTS
MAX_POSTS = PART_SPAN_US
_MAX_TIMESTAMP = (1 << 53) - 1
# The latest base: room above it for 1,000 generations of keys.
_MAX_BASE = _MAX_TIMESTAMP - 1_000 * GENERATION_SPAN_US
_UNDATED_BASE_US = 1_577_836_800_000_000  # 2020-01-01T00:00:00Z
_UNDATED_RANGE_US = 5 * 365 * 86_400 * 1_000_000


def encode_tid(timestamp_us: int, clock_id: int) -> str:
    """The TID for a microsecond timestamp (0..2^53-1) and a clock id (0..1023)."""
    if not 0 <= timestamp_us <= _MAX_TIMESTAMP:
        raise ValueError(f"TID timestamp out of range: {timestamp_us}")
    if not 0 <= clock_id < 1024:
        raise ValueError(f"TID clock id out of range: {clock_id}")
    value = (timestamp_us << 10) | clock_id
    chars = []
    for _ in range(TID_LENGTH):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def decode_tid(tid: str) -> tuple[int, int]:
    """(timestamp in microseconds, clock id) of a TID; ValueError if it is not one."""
    if not is_tid(tid):
        raise ValueError(f"not a TID: {tid!r}")
    value = 0
    for c in tid:
        value = (value << 5) | ALPHABET.index(c)
    return value >> 10, value & 1023


def is_tid(text: str) -> bool:
    """True when `text` is a syntactically valid TID (what the PDS accepts as a record key)."""
    return (
        len(text) == TID_LENGTH
        and text[0] in FIRST_CHARS
        and all(c in ALPHABET for c in text)
    )


def _digest(guid: str, generation: int) -> bytes:
    return hashlib.sha256(f"{generation}\x00{guid}".encode()).digest()


def _base_timestamp(guid: str, published: datetime | None) -> int:
    if published is None:
        offset = int.from_bytes(hashlib.sha256(guid.encode()).digest()[:8], "big")
        return _UNDATED_BASE_US + offset % _UNDATED_RANGE_US
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    delta = published - datetime(1970, 1, 1, tzinfo=UTC)
    # Exact integer microseconds: float timestamps lose the last digit for modern dates.
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return min(max(micros, 0), _MAX_BASE)


def _check(count: int, part: int) -> None:
    if count < 0 or count > MAX_POSTS:
        raise ValueError(f"a thread has 0..{MAX_POSTS} posts, not {count}")
    if not 0 <= part < PARTS:
        raise ValueError(f"part must be 0..{PARTS - 1}, not {part}")


def thread_keys(
    guid: str, published: datetime | None, count: int, generation: int = 0, part: int = 0
) -> list[str]:
    """The record keys of a thread's `count` posts, root first: valid TIDs, strictly increasing,
    the same on every run for the same issue, generation and part."""
    _check(count, part)
    if generation < 0:
        raise ValueError(f"generation must be >= 0, not {generation}")
    start = min(
        _base_timestamp(guid, published) + generation * GENERATION_SPAN_US + part * PART_SPAN_US,
        _MAX_TIMESTAMP - MAX_POSTS,
    )
    clock_id = int.from_bytes(_digest(guid, generation)[:2], "big") & 1023
    return [encode_tid(start + place, clock_id) for place in range(count)]


def keys_from_root(root: str, count: int, part: int = 0) -> list[str]:
    """The keys `thread_keys` gave part `part` of the thread whose first post (part 0, place 0)
    has the key `root`. Once posts of a thread are on record its keys follow from them, not
    from the issue's date now: a date edited after a crash must not move a half-recorded
    thread to new keys (a second thread)."""
    _check(count, part)
    timestamp, clock_id = decode_tid(root)
    start = min(timestamp + part * PART_SPAN_US, _MAX_TIMESTAMP - MAX_POSTS)
    return [encode_tid(start + place, clock_id) for place in range(count)]
